#!/usr/bin/python3
"""Pictures of paper 004's digit study from the files `ima` writes (docs/ima.md).

    build/ima --seeds 0,1,2 --out ima.json --pictures pictures/
    python3 tools/ima_plots.py --json ima.json --pictures pictures/

writes into the pictures folder:
  ima_tsne.png       t-SNE (perplexity 10, as the paper) of the first seed's test representations
                     at the largest d: image-only u_image, speech-only u_speech, the unweighted
                     and the importance-weighted multimodal z; colour = digit, grey = the side of
                     the pair is noise (image noise for u_image, speech noise for u_speech, any
                     noise for z), as the paper's Figures 2 and 4
  ima_importance.png the same t-SNE of u_image and u_speech coloured by the learnt importance
                     y (red = low = taken for noise), as Figure 2 (b, d)
  ima_rho_sweep.png  precision, recall and F1 of "is noise" per modality against rho (Figure 6),
                     validation split, mean over seeds, with the test F1 dashed
Needs Debian's python3-numpy, python3-matplotlib and python3-sklearn (tools/setup.sh installs them).
"""
import argparse
import csv
import json
import os
import sys


def need(module, package):
    try:
        return __import__(module)
    except ImportError:
        sys.exit(f"ima_plots.py: needs {package} (apt-get install {package}; run with /usr/bin/python3)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True, help="the results JSON of ima --out")
    ap.add_argument("--pictures", required=True, help="the folder of ima --pictures (holds ima_embeddings.csv)")
    ap.add_argument("--max-points", type=int, default=1649, help="t-SNE on at most this many test pairs")
    args = ap.parse_args()
    np = need("numpy", "python3-numpy")
    need("matplotlib", "python3-matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    need("sklearn", "python3-sklearn")
    from sklearn.manifold import TSNE

    try:
        with open(args.json) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"ima_plots.py: --json {args.json}: cannot read the results JSON: {e}")
    emb_path = os.path.join(args.pictures, "ima_embeddings.csv")
    if not os.path.isfile(emb_path):
        sys.exit(f"ima_plots.py: --pictures: {emb_path} is missing: run ima with --pictures {args.pictures} first")

    reps = {}
    with open(emb_path) as f:
        for row in csv.DictReader(f):
            r = reps.setdefault(row["representation"], {"label": [], "kind": [], "y": [], "z": []})
            r["label"].append(int(row["label"]))
            r["kind"].append(row["kind"])
            r["y"].append((float(row["y_image"]), float(row["y_speech"])))
            r["z"].append([float(v) for k, v in row.items() if k.startswith("z")])
    colours = ["#e6194b", "#3cb44b", "#4363d8", "#911eb4", "#f58231", "#42d4f4", "#ffe119", "#f032e6", "#808000",
               "#000000"]  # the paper's Figure 4 order: red green blue purple orange cyan yellow magenta olive black
    panels = [("image", "image only (u_image)", "image_noise"), ("speech", "speech only (u_speech)", "speech_noise"),
              ("unweighted", "multimodal, unweighted", None), ("weighted", "multimodal, importance-weighted", None)]
    panels = [p for p in panels if p[0] in reps]
    tsne = {}
    for name, _, _ in panels:
        z = np.array(reps[name]["z"])[: args.max_points]
        tsne[name] = z if z.shape[1] == 2 else TSNE(n_components=2, perplexity=10.0, init="pca", random_state=0,
                                                     learning_rate="auto").fit_transform(z)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5))
    for ax, (name, title, noise_kind) in zip(np.atleast_1d(axes), panels):
        p = tsne[name]
        lab = np.array(reps[name]["label"])[: len(p)]
        kind = np.array(reps[name]["kind"])[: len(p)]
        grey = kind == noise_kind if noise_kind else kind != "matched"
        ax.scatter(p[grey, 0], p[grey, 1], s=4, c="#b0b0b0", label="noise")
        for c in range(10):
            m = (lab == c) & ~grey
            ax.scatter(p[m, 0], p[m, 1], s=4, c=colours[c], label=str(c))
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    np.atleast_1d(axes)[-1].legend(markerscale=3, fontsize=7, loc="best")
    d = len(reps[panels[0][0]]["z"][0])
    fig.suptitle(f"IMA test representations (d = {d}{', t-SNE perplexity 10' if d > 2 else ''}); grey = noise")
    fig.tight_layout()
    out = os.path.join(args.pictures, "ima_tsne.png")
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")

    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, (name, j, noise_kind) in zip(axes, [("image", 0, "image_noise"), ("speech", 1, "speech_noise")]):
        if name not in tsne:
            continue
        p = tsne[name]
        y = np.array([t[j] for t in reps[name]["y"]])[: len(p)]
        sc = ax.scatter(p[:, 0], p[:, 1], s=4, c=y, cmap="coolwarm_r", vmin=0, vmax=1)
        kind = np.array(reps[name]["kind"])[: len(p)]
        ax.set_title(f"u_{name} coloured by y_{name} (noise pairs: {int((kind == noise_kind).sum())})")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(sc, ax=ax, label="importance y (red: low = noise)")
    fig.tight_layout()
    out = os.path.join(args.pictures, "ima_importance.png")
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")

    sweep = res.get("rho_sweep", [])
    if sweep:
        rho = [s["rho"] for s in sweep]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, mod in zip(axes, ["image", "speech"]):
            for k, c in [("precision", "tab:blue"), ("recall", "tab:orange"), ("f1", "tab:green")]:
                ax.plot(rho, [s[mod][f"valid_{k}"]["mean"] for s in sweep], "o-", c=c, label=f"{k} (valid)")
            ax.plot(rho, [s[mod]["test_f1"]["mean"] for s in sweep], "s--", c="tab:green", alpha=0.6, label="F1 (test)")
            ax.set_title(f"{mod}: 'is noise' vs rho")
            ax.set_xlabel("rho")
            ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=8)
        fig.tight_layout()
        out = os.path.join(args.pictures, "ima_rho_sweep.png")
        fig.savefig(out, dpi=90)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
