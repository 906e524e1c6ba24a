// examples/mmim.cpp: MMIM (paper 003; models/mmim.h, examples/harness/mmim_task.h,
// docs/mmim.md) on the harness: two-stage training per epoch (Algorithm 1), selection on the
// validation split only, the test split scored once per run.
//
//   mmim --quick                          # a few minutes on 2 cores (480/100/200 rows, batch 16, 5 epochs, seeds 0,1)
//   mmim --seeds 0,1,2,3,4 --out r.json   # the full reviews corpus, 40 epochs
//   mmim --bert DIR                       # any Hugging Face BERT folder (config.json + model.safetensors)
//
// Data: --corpus reviews-unaligned (the default here) or --data FILE.h5 with the modalities
// text_bert [N, L, 3] (token ids, attention mask, segment ids), acoustic and visual (own
// lengths). Corpora without word pieces (the synthetic one) use an LSTM text encoder over
// `text` (--text-encoder lstm, chosen by the default auto); asking for BERT there is an error.
//   mmim --corpus synthetic --quick --case-study 8   # do the CPC scores follow the modality that carries the signal?
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "examples/common/cli.h"
#include "examples/harness/bert_pretrain.h"
#include "examples/harness/harness.h"
#include "examples/harness/mmim_task.h"
#include "models/mmim.h"

namespace mmim {

struct Options : fg::harness::HarnessOptions {
  Options() {
    program = "mmim";
    corpus = "reviews-unaligned";
    epochs = 40;
    lr = 1e-3;
    clip = 1.0;
    weight_decay = 1e-4;
  }
  std::string bert;  // "" = the cached pretrained small BERT
  std::string cache = "data/cache", text_dir = "data/cache/text-sources";
  double alpha = 0.1, beta = 0.1, lr_bert = 5e-5, lr_lld = 1e-3;
  int memory = 1;
  std::int64_t rnn_hidden = 16, encoder_out = 16, fusion_dim = 128;
  double dropout = 0.1;
  std::string lld_form = "paper";  // paper | code
  std::string split = "paper";     // paper (>= 0 vs < 0) | code (zeros dropped)
  std::string cpc = "code";        // code | paper
  std::string text_encoder = "auto";  // auto (bert where the corpus has text_bert, else lstm) | bert | lstm
  std::int64_t text_hidden = 32;      // the LSTM text encoder's width
  std::int64_t stage1_batches = 0;
  std::int64_t limit_train = 0, limit_valid = 0, limit_test = 0;
  std::vector<std::string> ablate;  // terms removed from the single run
  bool ablations = false;           // the full model and every ablation row, one table
  std::string trace;                // loss-trace SVG (Figure 2's analogue)
  std::int64_t trace_every = 20;
  std::int64_t case_study = 0;      // Table 5's analogue: this many test utterances
  bool quick = false;
};

// Figure 2's analogue: L_task (l1), L_BA (ba) and L_CPC (cpc) of the first run, averaged
// every `every` steps, one panel per term (own y scale), epoch boundaries dotted and the best
// epoch shaded.
std::string trace_svg(const std::vector<std::map<std::string, double>>& steps, std::int64_t every,
                      std::int64_t steps_per_epoch, std::int64_t best_epoch, const std::string& title) {
  const std::vector<std::string> keys = {"l1", "ba", "cpc"};
  const std::vector<std::string> labels = {"L_task (L1)", "L_BA = -(lld + H)", "L_CPC"};
  const double W = 720, H = 180, left = 70, right = 20, top = 30;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"18\" font-size=\"13\">{}</text>\n",
      W, top + 3 * (H + 20), left, title);
  const auto n = static_cast<std::int64_t>(steps.size());
  const std::int64_t points = (n + every - 1) / every;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    std::vector<double> avg;
    for (std::int64_t p = 0; p < points; ++p) {
      double sum = 0;
      std::int64_t c = 0;
      for (std::int64_t i = p * every; i < std::min(n, (p + 1) * every); ++i)
        if (steps[static_cast<std::size_t>(i)].count(keys[k])) sum += steps[static_cast<std::size_t>(i)].at(keys[k]), ++c;
      avg.push_back(c ? sum / static_cast<double>(c) : 0.0);
    }
    const double y0 = top + static_cast<double>(k) * (H + 20);
    double lo = avg.empty() ? 0 : *std::min_element(avg.begin(), avg.end());
    double hi = avg.empty() ? 1 : *std::max_element(avg.begin(), avg.end());
    if (hi - lo < 1e-12) hi = lo + 1;
    auto X = [&](double step) { return left + (W - left - right) * step / std::max<double>(1, static_cast<double>(n)); };
    auto Y = [&](double v) { return y0 + H - (v - lo) / (hi - lo) * H; };
    if (best_epoch > 0 && steps_per_epoch > 0)
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"#fde9c8\"/>\n",
                         X(static_cast<double>((best_epoch - 1) * steps_per_epoch)), y0,
                         X(static_cast<double>(best_epoch * steps_per_epoch)) -
                             X(static_cast<double>((best_epoch - 1) * steps_per_epoch)),
                         H);
    for (std::int64_t e = 1; steps_per_epoch > 0 && e * steps_per_epoch < n; ++e)
      svg += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#bbb\" "
                         "stroke-dasharray=\"2,3\"/>\n",
                         X(static_cast<double>(e * steps_per_epoch)), y0, y0 + H);
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left,
                       y0, W - left - right, H);
    std::string pts;
    for (std::int64_t p = 0; p < points; ++p)
      pts += fmt::format("{:.1f},{:.1f} ", X(static_cast<double>(std::min(n, (p + 1) * every))), Y(avg[static_cast<std::size_t>(p)]));
    svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\"/>\n", pts);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}</text>\n", left + 6, y0 + 13, labels[k]);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.3g}</text>\n", left - 4, y0 + 10, hi);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.3g}</text>\n", left - 4, y0 + H, lo);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\">step (mean of every {} steps; dotted: epochs; shaded: the best "
                     "epoch on valid MAE)</text>\n</svg>\n",
                     left, top + 3 * (H + 20) - 4, every);
  return svg;
}

// Table 4's rows as flags (docs/mmim.md): name -> what it removes or replaces. The BA rows
// set the pairs in use (default t->v + t->a): no-ba-ta = the paper's I_BA^{t,v} alone,
// no-ba-tv = I_BA^{t,a} alone, ba-va = I_BA^{v,a} alone, ba-ta+va, ba-tv+va, ba-all (all three),
// no-ba = "None".
const std::vector<std::pair<std::string, std::string>> kAblations = {
    {"no-ba-tv", "BA bound text->visual (t->a alone)"},
    {"no-ba-ta", "BA bound text->acoustic (t->v alone)"},
    {"ba-va", "both BA pairs replaced by visual->acoustic"},
    {"ba-ta+va", "t->v replaced by v->a (t->a + v->a)"},
    {"ba-tv+va", "t->a replaced by v->a (t->v + v->a)"},
    {"ba-all", "v->a added (t->v + t->a + v->a)"},
    {"no-ba", "both BA bounds"},
    {"no-cpc-t", "CPC z->text"},
    {"no-cpc-a", "CPC z->acoustic"},
    {"no-cpc-v", "CPC z->visual"},
    {"no-cpc", "all CPC terms"},
    {"no-memory", "the GMM history memory (--memory 0)"},
    {"single-gaussian", "the GMM (one Gaussian over all rows)"}};

void apply_ablation(const std::string& a, fg::models::MmimConfig& c) {
  if (a == "no-ba-tv" || a == "no-ba" || a == "ba-va" || a == "ba-ta+va") c.use_ba_tv = false;
  if (a == "no-ba-ta" || a == "no-ba" || a == "ba-va" || a == "ba-tv+va") c.use_ba_ta = false;
  if (a == "ba-va" || a == "ba-ta+va" || a == "ba-tv+va" || a == "ba-all") c.use_ba_va = true;
  if (a == "no-cpc-t" || a == "no-cpc") c.use_cpc_t = false;
  if (a == "no-cpc-a" || a == "no-cpc") c.use_cpc_a = false;
  if (a == "no-cpc-v" || a == "no-cpc") c.use_cpc_v = false;
  if (a == "no-memory") c.memory_batches = 0;
  if (a == "single-gaussian") c.single_gaussian = true;
}

void add_flags(CLI::App& app, Options& o) {
  app.description(
      "MMIM (Han et al. 2021): BERT [CLS] + LSTM encoders over unaligned acoustic/visual sequences, fusion to Z, "
      "Barber-Agakov bounds text->visual/acoustic with a GMM entropy and history memory, CPC between Z and each "
      "modality; Algorithm 1's two stages per epoch. Reviews corpus (unaligned) by default.");
  fg::harness::add_harness_flags(app, o);
  using fg::cli::finite_range;
  using fg::cli::int_range;
  app.add_option("--bert", o.bert, "Hugging Face BERT folder (default: the cached pretrained small BERT, "
                                   "data/cache/pretrained-bert, built on first use)");
  app.add_option("--alpha", o.alpha, "Weight of L_CPC in L_main")->check(finite_range(0, 100))->capture_default_str();
  app.add_option("--beta", o.beta, "Weight of L_BA in L_main")->check(finite_range(0, 100))->capture_default_str();
  app.add_option("--lr-bert", o.lr_bert, "BERT's learning rate (stage 2)")->check(finite_range(0, 1))->capture_default_str();
  app.add_option("--lr-lld", o.lr_lld, "The predictors' learning rate (stage 1)")
      ->check(finite_range(1e-12, 1))
      ->capture_default_str();
  app.add_option("--memory", o.memory, "GMM history memory in batches (0: current batch only)")
      ->check(int_range(0, 1000))
      ->capture_default_str();
  app.add_option("--rnn-hidden", o.rnn_hidden, "Acoustic/visual LSTM width")->check(int_range(1, 4096))->capture_default_str();
  app.add_option("--encoder-out", o.encoder_out, "Acoustic/visual encoding width (>= 4)")
      ->check(int_range(4, 4096))
      ->capture_default_str();
  app.add_option("--fusion-dim", o.fusion_dim, "Width of Z")->check(int_range(1, 4096))->capture_default_str();
  app.add_option("--dropout", o.dropout, "Encoder and fusion dropout")->check(finite_range(0, 0.95))->capture_default_str();
  app.add_option("--lld-form", o.lld_form, "paper: log-density with log sigma; code: the authors' form without it")
      ->check(CLI::IsMember({"paper", "code"}))
      ->capture_default_str();
  app.add_option("--split", o.split, "GMM classes: paper (>= 0 vs < 0) or code (> 0 vs < 0, zeros dropped)")
      ->check(CLI::IsMember({"paper", "code"}))
      ->capture_default_str();
  app.add_option("--cpc", o.cpc, "CPC normalisation: code (over predictions) or paper (over modality vectors, eq. 11)")
      ->check(CLI::IsMember({"code", "paper"}))
      ->capture_default_str();
  app.add_option("--text-encoder", o.text_encoder,
                 "Text encoder: bert (BERT [CLS] over the word pieces text_bert), lstm (an LSTM over the text "
                 "feature sequence, for corpora without word pieces such as --corpus synthetic) or auto (bert "
                 "where the corpus has text_bert, else lstm)")
      ->check(CLI::IsMember({"auto", "bert", "lstm"}))
      ->capture_default_str();
  app.add_option("--text-hidden", o.text_hidden, "Width of the LSTM text encoder (and of h_t with it)")
      ->check(int_range(1, 4096))
      ->capture_default_str();
  app.add_option("--stage1-batches", o.stage1_batches, "Batches of stage 1 per epoch (D_sub; 0 = all)")
      ->check(int_range(0, 1'000'000))
      ->capture_default_str();
  app.add_option("--limit-train", o.limit_train, "Use a random subset of this many training rows (0 = all)")
      ->check(int_range(0, 10'000'000));
  app.add_option("--limit-valid", o.limit_valid, "... valid rows (0 = all)")->check(int_range(0, 10'000'000));
  app.add_option("--limit-test", o.limit_test, "... test rows (0 = all)")->check(int_range(0, 10'000'000));
  std::string names;
  for (const auto& [k, v] : kAblations) names += (names.empty() ? "" : ", ") + k + " (" + v + ")";
  fg::cli::add_list(app, "--ablate", o.ablate, "Table 4's rows: remove or replace terms of the model: " + names);
  app.add_flag("--ablations", o.ablations, "Train the full model and every --ablate row above; one table");
  app.add_option("--trace", o.trace, "Loss-trace SVG of the first run (L_task, L_BA, L_CPC; Figure 2's analogue)");
  app.add_option("--trace-every", o.trace_every, "Steps averaged per trace point")
      ->check(int_range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--case-study", o.case_study,
                 "After training, print this many test utterances (spread over the label range) with the first "
                 "run's prediction and CPC scores s_zt, s_za, s_zv (Table 5's analogue)")
      ->check(int_range(0, 1000));
  app.add_flag("--quick", o.quick,
               "Small settings for a few minutes on 2 cores: 480/100/200 rows, batch 16, 5 epochs, seeds 0,1 (flags given win)");
}

void validate(CLI::App& app, Options& o) {
  if (o.quick) {
    if (!app.count("--epochs")) o.epochs = 5;
    if (!app.count("--batch-size")) o.batch_size = 16;
    if (!app.count("--limit-train")) o.limit_train = 480;
    if (!app.count("--limit-valid")) o.limit_valid = 100;
    if (!app.count("--limit-test")) o.limit_test = 200;
    if (!app.count("--seeds")) o.seeds = {0, 1};
  }
  if (o.data.empty() && o.corpus == "synthetic" && o.text_encoder == "bert")
    throw fg::cli::UsageError(
        "--text-encoder bert: the synthetic corpus has no BERT word pieces (text_bert); use --text-encoder lstm "
        "(or auto) there, or --corpus reviews-unaligned");
  if (o.text_encoder == "lstm" && !o.bert.empty())
    throw fg::cli::UsageError("--bert: given with --text-encoder lstm, which uses no BERT");
  for (const auto& a : o.ablate)
    if (std::none_of(kAblations.begin(), kAblations.end(), [&](const auto& p) { return p.first == a; }))
      throw fg::cli::UsageError(fmt::format("--ablate: unknown term '{}' (known: {})", a, [] {
        std::vector<std::string> k;
        for (const auto& p : kAblations) k.push_back(p.first);
        return fg::cli::join(k);
      }()));
  if (o.ablations && !o.ablate.empty()) throw fg::cli::UsageError("--ablations and --ablate: give one of them");
  fg::harness::check_harness_flags(o);
  if (!o.trace.empty()) fg::cli::check_output_flag(o.trace, "--trace");
}

// A random subset of n rows of a split (rows kept in their order): data/batching.h.
fg::data::MultimodalSplit subset(const fg::data::MultimodalSplit& s, std::int64_t n, std::uint64_t seed) {
  return fg::data::random_subset(s, n, seed);
}

nlohmann::json options_json(const Options& o, const std::string& bert_dir) {
  return {{"seeds", fg::harness::run_seeds(o)}, {"epochs", o.epochs},       {"batch_size", o.batch_size},
          {"lr", o.lr},                         {"lr_bert", o.lr_bert},     {"lr_lld", o.lr_lld},
          {"weight_decay", o.weight_decay},     {"clip", o.clip},           {"alpha", o.alpha},
          {"beta", o.beta},                     {"memory", o.memory},       {"lld_form", o.lld_form},
          {"split", o.split},                   {"cpc", o.cpc},             {"rnn_hidden", o.rnn_hidden},
          {"encoder_out", o.encoder_out},       {"fusion_dim", o.fusion_dim}, {"dropout", o.dropout},
          {"stage1_batches", o.stage1_batches}, {"bert", bert_dir},         {"corpus", o.corpus},
          {"data", o.data},                     {"limit_train", o.limit_train}, {"limit_valid", o.limit_valid},
          {"limit_test", o.limit_test},         {"quick", o.quick},         {"device", o.device},
          {"ablate", o.ablate},                 {"ablations", o.ablations},
          {"text_encoder", o.text_encoder},     {"text_hidden", o.text_hidden}};
}

// Table 5's scores for some rows of a split: s_zm = cosine of h_m and G_m(z) (eq. 10's
// exponent), and the prediction; the model in eval mode.
struct CaseScores {
  std::vector<double> s_zt, s_za, s_zv, prediction;
};
CaseScores case_scores(fg::models::Mmim& m, const fg::data::MultimodalSplit& split, const std::vector<std::int64_t>& rows,
                       fg::Device device) {
  const fg::data::Batch b = fg::data::gather_batch(split, rows, true, device);
  fg::NoGradGuard ng;
  const auto out = m.forward(b);
  auto score = [&](const fg::losses::CpcLoss& cpc, const fg::Tensor& h) {
    return fg::sum(fg::losses::l2_normalize(h, -1) * fg::losses::l2_normalize(cpc.predictor->forward(out.z), -1), 1)
        .to(fg::Device::cpu())
        .to_vector<double>();
  };
  return {score(*m.cpc_t, out.encodings[0]), score(*m.cpc_a, out.encodings[1]), score(*m.cpc_v, out.encodings[2]),
          out.prediction.to(fg::Device::cpu()).to_vector<double>()};
}

int run(const Options& o) {
  const auto t0 = fg::harness::Clock::now();
  std::ostream& human = o.out == "-" ? std::cerr : std::cout;
  const std::string path = fg::harness::dataset_path(o);
  std::cerr << (path.empty() ? std::string("mmim: generating the synthetic corpus...\n")
                             : fmt::format("mmim: reading {}...\n", path));
  fg::harness::LoadedData d = fg::harness::load_data(o, {});
  const std::vector<std::string>& names = d.data.train.modality_names;
  auto has = [&](const std::string& m) { return std::find(names.begin(), names.end(), m) != names.end(); };
  const char* source = o.data.empty() ? "--corpus" : "--data";
  const bool use_bert = o.text_encoder == "bert" || (o.text_encoder == "auto" && has("text_bert"));
  if (use_bert && !has("text_bert"))
    throw fg::cli::UsageError(fmt::format("--text-encoder bert: {} has no BERT word pieces (the modality text_bert; it "
                                          "has {}); use --text-encoder lstm",
                                          source, fg::cli::join(names)));
  const std::vector<std::string> mods = {use_bert ? "text_bert" : "text", "acoustic", "visual"};
  for (const auto& m : mods)
    FG_CHECK(has(m), "{}: MMIM ({} text encoder) needs the modalities {}; '{}' is missing (it has {})", source,
             use_bert ? "BERT" : "LSTM", fg::cli::join(mods), m, fg::cli::join(names));
  // The synthetic corpus's truth (which modality expresses the sentiment in each test
  // utterance) for the case study: the same generator call as load_data's, checked equal.
  fg::Tensor expression;  // [N_test, M] e_m, the rows of the (subset) test split
  if (o.case_study > 0 && fg::harness::dataset_path(o).empty()) {
    fg::data::SyntheticConfig c;
    c.seed = o.seed, c.train_size = o.train_size, c.valid_size = o.valid_size, c.test_size = o.test_size;
    const fg::data::SyntheticDataset sd = fg::data::make_synthetic_dataset(c);
    FG_CHECK(fg::max(fg::abs(sd.data.test.labels - d.data.test.labels)).item() == 0,
             "mmim: the regenerated synthetic test split differs from the loaded one");
    expression = sd.test_truth.expression;
    d.data.test.ids.clear();  // the row numbers follow random_subset's selection below
    for (std::int64_t i = 0; i < d.data.test.size(); ++i) d.data.test.ids.push_back(std::to_string(i));
  }
  d.data.train = subset(d.data.train, o.limit_train, o.seed + 11);
  d.data.valid = subset(d.data.valid, o.limit_valid, o.seed + 12);
  d.data.test = subset(d.data.test, o.limit_test, o.seed + 13);
  if (expression.defined()) {
    std::vector<std::int64_t> rows;
    for (const auto& id : d.data.test.ids) rows.push_back(std::stoll(id));
    expression = fg::index_select(expression, 0, fg::from_vector(rows, {static_cast<std::int64_t>(rows.size())},
                                                                 fg::TensorOptions{fg::DType::i64, fg::Device::cpu()}));
  }
  d.info["train"] = d.data.train.size(), d.info["valid"] = d.data.valid.size(), d.info["test"] = d.data.test.size();
  d.info["text_encoder"] = use_bert ? "bert" : "lstm";
  const std::string bert_dir =
      !use_bert ? "" : o.bert.empty() ? fg::harness::ensure_pretrained_bert(o.cache, o.text_dir, std::cerr, o.device) : o.bert;
  const fg::data::MultimodalSplit* train = &d.data.train;
  std::vector<std::shared_ptr<fg::models::Mmim>> built;  // every run's model (the first for the case study)
  fg::harness::register_task("mmim", [&o, &built, bert_dir, train, use_bert](const fg::harness::ModelSpec& spec) {
    const fg::TensorOptions opts{fg::DType::f32, spec.device};
    auto dropout_gen = std::make_shared<fg::Generator>(fg::data::derive_seed(spec.seed, 2000));
    fg::Generator init(fg::data::derive_seed(spec.seed, 1000));
    fg::models::MmimConfig c;
    c.acoustic_dim = spec.input_dims.at(1), c.visual_dim = spec.input_dims.at(2);
    if (!use_bert) {
      c.text = "text", c.text_encoder = fg::models::TextEncoder::Lstm;
      c.text_dim = spec.input_dims.at(0), c.text_hidden = o.text_hidden;
    }
    c.rnn_hidden = o.rnn_hidden, c.encoder_out = o.encoder_out, c.fusion_dim = o.fusion_dim;
    c.encoder_dropout = c.fusion_dropout = o.dropout;
    c.lld_form = o.lld_form == "code" ? fg::losses::LogLikelihoodForm::MmimCode : fg::losses::LogLikelihoodForm::Full;
    c.drop_zero_labels = o.split == "code";
    c.memory_batches = o.memory;
    c.cpc = o.cpc == "paper" ? fg::models::CpcNormalization::Paper : fg::models::CpcNormalization::Code;
    for (const auto& a : spec.config.value("ablate", std::vector<std::string>{})) apply_ablation(a, c);
    auto bert = use_bert ? fg::models::load_bert(bert_dir, opts, dropout_gen) : nullptr;
    auto model = std::make_shared<fg::models::Mmim>(c, bert, init, opts, dropout_gen);
    built.push_back(model);
    fg::harness::MmimTaskOptions t;
    t.alpha = o.alpha, t.beta = o.beta, t.lr_bert = o.lr_bert, t.lr_lld = o.lr_lld, t.weight_decay = o.weight_decay;
    t.stage1_split = train, t.batch_size = o.batch_size, t.stage1_batches = o.stage1_batches;
    t.seed = spec.seed, t.device = spec.device;
    return std::make_unique<fg::harness::MmimTask>(model, t, dropout_gen);
  });
  std::vector<fg::harness::RunSpec> specs;
  auto add = [&](const std::string& name, const std::vector<std::string>& ablate) {
    fg::harness::RunSpec spec;
    spec.name = name;
    spec.model = "mmim";
    spec.modalities = mods;
    spec.model_config = options_json(o, bert_dir);
    spec.model_config["ablate"] = ablate;
    specs.push_back(spec);
  };
  add(o.ablate.empty() ? "mmim" : "mmim " + fg::cli::join(o.ablate), o.ablate);
  if (o.ablations)
    for (const auto& [k, v] : kAblations) add("mmim " + k, {k});
  std::vector<std::map<std::string, double>> trace;  // the first run's steps
  std::int64_t runs_started = 0, last_step = -1;
  fg::harness::Observer obs;
  obs.on_step = [&](std::int64_t, std::int64_t global_step, const fg::harness::StepOutput& s) {
    if (global_step <= last_step) ++runs_started;  // a new run restarts the step count
    last_step = global_step;
    if (runs_started > 0) return;
    std::map<std::string, double> m;
    for (const auto& [k, v] : s.terms) m[k] = v;
    trace.push_back(m);
  };
  fg::harness::Report rep = fg::harness::run_experiment(o, specs, d, human, obs);
  rep.json = {{"example", "mmim"}, {"options", options_json(o, bert_dir)}, {"dataset", d.info}};
  rep.json["seconds"] = fg::harness::seconds_since(t0);
  const std::string after = fmt::format("mmim: {}, test split, selection on valid MAE; total {:.1f} s\n",
                                        o.quick ? "--quick settings" : "settings above", fg::harness::seconds_since(t0));
  std::string after_case;
  if (o.case_study > 0 && !rep.runs.empty() && !built.empty() && rep.runs[0].tested) {
    // the first run's model holds its best weights (fit() restored them); a display after
    // training, never used for selection
    fg::models::Mmim& m = *built.front();
    const fg::data::MultimodalSplit& test = d.data.test;
    std::vector<std::int64_t> order(static_cast<std::size_t>(test.size()));
    for (std::int64_t i = 0; i < test.size(); ++i) order[static_cast<std::size_t>(i)] = i;
    const auto y = test.labels.to_vector<double>();
    std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return y[a] < y[b] || (y[a] == y[b] && a < b); });
    std::vector<std::int64_t> rows;
    const std::int64_t n = std::min<std::int64_t>(o.case_study, test.size());
    for (std::int64_t k = 0; k < n; ++k)
      rows.push_back(order[static_cast<std::size_t>(n == 1 ? 0 : k * (test.size() - 1) / (n - 1))]);
    m.eval();
    const CaseScores cs = case_scores(m, test, rows, fg::cli::device_flag(o.device));
    const auto &st = cs.s_zt, &sa = cs.s_za, &sv = cs.s_zv, &pred = cs.prediction;
    after_case = fmt::format("\ncase study ({}, seed {}; test utterances spread over the label range; s_zm = cosine of "
                             "h_m and G_m(z), eq. 10's exponent)\n{:>6} {:>6} {:>6} {:>6} {:>6}  text\n",
                             rep.runs[0].spec.name, rep.runs[0].seed, "truth", "pred", "s_zt", "s_za", "s_zv");
    nlohmann::json cj = nlohmann::json::array();
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const auto r = static_cast<std::size_t>(rows[k]);
      std::string text = r < test.raw_text.size() ? test.raw_text[r] : (r < test.ids.size() ? test.ids[r] : "");
      if (text.size() > 70) text = text.substr(0, 67) + "...";
      after_case += fmt::format("{:6.2f} {:6.2f} {:6.3f} {:6.3f} {:6.3f}  {}\n", y[r], pred[k], st[k], sa[k], sv[k], text);
      cj.push_back({{"row", rows[k]}, {"id", r < test.ids.size() ? test.ids[r] : ""}, {"text", text}, {"truth", y[r]},
                    {"prediction", pred[k]}, {"s_zt", st[k]}, {"s_za", sa[k]}, {"s_zv", sv[k]}});
    }
    rep.json["case_study"] = cj;
    if (expression.defined()) {  // the synthetic corpus: scores against what each modality expresses
      std::vector<std::int64_t> all(static_cast<std::size_t>(test.size()));
      for (std::int64_t i = 0; i < test.size(); ++i) all[static_cast<std::size_t>(i)] = i;
      const CaseScores a = case_scores(m, test, all, fg::cli::device_flag(o.device));
      const auto e = expression.to(fg::DType::f64).to_vector<double>();  // [N, 3] text, acoustic, visual
      const std::vector<std::string> mod = {"text", "acoustic", "visual"};
      struct Group {
        std::string name;
        std::function<bool(std::size_t)> in;
      };
      std::vector<Group> groups = {{"all three express", [&](std::size_t r) {
                                      return e[3 * r] == 1 && e[3 * r + 1] == 1 && e[3 * r + 2] == 1;
                                    }}};
      for (const char* what : {"silent", "contradicts"})
        for (std::size_t m2 = 0; m2 < 3; ++m2) {
          const double v = std::string(what) == "silent" ? 0.0 : -1.0;
          groups.push_back({mod[m2] + " " + what, [&e, m2, v](std::size_t r) { return e[3 * r + m2] == v; }});
        }
      after_case += fmt::format("\nsynthetic truth (all {} test utterances; the generator's e_m: 1 expresses, 0 silent, "
                                "-1 contradicts): mean CPC score per group\n{:<22} {:>5} {:>7} {:>7} {:>7}\n",
                                test.size(), "group", "n", "s_zt", "s_za", "s_zv");
      nlohmann::json gj = nlohmann::json::array();
      for (const Group& g : groups) {
        double t = 0, ac = 0, v = 0;
        std::int64_t n = 0;
        for (std::size_t r = 0; r < a.s_zt.size(); ++r)
          if (g.in(r)) t += a.s_zt[r], ac += a.s_za[r], v += a.s_zv[r], ++n;
        const double d = n > 0 ? static_cast<double>(n) : 1.0;
        after_case += fmt::format("{:<22} {:>5} {:7.3f} {:7.3f} {:7.3f}\n", g.name, n, t / d, ac / d, v / d);
        gj.push_back({{"group", g.name}, {"n", n}, {"s_zt", t / d}, {"s_za", ac / d}, {"s_zv", v / d}});
      }
      rep.json["case_study_synthetic"] = gj;
    }
  }
  if (!o.trace.empty() && !rep.runs.empty()) {
    const std::int64_t spe = (d.data.train.size() + o.batch_size - 1) / o.batch_size;
    fg::io::write_output(o.trace,
                         trace_svg(trace, o.trace_every, spe, rep.runs[0].fit.best_epoch,
                                   fmt::format("MMIM loss traces, {} seed {} ({} steps)", rep.runs[0].spec.name,
                                               rep.runs[0].seed, trace.size())),
                         "--trace");
    rep.json["trace"] = {{"path", o.trace}, {"every", o.trace_every}, {"steps", trace.size()}};
  }
  return fg::harness::write_report(rep, o, human, after + after_case);
}

}  // namespace mmim

int main(int argc, char** argv) {
  CLI::App app{"mmim"};
  fg::cli::setup(app, "mmim");
  mmim::Options o;
  mmim::add_flags(app, o);
  return fg::cli::run_main(app, "mmim", argc, argv, [&] { mmim::validate(app, o); }, [&] { return mmim::run(o); });
}
