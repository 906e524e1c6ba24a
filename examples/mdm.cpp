// examples/mdm.cpp: paper 002 (MDM, "multivariate dependency maximisation") on fusegrad's
// corpora: every model x loss over seeds, Table 2's analogue with Wilcoxon-Mann-Whitney
// p-values against L_null, the modality-drop study (Figure 2) and the critic's
// interpretation (Table 3) scored against the synthetic corpus's known truth. docs/mdm.md.
//
//   mdm --quick                                   # one model, two losses, 2 seeds (minutes on 2 cores)
//   mdm --models tfn,lmf --losses null,kl,f,w --seeds 0,1,2,3,4 --out mdm.json
//   mdm --models mag_bert --corpus reviews --figures figs   # MAG-BERT on the reviews corpus, pictures
//   mdm --tables a.json b.json --out all.json     # the tables of runs made in parts (a sweep), merged
//   mdm --help                                    # every flag
//
// Per (model, loss, seed): for every lr of --lrs (the paper's grid by default) a fresh model
// and critic (examples/harness/mdm_task.h) are trained with AdamW on train and scored on valid
// every epoch (fit(): the best epoch's weights are kept); the lr with the best validation MAE
// wins (selection on valid only). The winner then reads the test split once: all modalities;
// text absent keeping A, V and A+V (data/batching.h zero_modalities marks them absent); and,
// on the synthetic corpus, T_theta's score of every test utterance against the generator's
// truth (data/synthetic.h SyntheticTruth::expression: all modalities express the sentiment, or
// one is silent or contradicts it), summarised as a ROC AUC.
//
// The training loop, checkpoints (--checkpoint: one file per model/loss/lr/seed), Ctrl-C,
// --config, the progress bars and the results JSON are the harness's (docs/harness.md).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/batching.h"
#include "data/metrics.h"
#include "data/synthetic.h"
#include "data/wmw.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "examples/common/cli.h"
#include "data/reviews.h"
#include "data/wordpiece.h"
#include "engine/io/output_file.h"
#include "examples/estimators_svg.h"
#include "examples/harness/bert_pretrain.h"
#include "examples/harness/harness.h"
#include "examples/harness/mdm_task.h"
#include "models/mag_bert.h"
#include "models/zoo.h"

namespace mdm {

using fg::data::RegressionMetrics;

struct Options : fg::harness::HarnessOptions {
  Options() {
    program = "mdm";
    optimizer = "adamw";  // the paper's
  }
  std::vector<std::string> models = {"ef_lstm", "tfn", "lmf", "mfn"};
  std::vector<std::string> losses = {"null", "kl", "f", "w"};
  std::vector<double> lrs = {0.002, 0.001, 0.0005, 0.0001};  // the paper's grid
  double lambda = 0.1;
  int unroll = 10;
  double critic_lr = 1e-4;
  double alpha = 0.05;
  bool quick = false;
  std::string bert_dir;   // "" = the cached pretrained BERT (ensure_pretrained_bert)
  double bert_lr = 1e-4;  // MAG-BERT: BERT's own learning rate (--lrs then applies to MAG and the head)
  std::int64_t max_pieces = 64;  // MAG-BERT: word pieces per utterance, [CLS]/[SEP] included
  std::string figures;           // "" = none; else a folder for the SVG pictures (Figure 2's analogue)
  std::int64_t limit_train = 0, limit_valid = 0, limit_test = 0;  // random subsets of a loaded corpus (0 = all)
  int interpret = 0;  // Table 3: the N highest- and N lowest-scoring test utterances per critic run
  std::vector<std::string> tables;  // --tables: result files of earlier runs to merge (no training)
  bool models_given = false, losses_given = false;  // on the command line (--tables filters by them)
};

const std::vector<std::string> kPaperModels = {"ef_lstm", "tfn", "lmf", "mfn"};

void add_flags(CLI::App& app, Options& opt) {
  app.description(
      "Paper 002 (MDM): fusion models trained with L1 - lambda * a dependency bound on their fused representation "
      "(critic T_theta, Algorithm 1), lr selected on validation MAE; Table 2's analogue with Wilcoxon-Mann-Whitney "
      "p-values against L_null, the modality-drop study and T_theta's interpretation (docs/mdm.md).");
  fg::harness::add_harness_flags(app, opt);
  fg::cli::add_list(app, "--models", opt.models,
                    "Zoo models (ef_lstm, tfn, lmf, mfn; late_fusion too) and mag_bert (MAG-BERT, models/mag_bert.h; "
                    "needs --corpus reviews)")
      ->capture_default_str();
  fg::cli::add_list(app, "--losses", opt.losses,
                    "null (L1 only), kl (Donsker-Varadhan, eq. 6), f (NWJ, eq. 7), w (Wasserstein, eq. 8 without the "
                    "log), w-log (eq. 8 as printed)")
      ->capture_default_str();
  fg::cli::add_list(app, "--lrs", opt.lrs,
                    "Learning rates tried per run, the best validation MAE wins (replaces --lr)")
      ->check(fg::cli::finite_range(1e-12, 10))
      ->capture_default_str();
  app.add_option("--lambda", opt.lambda, "Weight of the bound: L = L1 - lambda * bound")
      ->check(fg::cli::finite_range(0, 1e6))
      ->capture_default_str();
  app.add_option("--unroll", opt.unroll, "Critic (T_theta) steps per model step (paper: 10)")
      ->check(fg::cli::int_range(1, 1000))
      ->capture_default_str();
  app.add_option("--critic-lr", opt.critic_lr, "AdamW learning rate of the critic T_theta")
      ->check(fg::cli::finite_range(1e-12, 10))
      ->capture_default_str();
  app.add_option("--alpha", opt.alpha, "Significance level marking WMW p-values (cells with p < alpha get '*')")
      ->check(fg::cli::finite_range(1e-9, 1))
      ->capture_default_str();
  app.add_option("--bert-dir", opt.bert_dir,
                 "MAG-BERT: the pretrained BERT folder (default: data/cache/pretrained-bert, built by "
                 "examples/pretrain_bert's defaults on first use)");
  app.add_option("--bert-lr", opt.bert_lr, "MAG-BERT: learning rate of BERT's parameters (--lrs: MAG and the head)")
      ->check(fg::cli::finite_range(0, 10))
      ->capture_default_str();
  app.add_option("--max-pieces", opt.max_pieces, "MAG-BERT: word pieces per utterance ([CLS] and [SEP] included)")
      ->check(fg::cli::int_range(3, 512))
      ->capture_default_str();
  app.add_option("--figures", opt.figures,
                 "Folder for the pictures: modality_drop_<model>.svg per model (Figure 2's analogue: Acc2_corrupt / "
                 "Acc2 per loss, text absent, keeping A, V, A+V); created if missing. Figure 1 is examples/estimators");
  app.add_option("--limit-train", opt.limit_train,
                 "A loaded corpus (--corpus reviews, --data): train on a random subset of this many rows (0 = all; the "
                 "synthetic corpus has --train-size)")
      ->check(fg::cli::int_range(0, 10'000'000))
      ->capture_default_str();
  app.add_option("--limit-valid", opt.limit_valid, "... valid rows (0 = all)")
      ->check(fg::cli::int_range(0, 10'000'000))
      ->capture_default_str();
  app.add_option("--limit-test", opt.limit_test, "... test rows (0 = all)")
      ->check(fg::cli::int_range(0, 10'000'000))
      ->capture_default_str();
  app.add_option("--interpret", opt.interpret,
                 "Table 3: after each run with a critic, the N highest- and N lowest-scoring test utterances under "
                 "T_theta with their text (raw_text), label, the prediction from all modalities and from each one "
                 "alone, acoustic summaries (reviews corpus) and the generator's truth (synthetic corpus); printed "
                 "for each model and loss's first seed, all in --out")
      ->check(fg::cli::int_range(0, 1000))
      ->capture_default_str();
  app.add_option("--tables", opt.tables,
                 "No training: print Table 2 (WMW p-values), the modality drop, the critic's AUC and Table 3 from "
                 "these --out files of earlier mdm runs, merged (a study run in parts: one file per seed or loss, "
                 "e.g. from tools/sweep); they must share their settings and dataset. --models/--losses select "
                 "rows; --out and --figures write the merged results")
      ->expected(1, -1);
  app.add_flag("--quick", opt.quick,
               "A short run: --models lmf --losses null,w --seeds 0,1 --lrs 0.002 --epochs 4 and a 400/150/300 "
               "corpus, for each of these flags not given");
}

// --quick's settings for the flags the command line did not give.
void apply_quick(const CLI::App& app, Options& opt) {
  opt.models_given = app.count("--models") > 0;
  opt.losses_given = app.count("--losses") > 0;
  if (!opt.quick) return;
  auto unset = [&](const char* f) { return app.count(f) == 0; };
  if (unset("--models")) opt.models = {"lmf"};
  if (unset("--losses")) opt.losses = {"null", "w"};
  if (unset("--seeds") && unset("--seed")) opt.seeds = {0, 1};
  if (unset("--lrs")) opt.lrs = {0.002};
  if (unset("--epochs")) opt.epochs = 4;
  if (unset("--train-size")) opt.train_size = 400;
  if (unset("--valid-size")) opt.valid_size = 150;
  if (unset("--test-size")) opt.test_size = 300;
}

void validate(const Options& opt) {
  fg::harness::check_harness_flags(opt);
  const auto zoo = fg::models::zoo_model_names();
  for (const std::string& m : opt.models) {
    if (m == "mag_bert") {
      if (opt.tables.empty() && (opt.corpus != "reviews" || !opt.data.empty()))
        throw fg::cli::UsageError(
            "--models mag_bert: needs --corpus reviews (word-aligned, with the words of each utterance: MAG-BERT "
            "aligns word-level acoustic/visual features to word pieces)");
      continue;
    }
    if (std::find(zoo.begin(), zoo.end(), m) == zoo.end())
      throw fg::cli::UsageError(
          fmt::format("--models: unknown model '{}' (known: {}, mag_bert)", m, fg::cli::join(zoo, ", ")));
  }
  for (const std::string& l : opt.losses) {
    try {
      fg::harness::check_mdm_loss(l, "--losses");
    } catch (const fg::Error& e) {
      throw fg::cli::UsageError(e.message());
    }
  }
  if (opt.losses.empty() || opt.models.empty()) throw fg::cli::UsageError("--models and --losses: give at least one each");
  if (!opt.tables.empty()) {
    if (opt.quick || opt.resume || !opt.checkpoint.empty())
      throw fg::cli::UsageError("--tables: merges the results of finished runs and trains nothing; --quick, "
                                "--checkpoint and --resume are for training");
    return;
  }
  const bool loaded = !opt.data.empty() || opt.corpus != "synthetic";
  if (!loaded && (opt.limit_train > 0 || opt.limit_valid > 0 || opt.limit_test > 0))
    throw fg::cli::UsageError(
        "--limit-train/--limit-valid/--limit-test: for a loaded corpus (--corpus reviews or --data); the synthetic "
        "corpus's sizes are --train-size, --valid-size, --test-size");
  if (opt.optimizer != "adamw")
    std::cerr << "mdm: note: --optimizer " << opt.optimizer << " (the paper uses AdamW)\n";
}

// ---------------------------------------------------------------- one (model, loss, seed)

struct Cell {
  std::string model, loss;
  std::uint64_t seed = 0;
  double lr = 0;                                 // selected on valid
  std::vector<std::pair<double, double>> valid_by_lr;  // (lr, best valid MAE)
  RegressionMetrics test;
  std::map<std::string, RegressionMetrics> dropped;  // "A", "V", "A+V" (text absent)
  double auc = NAN, score_agree = NAN, score_disagree = NAN;  // critic vs truth (synthetic)
  nlohmann::json interpretation = nlohmann::json::array();   // --interpret: Table 3's rows
  fg::harness::RunResult run;
};

// Critic score per test utterance, in row order.
std::vector<double> critic_scores(fg::harness::MdmTask& task, const fg::data::MultimodalSplit& split,
                                  std::int64_t batch_size, fg::Device device) {
  fg::data::BatchOptions bo;
  bo.batch_size = batch_size;
  bo.shuffle = false;
  bo.device = device;
  fg::data::BatchLoader loader(split, bo);
  std::vector<double> out;
  for (std::int64_t i = 0; i < loader.num_batches(); ++i) {
    const auto s = task.critic_scores(loader.batch(i)).to(fg::Device::cpu()).to(fg::DType::f64).to_vector<double>();
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

// ROC AUC of `score` ranking positives above negatives (ties count half) = U / (n1 n0).
double roc_auc(const std::vector<double>& score, const std::vector<int>& positive) {
  std::vector<double> pos, neg;
  for (std::size_t i = 0; i < score.size(); ++i) (positive[i] ? pos : neg).push_back(score[i]);
  if (pos.empty() || neg.empty()) return NAN;
  const auto r = fg::data::mann_whitney_u(pos, neg, "asymptotic");
  return r.u1 / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
}

// Acoustic summary of one utterance of the word-aligned reviews corpus: its per-word features
// are data/reviews_build.h's kWordFeatureNames (26; columns 0 duration_s, 1 f0_mean_hz,
// 3 f0_min_hz, 4 f0_max_hz, 7 energy_db_mean). The voice's rate, pitch range and volume rise
// with the latent intensity, its pitch with the polarity (docs/reviews-corpus.md).
nlohmann::json reviews_acoustic_summary(const std::vector<float>& a, std::int64_t T, std::int64_t D, std::int64_t row,
                                        std::int64_t len) {
  double dur = 0, f0 = 0, energy = 0, f0_lo = INFINITY, f0_hi = -INFINITY;
  int voiced = 0;
  for (std::int64_t w = 0; w < len; ++w) {
    const float* f = a.data() + (row * T + w) * D;
    dur += f[0], energy += f[7];
    if (f[1] > 0) f0 += f[1], ++voiced, f0_lo = std::min<double>(f0_lo, f[3]), f0_hi = std::max<double>(f0_hi, f[4]);
  }
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"words_per_s", num(dur > 0 ? static_cast<double>(len) / dur : NAN)},
          {"f0_mean_hz", num(voiced ? f0 / voiced : NAN)},
          {"f0_range_hz", num(voiced ? f0_hi - f0_lo : NAN)},
          {"energy_db_mean", num(len ? energy / static_cast<double>(len) : NAN)}};
}

// Table 3's analogue for one trained run: the `n` highest- and `n` lowest-scoring test
// utterances under T_theta (`scores`, row order of `test`), each with its id, text (raw_text
// of `words`, the word-level test split: the same rows as `test`), label, the prediction from
// all modalities and from each modality alone (the others absent), the reviews corpus's
// acoustic summary and, on the synthetic corpus, what the generator made each modality do.
nlohmann::json interpret_run(const Options& opt, fg::harness::MdmTask& task, const fg::data::MultimodalSplit& test,
                             const fg::data::MultimodalSplit& words, const std::vector<double>& scores,
                             const fg::data::SyntheticTruth* truth, fg::Device device) {
  const std::int64_t N = test.size();
  FG_CHECK(words.size() == N && static_cast<std::int64_t>(scores.size()) == N,
           "--interpret: {} critic scores for {} test rows ({} word-level rows)", scores.size(), N, words.size());
  if (truth == nullptr)
    FG_CHECK(static_cast<std::int64_t>(words.raw_text.size()) == N,
             "--interpret: the test split has no raw_text (the words of each utterance), so the utterances cannot be "
             "shown with their text; the reviews corpus stores it (docs/reviews-corpus.md: /test/raw_text of "
             "reviews.h5; rebuild it with tools/build_reviews.sh), a --data file needs /test/raw_text");
  const auto& names = test.modality_names;
  auto has = [&](const char* m) { return std::find(names.begin(), names.end(), m) != names.end(); };
  std::map<std::string, std::vector<double>> pred;
  pred["all"] = fg::harness::predict_split(task, test, opt.batch_size, device);
  if (has("text") && has("acoustic") && has("visual")) {
    pred["text_only"] = fg::harness::predict_split(task, test, opt.batch_size, device, {"acoustic", "visual"});
    pred["acoustic_only"] = fg::harness::predict_split(task, test, opt.batch_size, device, {"text", "visual"});
    pred["visual_only"] = fg::harness::predict_split(task, test, opt.batch_size, device, {"text", "acoustic"});
  }
  const bool reviews = opt.data.empty() && opt.corpus == "reviews" && has("acoustic") &&
                       words.feature_dim(words.modality_index("acoustic")) == 26;
  std::vector<float> ac;
  std::vector<std::int64_t> wlen;
  if (reviews) {
    ac = words.features[static_cast<std::size_t>(words.modality_index("acoustic"))].to(fg::DType::f32).to_vector<float>();
    wlen = words.lengths.to(fg::DType::i64).to_vector<std::int64_t>();
  }
  const auto labels = test.labels.to(fg::DType::f64).to_vector<double>();
  std::vector<double> expr;
  if (truth) expr = truth->expression.to(fg::DType::f64).to_vector<double>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) order[static_cast<std::size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return scores[static_cast<std::size_t>(a)] > scores[static_cast<std::size_t>(b)];
  });
  const std::int64_t n = std::min<std::int64_t>(opt.interpret, N / 2);
  nlohmann::json out = nlohmann::json::array();
  auto entry = [&](const char* end, std::int64_t k, std::int64_t row) {
    const auto r = static_cast<std::size_t>(row);
    nlohmann::json e = {{"end", end}, {"position", k}, {"row", row}, {"critic_score", scores[r]}, {"label", labels[r]}};
    e["id"] = r < words.ids.size() ? words.ids[r] : fmt::format("test/{}", row);
    e["text"] = r < words.raw_text.size() ? nlohmann::json(words.raw_text[r]) : nlohmann::json(nullptr);
    for (const auto& [k2, v] : pred) e["prediction"][k2] = v[r];
    if (reviews)
      e["acoustic"] = reviews_acoustic_summary(ac, words.max_steps(), 26, row, wlen[r]);
    if (truth) {
      const std::size_t m = names.size();
      for (std::size_t j = 0; j < m; ++j) {
        const double x = expr[r * m + j];
        e["truth"][names[j]] = x > 0.5 ? "expresses" : x < -0.5 ? "contradicts" : "silent";
      }
    }
    out.push_back(e);
  };
  for (std::int64_t k = 0; k < n; ++k) entry("highest", k + 1, order[static_cast<std::size_t>(k)]);
  for (std::int64_t k = 0; k < n; ++k) entry("lowest", k + 1, order[static_cast<std::size_t>(N - 1 - k)]);
  return out;
}

// The name of one (model, loss, lr) training run: progress lines, and the per-run checkpoint
// files (--checkpoint, and the one Ctrl-C / SIGTERM leaves beside --out) are named after it, so
// it holds no '/' (a folder the harness would not create: the interrupted run's results were
// lost when it did).
std::string run_name(const std::string& model, const std::string& loss, double lr) {
  return fmt::format("{}-{}-lr{}", model, loss, lr);
}

Cell run_cell(const Options& opt, const std::string& model, const std::string& loss, std::uint64_t seed,
              fg::harness::Splits& splits, const fg::data::SyntheticTruth* test_truth,
              const fg::data::MultimodalSplit& word_test, std::ostream& human, bool several) {
  Cell c;
  c.model = model, c.loss = loss, c.seed = seed;
  const auto& train = splits.train();
  std::vector<std::int64_t> dims;
  for (const std::string& m : train.modality_names) dims.push_back(train.feature_dim(train.modality_index(m)));
  fg::harness::MdmOptions mo;
  mo.loss = loss, mo.lambda = opt.lambda, mo.unroll = opt.unroll, mo.critic_lr = opt.critic_lr;
  const fg::Device device = fg::cli::device_flag(opt.device);
  std::unique_ptr<fg::harness::MdmTask> best;
  double best_mae = INFINITY;
  const auto t0 = fg::harness::Clock::now();
  for (const double lr : opt.lrs) {
    fg::harness::RunSpec spec;
    spec.name = run_name(model, loss, lr);
    spec.model = model;
    spec.modalities = train.modality_names;
    spec.model_config = {{"mdm_loss", loss}, {"lambda", opt.lambda}, {"unroll", opt.unroll}, {"critic_lr", opt.critic_lr}};
    fg::harness::TrainOptions o = fg::harness::train_options(opt, spec, seed, several);
    o.lr = lr;
    o.hint = fmt::format("lower --lrs (now {})", lr);
    o.config["lr"] = lr;
    nlohmann::json mc = nlohmann::json::object();
    if (model == "mag_bert") mc = {{"bert_dir", opt.bert_dir}, {"bert_lr", opt.bert_lr}};
    auto task = fg::harness::make_mdm_task(model, train.modality_names, dims, mc, mo, seed, device);
    fg::harness::FitResult fr = fg::harness::fit(*task, train, splits.valid(), o, human);
    c.valid_by_lr.emplace_back(lr, fr.best_valid.mae);
    if (fr.best_valid.mae < best_mae || !best) {
      best_mae = fr.best_valid.mae, best = std::move(task), c.lr = lr;
      c.run.spec = spec;
      c.run.fit = std::move(fr);
    }
  }
  c.run.spec.name = fmt::format("{}/{}", model, loss);
  c.run.seed = seed;
  // model selection is over: the test split, read once
  const fg::data::MultimodalSplit& test = splits.read_test();
  c.test = fg::harness::evaluate(*best, test, opt.batch_size, device);
  const auto& names = test.modality_names;
  auto has = [&](const char* m) { return std::find(names.begin(), names.end(), m) != names.end(); };
  if (has("text") && has("acoustic") && has("visual")) {
    c.dropped["A"] = fg::harness::evaluate(*best, test, opt.batch_size, device, {"text", "visual"});
    c.dropped["V"] = fg::harness::evaluate(*best, test, opt.batch_size, device, {"text", "acoustic"});
    c.dropped["A+V"] = fg::harness::evaluate(*best, test, opt.batch_size, device, {"text"});
  }
  if (best->has_critic() && opt.interpret > 0) {
    const auto scores = critic_scores(*best, test, opt.batch_size, device);
    c.interpretation = interpret_run(opt, *best, test, word_test, scores, test_truth, device);
  }
  if (best->has_critic() && test_truth != nullptr) {
    const auto scores = critic_scores(*best, test, opt.batch_size, device);
    const auto e = test_truth->expression.to(fg::DType::f64).to_vector<double>();
    const std::size_t m = names.size();
    std::vector<int> agree(scores.size());
    double sa = 0, sd = 0;
    int na = 0, nd = 0;
    for (std::size_t i = 0; i < scores.size(); ++i) {
      bool all = true;
      for (std::size_t k = 0; k < m; ++k) all = all && e[i * m + k] == 1.0;
      agree[i] = all ? 1 : 0;
      (all ? sa : sd) += scores[i];
      ++(all ? na : nd);
    }
    c.auc = roc_auc(scores, agree);
    c.score_agree = na ? sa / na : NAN;
    c.score_disagree = nd ? sd / nd : NAN;
  }
  c.run.test = c.test;
  c.run.tested = true;
  c.run.seconds = fg::harness::seconds_since(t0);
  return c;
}

// ---------------------------------------------------------------- tables

struct Metric {
  const char* key;
  const char* label;
  double RegressionMetrics::*field;
  bool higher_better;
};
const std::vector<Metric> kMetrics = {
    {"acc7", "Acc7", &RegressionMetrics::acc7, true},          {"acc2_has0", "Acc2_has0", &RegressionMetrics::acc2_has0, true},
    {"acc2_non0", "Acc2_non0", &RegressionMetrics::acc2_non0, true}, {"f1_has0", "F1_has0", &RegressionMetrics::f1_has0, true},
    {"f1_non0", "F1_non0", &RegressionMetrics::f1_non0, true}, {"mae", "MAE", &RegressionMetrics::mae, false},
    {"corr", "r", &RegressionMetrics::corr, true}};

std::vector<double> values(const std::vector<Cell>& cells, const std::string& model, const std::string& loss,
                           double RegressionMetrics::*f) {
  std::vector<double> v;
  for (const Cell& c : cells)
    if (c.model == model && c.loss == loss && std::isfinite(c.test.*f)) v.push_back(c.test.*f);
  return v;
}

std::pair<double, double> mean_std(const std::vector<double>& v) {
  if (v.empty()) return {NAN, NAN};
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / static_cast<double>(v.size()))};
}

// Distinct seeds among `cells` (those of --seeds, or of the merged files of --tables).
std::size_t seed_count(const std::vector<Cell>& cells) {
  std::set<std::uint64_t> s;
  for (const Cell& c : cells) s.insert(c.seed);
  return s.size();
}

// Table 2's analogue and its JSON; `summary` receives every cell.
std::string table2(const Options& opt, const std::vector<Cell>& cells, nlohmann::json& summary) {
  std::string out = fmt::format(
      "\nTable 2 analogue (test split, mean +- std over {} seeds; p: two-sided Wilcoxon-Mann-Whitney against L_null of "
      "the same model, scipy's default method; '*' p < {})\n",
      seed_count(cells), opt.alpha);
  out += fmt::format("{:<14} {:<6}", "model", "loss");
  for (const Metric& m : kMetrics) out += fmt::format(" {:>24}", m.label);
  out += "\n";
  for (const std::string& model : opt.models)
    for (const std::string& loss : opt.losses) {
      out += fmt::format("{:<14} {:<6}", model, loss);
      for (const Metric& m : kMetrics) {
        const auto v = values(cells, model, loss, m.field);
        const auto [mean, sd] = mean_std(v);
        std::string cell = fmt::format("{:.4f}+-{:.4f}", mean, sd);
        nlohmann::json j = {{"mean", mean}, {"std", sd}, {"n", v.size()}, {"values", v}};
        const auto ref = values(cells, model, "null", m.field);
        if (loss != "null" && !v.empty() && !ref.empty()) {
          const auto w = fg::data::mann_whitney_u(v, ref);
          cell += fmt::format(" p{:.2f}{}", w.p, w.p < opt.alpha ? "*" : " ");
          j["wmw_vs_null"] = {{"u", w.u1}, {"p", w.p}, {"exact", w.exact}, {"significant", w.p < opt.alpha}};
        } else {
          cell += "      ";
        }
        out += fmt::format(" {:>24}", cell);
        summary[model][loss][m.key] = j;
      }
      out += "\n";
    }
  return out;
}

std::string drop_table(const Options& opt, const std::vector<Cell>& cells, nlohmann::json& js) {
  std::string out =
      "\nModality drop (Figure 2 analogue): trained with all modalities, text absent at test; Acc2_corrupt / Acc2 "
      "(has0 convention), mean +- std over seeds\n";
  out += fmt::format("{:<14} {:<6} {:>18} {:>18} {:>18}\n", "model", "loss", "A", "V", "A+V");
  for (const std::string& model : opt.models)
    for (const std::string& loss : opt.losses) {
      out += fmt::format("{:<14} {:<6}", model, loss);
      for (const char* keep : {"A", "V", "A+V"}) {
        std::vector<double> r;
        for (const Cell& c : cells)
          if (c.model == model && c.loss == loss && c.dropped.count(keep) && c.test.acc2_has0 > 0)
            r.push_back(c.dropped.at(keep).acc2_has0 / c.test.acc2_has0);
        const auto [m, s] = mean_std(r);
        out += fmt::format(" {:>18}", fmt::format("{:.4f}+-{:.4f}", m, s));
        js[model][loss][keep] = {{"mean", m}, {"std", s}, {"ratios", r}};
      }
      out += "\n";
    }
  return out;
}

std::string critic_table(const Options& opt, const std::vector<Cell>& cells, nlohmann::json& js) {
  std::string out =
      "\nT_theta interpretation (Table 3 analogue, synthetic truth): ROC AUC of the critic's score separating test "
      "utterances whose modalities all agree (positive) from those with one silent or contradicting modality; mean "
      "+- std over seeds, and the mean score of each group\n";
  out += fmt::format("{:<14} {:<6} {:>16} {:>12} {:>12}\n", "model", "loss", "AUC", "T agree", "T other");
  bool any = false;
  for (const std::string& model : opt.models)
    for (const std::string& loss : opt.losses) {
      std::vector<double> auc, sa, sd;
      for (const Cell& c : cells)
        if (c.model == model && c.loss == loss && std::isfinite(c.auc))
          auc.push_back(c.auc), sa.push_back(c.score_agree), sd.push_back(c.score_disagree);
      if (auc.empty()) continue;
      any = true;
      const auto [m, s] = mean_std(auc);
      out += fmt::format("{:<14} {:<6} {:>16} {:>12.4f} {:>12.4f}\n", model, loss, fmt::format("{:.4f}+-{:.4f}", m, s),
                         mean_std(sa).first, mean_std(sd).first);
      js[model][loss] = {{"auc_mean", m}, {"auc_std", s}, {"auc", auc}, {"score_agree", sa}, {"score_other", sd}};
    }
  if (!any) out += "(no run with a critic on the synthetic corpus)\n";
  return out;
}

// Table 3's analogue as printed: per model and loss, the first seed's --interpret rows.
std::string interpretation_table(const Options& opt, const std::vector<Cell>& cells) {
  if (opt.interpret <= 0) return "";
  std::string out = fmt::format(
      "\nT_theta interpretation (Table 3 analogue): per model and loss, the first seed's {} highest- and {} lowest-"
      "scoring test utterances under the critic; pred: the prediction from all modalities, and from T, A, V alone "
      "(the others absent)\n",
      opt.interpret, opt.interpret);
  auto num = [](const nlohmann::json& j, const char* k, const char* f) {
    return j.contains(k) && j[k].is_number() ? fmt::format(fmt::runtime(f), j[k].get<double>()) : std::string("-");
  };
  for (const std::string& model : opt.models)
    for (const std::string& loss : opt.losses) {
      auto it = cells.end();  // the smallest seed with rows
      for (auto c = cells.begin(); c != cells.end(); ++c)
        if (c->model == model && c->loss == loss && !c->interpretation.empty() &&
            (it == cells.end() || c->seed < it->seed))
          it = c;
      if (it == cells.end()) continue;
      out += fmt::format("{} {} seed {}\n", model, loss, it->seed);
      out += fmt::format("{:<8} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}  {:>6} {:>6} {:>6} {:>6}  {}\n", "end", "T", "label",
                         "pred", "T", "A", "V", "wrd/s", "F0Hz", "F0rng", "dB", "text / truth");
      for (const auto& e : it->interpretation) {
        const auto& p = e["prediction"];
        const nlohmann::json a = e.contains("acoustic") ? e["acoustic"] : nlohmann::json::object();
        std::string what;
        if (e.contains("truth"))
          for (const auto& [m, v] : e["truth"].items()) what += fmt::format("{}{}={}", what.empty() ? "" : " ", m, v.get<std::string>());
        if (e["text"].is_string()) {
          std::string t = e["text"].get<std::string>();
          if (t.size() > 100) t = t.substr(0, 97) + "...";
          what = what.empty() ? t : what + " | " + t;
        }
        out += fmt::format("{:<8} {:>7.4f} {:>6.2f} {:>6} {:>6} {:>6} {:>6}  {:>6} {:>6} {:>6} {:>6}  {} {}\n",
                           fmt::format("{} {}", e["end"].get<std::string>() == "highest" ? "high" : "low",
                                       e["position"].get<int>()),
                           e["critic_score"].get<double>(), e["label"].get<double>(), num(p, "all", "{:.2f}"),
                           num(p, "text_only", "{:.2f}"), num(p, "acoustic_only", "{:.2f}"),
                           num(p, "visual_only", "{:.2f}"), num(a, "words_per_s", "{:.2f}"),
                           num(a, "f0_mean_hz", "{:.0f}"), num(a, "f0_range_hz", "{:.0f}"),
                           num(a, "energy_db_mean", "{:.1f}"), e["id"].get<std::string>(), what);
      }
    }
  return out;
}

// Figure 2's analogue for one model: x = the losses in --losses order (numbered, named in the
// x title), one line per kept modality set; drawn with examples/estimators_svg.h.
std::string drop_svg(const Options& opt, const std::string& model, const nlohmann::json& drop) {
  std::vector<double> xs;
  std::string names;
  for (std::size_t i = 0; i < opt.losses.size(); ++i) {
    xs.push_back(static_cast<double>(i));
    names += fmt::format("{}{} = {}", i ? ", " : "", i, opt.losses[i]);
  }
  const std::vector<std::pair<const char*, const char*>> keeps = {{"A", "#1f77b4"}, {"V", "#ff7f0e"}, {"A+V", "#2ca02c"}};
  std::vector<fg::examples::PlotSeries> series;
  for (const auto& [keep, color] : keeps) {
    fg::examples::PlotSeries se{fmt::format("text absent, {} kept", keep), color, {}, false, false};
    for (const std::string& loss : opt.losses) {
      const auto& j = drop.contains(model) && drop[model].contains(loss) ? drop[model][loss][keep]["mean"] : nlohmann::json();
      se.y.push_back(j.is_number() ? j.get<double>() : NAN);
    }
    series.push_back(std::move(se));
  }
  fg::examples::PlotLayout layout;
  std::size_t seeds = 0;  // runs behind each point (as many as the drop table's ratios)
  for (const std::string& loss : opt.losses)
    if (drop.contains(model) && drop[model].contains(loss) && drop[model][loss].contains("A+V"))
      seeds = std::max(seeds, drop[model][loss]["A+V"]["ratios"].size());
  layout.title = fmt::format("Modality drop, {}: Acc2_corrupt / Acc2 (mean over {} seeds)", model, seeds);
  layout.x_title = "loss (" + names + ")";
  layout.y_title = "Acc2 ratio";
  return fg::examples::svg_line_plot(xs, series, layout);
}

// Table 3's rows of every seed pooled: per model, loss and end (the --interpret highest- or
// lowest-scoring test utterances of each seed), what those utterances have in common. On the
// reviews corpus: |label|, the share of positive labels, the share whose prediction from all
// modalities has the label's sign (Acc2, has0 convention), words, and the acoustic summary
// (words per second, mean F0, F0 range, energy); on the synthetic corpus: the share whose
// modalities all express the sentiment (the generator's truth). Means over the pooled rows.
std::string interpretation_summary(const Options& opt, const std::vector<Cell>& cells, nlohmann::json& js) {
  if (std::none_of(cells.begin(), cells.end(), [](const Cell& c) { return !c.interpretation.empty(); })) return "";
  std::string out =
      "\nTable 3 pooled over seeds: the highest- and lowest-scoring test utterances of every seed's critic, means; "
      "acc2: the prediction has the label's sign; agree: all modalities express the sentiment (synthetic truth)\n";
  out += fmt::format("{:<14} {:<6} {:<8} {:>4} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}\n", "model", "loss",
                     "end", "n", "|label|", "pos", "acc2", "words", "wrd/s", "F0Hz", "F0rng", "dB", "agree");
  auto mean_of = [](const std::vector<double>& v) {
    double s = 0;
    std::size_t n = 0;
    for (double x : v)
      if (std::isfinite(x)) s += x, ++n;
    return n ? s / static_cast<double>(n) : NAN;
  };
  for (const std::string& model : opt.models)
    for (const std::string& loss : opt.losses)
      for (const char* end : {"highest", "lowest"}) {
        std::map<std::string, std::vector<double>> v;
        std::size_t n = 0;
        for (const Cell& c : cells) {
          if (c.model != model || c.loss != loss) continue;
          for (const auto& e : c.interpretation) {
            if (e.value("end", "") != end) continue;
            ++n;
            const double label = e["label"].get<double>();
            v["abs_label"].push_back(std::fabs(label));
            v["positive"].push_back(label > 0 ? 1.0 : 0.0);
            const auto& p = e["prediction"];
            if (p.contains("all") && p["all"].is_number())
              v["acc2"].push_back((p["all"].get<double>() >= 0) == (label >= 0) ? 1.0 : 0.0);
            if (e["text"].is_string()) {
              const std::string t = e["text"].get<std::string>();
              double words = 0;
              bool in_word = false;
              for (char ch : t) {
                const bool space = ch == ' ' || ch == '\t' || ch == '\n';
                if (!space && !in_word) ++words;
                in_word = !space;
              }
              v["words"].push_back(words);
            }
            if (e.contains("acoustic"))
              for (const char* k : {"words_per_s", "f0_mean_hz", "f0_range_hz", "energy_db_mean"})
                v[k].push_back(e["acoustic"][k].is_number() ? e["acoustic"][k].get<double>() : NAN);
            if (e.contains("truth")) {
              bool all = true;
              for (const auto& [m, what] : e["truth"].items()) all = all && what == "expresses";
              v["agree"].push_back(all ? 1.0 : 0.0);
            }
          }
        }
        if (n == 0) continue;
        auto col = [&](const char* k, const char* f) {
          const double m = v.count(k) ? mean_of(v[k]) : NAN;
          js[model][loss][end][k] = std::isfinite(m) ? nlohmann::json(m) : nlohmann::json(nullptr);
          return std::isfinite(m) ? fmt::format(fmt::runtime(f), m) : std::string("-");
        };
        js[model][loss][end]["n"] = n;
        out += fmt::format("{:<14} {:<6} {:<8} {:>4}", model, loss, end, n);
        out += fmt::format(" {:>7} {:>6} {:>6} {:>6}", col("abs_label", "{:.2f}"), col("positive", "{:.2f}"),
                           col("acc2", "{:.2f}"), col("words", "{:.1f}"));
        out += fmt::format(" {:>6} {:>6} {:>6} {:>6} {:>6}\n", col("words_per_s", "{:.2f}"), col("f0_mean_hz", "{:.0f}"),
                           col("f0_range_hz", "{:.0f}"), col("energy_db_mean", "{:.1f}"), col("agree", "{:.2f}"));
      }
  return out;
}

// One cell as the results JSON holds it, and back (--tables).
nlohmann::json cell_json(const Cell& c) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json lrs = nlohmann::json::array();
  for (const auto& [lr, mae] : c.valid_by_lr) lrs.push_back({{"lr", lr}, {"valid_mae", num(mae)}});
  nlohmann::json dr = nlohmann::json::object();
  for (const auto& [k, m] : c.dropped) dr[k] = fg::harness::metrics_json(m);
  return {{"model", c.model},       {"loss", c.loss},
          {"seed", c.seed},         {"selected_lr", c.lr},
          {"valid_by_lr", lrs},     {"test", fg::harness::metrics_json(c.test)},
          {"text_absent", dr},      {"critic_auc", num(c.auc)},
          {"critic_score_agree", num(c.score_agree)}, {"critic_score_other", num(c.score_disagree)},
          {"interpretation", c.interpretation}};
}

Cell cell_from_json(const nlohmann::json& j, const std::string& where) {
  Cell c;
  try {
    auto num = [](const nlohmann::json& v) { return v.is_null() ? NAN : v.get<double>(); };
    c.model = j.at("model").get<std::string>();
    c.loss = j.at("loss").get<std::string>();
    c.seed = j.at("seed").get<std::uint64_t>();
    c.lr = j.at("selected_lr").get<double>();
    for (const auto& e : j.at("valid_by_lr")) c.valid_by_lr.emplace_back(e.at("lr").get<double>(), num(e.at("valid_mae")));
    c.test = fg::harness::metrics_from_json(j.at("test"));
    for (const auto& [k, m] : j.at("text_absent").items()) c.dropped[k] = fg::harness::metrics_from_json(m);
    c.auc = num(j.at("critic_auc"));
    // (files written before these two existed have none)
    c.score_agree = j.contains("critic_score_agree") ? num(j["critic_score_agree"]) : NAN;
    c.score_disagree = j.contains("critic_score_other") ? num(j["critic_score_other"]) : NAN;
    c.interpretation = j.at("interpretation");
  } catch (const nlohmann::json::exception& e) {
    FG_FAIL("{}: not a cell of mdm's results ({})", where, e.what());
  }
  return c;
}

// The options that decide what a run trains (and what --tables requires the merged files to share).
nlohmann::json options_json(const Options& opt) {
  return {{"models", opt.models},       {"losses", opt.losses},       {"lrs", opt.lrs},
          {"lambda", opt.lambda},       {"unroll", opt.unroll},       {"critic_lr", opt.critic_lr},
          {"alpha", opt.alpha},         {"corpus", opt.corpus},       {"quick", opt.quick},
          {"epochs", opt.epochs},       {"bert_dir", opt.bert_dir},   {"bert_lr", opt.bert_lr},
          {"max_pieces", opt.max_pieces}, {"batch_size", opt.batch_size}, {"limit_train", opt.limit_train},
          {"limit_valid", opt.limit_valid}, {"limit_test", opt.limit_test}, {"interpret", opt.interpret},
          {"optimizer", opt.optimizer}, {"weight_decay", opt.weight_decay}, {"data", opt.data},
          {"data_seed", opt.seed},      {"train_size", opt.train_size}, {"valid_size", opt.valid_size},
          {"test_size", opt.test_size}, {"clip", opt.clip},           {"schedule", opt.schedule}};
}
const std::vector<std::string> kSettingKeys = {
    "lrs",        "lambda",      "unroll",      "critic_lr",  "corpus",     "epochs",   "bert_dir",
    "bert_lr",    "max_pieces",  "batch_size",  "limit_train", "limit_valid", "limit_test", "optimizer",
    "weight_decay", "data",      "data_seed",   "train_size", "valid_size", "test_size", "clip", "schedule"};

// Every table after the per-run results, and their JSON into `js` (cells, table2,
// modality_drop, critic_interpretation, interpretation_summary).
std::string all_tables(const Options& opt, const std::vector<Cell>& cells, nlohmann::json& js) {
  nlohmann::json t2 = nlohmann::json::object(), dj = nlohmann::json::object(), cj = nlohmann::json::object(),
                 sj = nlohmann::json::object(), cells_json = nlohmann::json::array();
  const std::string text = table2(opt, cells, t2) + drop_table(opt, cells, dj) + critic_table(opt, cells, cj) +
                           interpretation_table(opt, cells) + interpretation_summary(opt, cells, sj);
  for (const Cell& c : cells) cells_json.push_back(cell_json(c));
  js["cells"] = cells_json, js["table2"] = t2, js["modality_drop"] = dj, js["critic_interpretation"] = cj;
  js["interpretation_summary"] = sj;
  return text;
}

// --figures: Figure 2's analogue per model, from js["modality_drop"]; returns the "wrote" lines.
std::string write_figures(const Options& opt, const nlohmann::json& js) {
  if (opt.figures.empty()) return "";
  std::filesystem::create_directories(opt.figures);
  std::string out;
  for (const std::string& model : opt.models) {
    const std::string path = (std::filesystem::path(opt.figures) / fmt::format("modality_drop_{}.svg", model)).string();
    fg::io::write_output(path, drop_svg(opt, model, js.at("modality_drop")), "--figures");
    out += fmt::format("wrote {}\n", path);
  }
  return out;
}

// --tables: the tables of earlier runs' --out files, merged. The files must share every
// setting that decides what a run trains (kSettingKeys; one that a file from an older build
// does not record is not compared, and the output says so) and their dataset; each (model,
// loss, seed) may come from one file only. Rows: --models/--losses when given, else every model in
// the order met and the losses in the paper's order.
nlohmann::json read_result_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) FG_FAIL("--tables: cannot read '{}' (expected an --out file of an earlier mdm run)", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    FG_FAIL("--tables: '{}' is not JSON ({})", path, e.what());
  }
  if (!j.is_object() || j.value("example", "") != "mdm" || !j.contains("cells") || !j["cells"].is_array() ||
      !j.contains("options") || !j["options"].is_object())
    FG_FAIL("--tables: '{}' is not the --out file of an mdm run (expected \"example\": \"mdm\" with \"options\" and "
            "\"cells\")",
            path);
  return j;
}

int run_tables(const Options& opt_in) {
  Options opt = opt_in;
  std::vector<nlohmann::json> files;
  for (const std::string& f : opt.tables) files.push_back(read_result_file(f));
  const nlohmann::json& first = files.front();
  std::vector<Cell> cells;
  std::map<std::tuple<std::string, std::string, std::uint64_t>, std::string> origin;
  std::vector<std::string> models, losses;
  std::set<std::string> commits;
  std::set<std::string> unrecorded;  // settings some files do not record (not compared)
  for (std::size_t i = 0; i < files.size(); ++i) {
    const nlohmann::json& j = files[i];
    const std::string& path = opt.tables[i];
    for (const std::string& k : kSettingKeys) {
      if (first["options"].contains(k) != j["options"].contains(k)) {  // a file from before the key was recorded
        unrecorded.insert(k);
        continue;
      }
      const nlohmann::json a = first["options"].value(k, nlohmann::json()), b = j["options"].value(k, nlohmann::json());
      if (a != b)
        FG_FAIL("--tables: '{}' was run with {} = {}, '{}' with {}: merged tables need runs of the same settings",
                path, k, b.dump(), opt.tables.front(), a.dump());
    }
    if (first.value("dataset", nlohmann::json()) != j.value("dataset", nlohmann::json()))
      FG_FAIL("--tables: '{}' and '{}' describe different datasets ({} vs {})", path, opt.tables.front(),
              j.value("dataset", nlohmann::json()).dump(), first.value("dataset", nlohmann::json()).dump());
    if (j.contains("build") && j["build"].contains("commit")) commits.insert(j["build"]["commit"].dump());
    for (std::size_t r = 0; r < j["cells"].size(); ++r) {
      Cell c = cell_from_json(j["cells"][r], fmt::format("--tables: '{}', cells[{}]", path, r));
      if (opt.models_given && std::find(opt.models.begin(), opt.models.end(), c.model) == opt.models.end()) continue;
      if (opt.losses_given && std::find(opt.losses.begin(), opt.losses.end(), c.loss) == opt.losses.end()) continue;
      const auto key = std::make_tuple(c.model, c.loss, c.seed);
      if (origin.count(key))
        FG_FAIL("--tables: {} {} seed {} is in both '{}' and '{}': give each run once", c.model, c.loss, c.seed,
                origin[key], path);
      origin[key] = path;
      if (std::find(models.begin(), models.end(), c.model) == models.end()) models.push_back(c.model);
      if (std::find(losses.begin(), losses.end(), c.loss) == losses.end()) losses.push_back(c.loss);
      cells.push_back(std::move(c));
    }
  }
  if (cells.empty()) FG_FAIL("--tables: no run in {} matches --models/--losses", fg::cli::join(opt.tables, ", "));
  if (opt.interpret == 0) opt.interpret = first["options"].value("interpret", 0);  // Table 3's header
  if (!opt.models_given) opt.models = models;
  if (!opt.losses_given) {
    opt.losses.clear();
    for (const char* l : {"null", "kl", "f", "w", "w-log"})
      if (std::find(losses.begin(), losses.end(), l) != losses.end()) opt.losses.push_back(l);
  }
  std::ostream& human = opt.out == "-" ? std::cerr : std::cout;
  nlohmann::json js = {{"example", "mdm"},
                       {"merged_from", opt.tables},
                       {"options", first["options"]},
                       {"dataset", first.value("dataset", nlohmann::json())}};
  js["options"]["models"] = opt.models, js["options"]["losses"] = opt.losses, js["options"]["alpha"] = opt.alpha;
  std::string text = fmt::format("mdm --tables: {} runs from {} files (corpus {}, epochs {}, lrs {})\n", cells.size(),
                                 files.size(), first["options"].value("corpus", nlohmann::json()).dump(),
                                 first["options"].value("epochs", nlohmann::json()).dump(),
                                 first["options"].value("lrs", nlohmann::json()).dump());
  if (!unrecorded.empty())
    text += fmt::format("note: not compared, as some files (from older builds) do not record them: {}\n",
                        fmt::join(unrecorded, ", "));
  if (commits.size() > 1)
    text += fmt::format("note: the files come from {} builds ({}): float32 results may differ in rounding\n",
                        commits.size(), fmt::join(commits, ", "));
  if (first.contains("constant_predictor")) {
    js["constant_predictor"] = first["constant_predictor"];
    const auto m = fg::harness::metrics_from_json(first["constant_predictor"]["test"]);
    text += fmt::format("constant predictor (train mean) on test: MAE {:.4f}, Acc2_has0 {:.4f}\n", m.mae, m.acc2_has0);
  }
  text += all_tables(opt, cells, js);  // (before write_figures, which reads js["modality_drop"])
  text += write_figures(opt, js);
  human << text;
  if (!opt.out.empty()) {
    fg::io::write_outputs({{opt.out, js.dump(2) + "\n", "--out"}});
    if (opt.out != "-") human << "results written to " << opt.out << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------- the program

int run(const Options& opt) {
  if (!opt.tables.empty()) return run_tables(opt);
  const auto t0 = fg::harness::Clock::now();
  std::ostream& human = opt.out == "-" ? std::cerr : std::cout;
  fg::harness::LoadedData d;
  fg::data::SyntheticDataset synth;
  const bool synthetic = fg::harness::dataset_path(opt).empty();
  if (synthetic) {
    std::cerr << fmt::format("mdm: generating synthetic data (seed {}, {} / {} / {} utterances)...\n", opt.seed,
                             opt.train_size, opt.valid_size, opt.test_size);
    fg::data::SyntheticConfig c;  // as harness::load_data, keeping the truth
    c.seed = opt.seed;
    c.train_size = opt.train_size, c.valid_size = opt.valid_size, c.test_size = opt.test_size;
    synth = fg::data::make_synthetic_dataset(c);
    d.data = synth.data;
    d.info = {{"kind", "synthetic"}, {"seed", c.seed}, {"train", c.train_size}, {"valid", c.valid_size},
              {"test", c.test_size}, {"max_steps", c.max_steps}};
  } else {
    d = fg::harness::load_data(opt, {});
    // random subsets (reduced budgets); before MAG-BERT's re-gridding, so both grids hold the same rows
    d.data.train = fg::data::random_subset(d.data.train, opt.limit_train, opt.seed + 11);
    d.data.valid = fg::data::random_subset(d.data.valid, opt.limit_valid, opt.seed + 12);
    d.data.test = fg::data::random_subset(d.data.test, opt.limit_test, opt.seed + 13);
    d.info["limit_train"] = opt.limit_train, d.info["limit_valid"] = opt.limit_valid, d.info["limit_test"] = opt.limit_test;
    d.info["rows"] = {d.data.train.size(), d.data.valid.size(), d.data.test.size()};
  }
  fg::harness::Report rep;
  rep.constant_test = fg::harness::constant_predictor(d.data.train, d.data.test);
  rep.constant_valid = fg::harness::constant_predictor(d.data.train, d.data.valid);
  if (!opt.log.empty() && !opt.resume) fg::io::write_output(opt.log, "", "--log");
  fg::harness::Splits splits(d.data);
  // MAG-BERT reads word pieces: the same utterances re-gridded (models::word_piece_dataset).
  fg::data::MultimodalDataset pieces;
  std::unique_ptr<fg::harness::Splits> piece_splits;
  if (std::find(opt.models.begin(), opt.models.end(), "mag_bert") != opt.models.end()) {
    namespace fs = std::filesystem;
    Options& o = const_cast<Options&>(opt);
    if (o.bert_dir.empty())
      o.bert_dir = fg::harness::ensure_pretrained_bert(fs::path(fg::data::reviews_cache_dir()).parent_path().string(),
                                                       fg::data::text_sources_dir(), std::cerr, opt.device);
    const auto tok = fg::data::WordPieceTokenizer::from_file((fs::path(o.bert_dir) / "vocab.txt").string());
    pieces = fg::models::word_piece_dataset(d.data, tok, opt.max_pieces);
    piece_splits = std::make_unique<fg::harness::Splits>(pieces);
    std::int64_t at_cap = 0;  // utterances filling --max-pieces: possibly cut
    for (const auto* sp : {&pieces.train, &pieces.valid, &pieces.test})
      for (const std::int64_t n : sp->lengths.to_vector<std::int64_t>()) at_cap += n >= opt.max_pieces;
    std::cerr << fmt::format("mdm: mag_bert: BERT '{}', utterances re-gridded to at most {} word pieces ({} fill it: "
                             "possibly cut)\n",
                             o.bert_dir, opt.max_pieces, at_cap);
  }
  const auto seeds = fg::harness::run_seeds(opt);
  const std::size_t total = opt.models.size() * opt.losses.size() * seeds.size();
  std::vector<Cell> cells;
  try {
    for (const std::string& model : opt.models)
      for (const std::string& loss : opt.losses)
        for (const std::uint64_t seed : seeds) {
          std::cerr << fmt::format("mdm: [{}/{}] {} {} seed {} (lrs {})\n", cells.size() + 1, total, model, loss, seed,
                                   fmt::join(opt.lrs, ","));
          cells.push_back(run_cell(opt, model, loss, seed, model == "mag_bert" ? *piece_splits : splits,
                                   synthetic ? &synth.test_truth : nullptr, d.data.test, human, true));
          rep.runs.push_back(cells.back().run);
        }
  } catch (const fg::harness::Interrupted& e) {
    rep.interrupted_signal = e.signal();
    rep.interrupted_message = e.message();
  }
  rep.json = {{"example", "mdm"}, {"options", options_json(opt)}, {"dataset", d.info}};
  std::string after = all_tables(opt, cells, rep.json);  // (before write_figures, which reads its JSON)
  after += write_figures(opt, rep.json);
  rep.json["seconds"] = fg::harness::seconds_since(t0);
  after += fmt::format("total {:.1f} s\n", fg::harness::seconds_since(t0));
  return fg::harness::write_report(rep, opt, human, after);
}

}  // namespace mdm

#ifndef FG_MDM_NO_MAIN
int main(int argc, char** argv) {
  CLI::App app{"mdm"};
  fg::cli::setup(app, "mdm");
  mdm::Options opt;
  mdm::add_flags(app, opt);
  return fg::cli::run_main(
      app, "mdm", argc, argv,
      [&] {
        mdm::apply_quick(app, opt);
        mdm::validate(opt);
      },
      [&] { return mdm::run(opt); });
}
#endif
