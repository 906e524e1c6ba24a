// tests/test_mdm.cpp: paper 002's MDM add-on (examples/harness/mdm_task.h, data/permute.h,
// examples/mdm.cpp): the critic's marginal samples are encoder outputs of permuted inputs,
// Algorithm 1's alternation, each bound's sign in the total loss, a short L_W run whose bound
// estimate rises, the gradcheck of eq. 8 as printed, mdm's flag errors, the shared row subset
// (--limit-*) and Table 3's --interpret rows.
#define FG_MDM_NO_MAIN
#include "examples/mdm.cpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "data/permute.h"
#include "engine/autograd.h"
#include "losses/dependency.h"
#include "support/gradcheck.h"
#include "support/test_util.h"

namespace {

namespace h = fg::harness;
using fg::Tensor;

const fg::data::SyntheticDataset& tiny() {
  static const fg::data::SyntheticDataset d = [] {
    fg::data::SyntheticConfig c;
    c.seed = 7;
    c.train_size = 48, c.valid_size = 16, c.test_size = 16;
    c.max_steps = 20, c.min_steps = 5;
    return fg::data::make_synthetic_dataset(c);
  }();
  return d;
}

std::vector<std::int64_t> dims(const fg::data::MultimodalSplit& s) {
  std::vector<std::int64_t> d;
  for (const auto& m : s.modality_names) d.push_back(s.feature_dim(s.modality_index(m)));
  return d;
}

std::unique_ptr<h::MdmTask> task_for(const std::string& model, const std::string& loss, int unroll = 2,
                                     double critic_lr = 1e-4) {
  h::MdmOptions o;
  o.loss = loss, o.unroll = unroll, o.critic_lr = critic_lr, o.critic_dropout = 0;
  const auto& tr = tiny().data.train;
  return h::make_mdm_task(model, tr.modality_names, dims(tr), {{"dropout", 0.0}}, o, 3);
}

fg::data::Batch first_batch(std::int64_t n = 8) {
  std::vector<std::int64_t> rows;
  for (std::int64_t i = 0; i < n; ++i) rows.push_back(i);
  return fg::data::gather_batch(tiny().data.train, rows);
}

std::vector<double> flat(const std::vector<Tensor>& ps) {
  std::vector<double> v;
  for (const Tensor& p : ps)
    for (double x : p.to(fg::DType::f64).to_vector<double>()) v.push_back(x);
  return v;
}

}  // namespace

TEST_CASE("permute_modalities: each modality's features, lengths, mask and present travel with it") {
  fg::data::Batch b = first_batch(4);
  b.present = fg::from_vector(std::vector<float>{1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0}, {4, 3});
  const std::vector<std::vector<std::int64_t>> perms = {{1, 2, 3, 0}, {3, 2, 1, 0}, {0, 1, 2, 3}};
  const auto p = fg::data::permute_modalities(b, perms);
  const auto len = b.lengths.to_vector<std::int64_t>();
  for (std::size_t m = 0; m < 3; ++m) {
    const auto pl = p.modality_lengths[m].to_vector<std::int64_t>();
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(pl[i] == len[static_cast<std::size_t>(perms[m][i])]);
      const auto row = fg::test::vals(fg::slice(p.features[m], 0, static_cast<std::int64_t>(i), 1).to(fg::DType::f64));
      const auto src = fg::test::vals(fg::slice(b.features[m], 0, perms[m][i], 1).to(fg::DType::f64));
      CHECK(row == src);
    }
  }
  const auto pr = p.present.to_vector<float>();
  // present rows: 0 (1,1,1), 1 (0,1,1), 2 (1,0,1), 3 (1,1,0)
  CHECK(pr[0 * 3 + 0] == 0.f);  // text of row 0 came from row 1 (absent there)
  CHECK(pr[1 * 3 + 1] == 0.f);  // acoustic of row 1 came from row 2 (absent there)
  CHECK(pr[3 * 3 + 2] == 0.f);  // visual stays: row 3's own (absent)
  CHECK(pr[1 * 3 + 0] == 1.f);
  CHECK(!p.lengths.defined());
  const auto g = fg::data::permute_modalities(b, perms, /*shared_grid=*/true);
  CHECK(g.modality_lengths.empty());
  const auto gl = g.lengths.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < 4; ++i)
    CHECK(gl[i] == std::max({len[static_cast<std::size_t>(perms[0][i])], len[static_cast<std::size_t>(perms[1][i])],
                             len[static_cast<std::size_t>(perms[2][i])]}));
  CHECK(fg::test::contains(fg::test::error_of([&] { fg::data::permute_modalities(b, {{0, 0, 1, 2}, {0, 1, 2, 3}, {0, 1, 2, 3}}); }),
                           "not a permutation"));
}

TEST_CASE("the critic's marginal samples are the encoder's z of independently permuted inputs, not shuffled z") {
  const auto& split = tiny().data.train;
  for (const std::string model : {"late_fusion", "tfn"}) {
    CAPTURE(model);
    auto task = task_for(model, "kl");
    task->model().eval();
    const fg::data::Batch b = first_batch(8);
    const auto perms = fg::data::draw_modality_permutations(8, 3, *std::make_shared<fg::Generator>(11));
    fg::NoGradGuard ng;
    const Tensor zm = task->model().forward(task->marginal_batch(b, perms)).z;
    const Tensor zj = task->model().forward(b).z;
    for (std::int64_t i = 0; i < 8; ++i) {
      // row i assembled by hand: modality m of row perms[m][i], each from its own one-row batch
      fg::data::Batch one = fg::data::gather_batch(split, {perms[0][static_cast<std::size_t>(i)]}, false);
      one.modality_lengths.resize(3), one.modality_masks.resize(3);
      for (std::size_t m = 0; m < 3; ++m) {
        const auto src = fg::data::gather_batch(split, {perms[m][static_cast<std::size_t>(i)]}, false);
        one.features[m] = src.features[m];
        one.modality_lengths[m] = src.lengths;
        one.modality_masks[m] = src.mask;
      }
      one.lengths = Tensor(), one.mask = Tensor();
      const Tensor zi = task->model().forward(one).z;
      CHECK(fg::test::max_abs_diff(zi, fg::slice(zm, 0, i, 1)) < 1e-5);
    }
    // shuffling the fused vectors (by any modality's permutation) is a different thing
    for (std::size_t m = 0; m < 3; ++m) {
      const Tensor idx = fg::from_vector(perms[m], {8}, fg::TensorOptions{fg::DType::i64});
      CHECK(fg::test::max_abs_diff(fg::index_select(zj, 0, idx), zm) > 1e-3);
    }
  }
  // and the task shows the critic exactly those: every view's marginal is z of marginal_batch(perms)
  auto task = task_for("late_fusion", "w", 3);
  const fg::data::Batch b = first_batch(8);
  int checked = 0;
  task->on_critic_input = [&](const h::CriticView& v) {
    fg::NoGradGuard ng;
    const Tensor expect = task->model().forward(task->marginal_batch(b, v.permutations)).z;
    CHECK(fg::test::max_abs_diff(v.marginal, expect) < 1e-6);
    CHECK(fg::test::max_abs_diff(v.joint, task->model().forward(b).z) < 1e-6);
    ++checked;
  };
  auto opt = std::make_unique<fg::optim::AdamW>(task->parameters(), fg::optim::AdamWOptions{});
  h::StepContext ctx{*opt, 0, [](const std::string&, double) {}};
  task->train_step(b, ctx);
  CHECK(checked == 4);
}

TEST_CASE("Algorithm 1: unroll critic steps change only T_theta, then one model step changes only the model") {
  auto task = task_for("late_fusion", "kl", 4, 1e-2);
  const fg::data::Batch b = first_batch(8);
  auto opt = std::make_unique<fg::optim::AdamW>(task->parameters(), fg::optim::AdamWOptions{});
  const auto model0 = flat(task->model().parameters()), critic0 = flat(task->critic().parameters());
  std::vector<int> stages;
  std::vector<std::vector<double>> critic_at, model_at;
  task->on_critic_input = [&](const h::CriticView& v) {
    stages.push_back(v.stage);
    critic_at.push_back(flat(task->critic().parameters()));
    model_at.push_back(flat(task->model().parameters()));
  };
  h::StepContext ctx{*opt, 0, [](const std::string&, double) {}};
  const h::StepOutput out = task->train_step(b, ctx);
  CHECK(stages == std::vector<int>{1, 1, 1, 1, 2});
  for (std::size_t k = 0; k < model_at.size(); ++k) CHECK(model_at[k] == model0);  // stage 1 never moves the model
  for (std::size_t k = 1; k < critic_at.size(); ++k) CHECK(critic_at[k] != critic_at[k - 1]);  // each critic step moves T
  CHECK(critic_at[0] == critic0);
  CHECK(flat(task->critic().parameters()) == critic_at.back());  // the model step leaves T_theta alone
  CHECK(flat(task->model().parameters()) != model0);
  // the main optimizer holds the model's parameters only
  CHECK(task->parameters().size() == task->model().parameters().size());
  CHECK(task->extra_optimizers().size() == 1);
  bool has_critic_bound = false;
  for (const auto& [k, v] : out.terms) has_critic_bound = has_critic_bound || k == "critic_bound";
  CHECK(has_critic_bound);
  // null: no critic, no permutations
  auto null_task = task_for("late_fusion", "null");
  CHECK(!null_task->has_critic());
  CHECK(null_task->extra_optimizers().empty());
}

TEST_CASE("each bound enters the total as L1 - lambda * bound, computed from the critic's scores") {
  for (const std::string loss : {"kl", "f", "w", "w-log"}) {
    CAPTURE(loss);
    h::MdmOptions o;
    o.loss = loss, o.lambda = 0.7, o.critic_dropout = 0;
    const auto& tr = tiny().data.train;
    auto task = h::make_mdm_task("late_fusion", tr.modality_names, dims(tr), {{"dropout", 0.0}}, o, 5);
    // spectral norm: a few training-mode forwards run its power iteration (eval before any
    // uses the initial u, v); eval then keeps u, v fixed between the two evaluations
    for (int k = 0; k < 5; ++k) task->loss(first_batch(8));
    task->critic().eval();
    Tensor tj, tm;
    task->on_critic_input = [&](const h::CriticView& v) {
      fg::NoGradGuard ng;
      tj = task->critic().forward(v.joint), tm = task->critic().forward(v.marginal);
    };
    const h::Loss l = task->loss(first_batch(8));
    const auto j = fg::test::vals(tj.to(fg::DType::f64)), m = fg::test::vals(tm.to(fg::DType::f64));
    auto mean = [](const std::vector<double>& v) {
      double s = 0;
      for (double x : v) s += x;
      return s / static_cast<double>(v.size());
    };
    std::vector<double> e;
    for (double x : m) e.push_back(loss == "kl" ? std::exp(x) : loss == "f" ? std::exp(x - 1) : x);
    double bound = mean(j) - ((loss == "kl" || loss == "w-log") ? std::log(mean(e)) : mean(e));
    double l1 = NAN, got = NAN;
    for (const auto& [k, t] : l.terms) {
      if (k == "l1") l1 = t.item();
      if (k == "bound") got = t.item();
    }
    CHECK(got == doctest::Approx(bound).epsilon(1e-5));
    CHECK(l.total.item() == doctest::Approx(l1 - 0.7 * bound).epsilon(1e-5));
  }
}

TEST_CASE("a short L_W run: the critic's bound estimate rises") {
  auto task = task_for("late_fusion", "w", 5, 3e-3);
  h::TrainOptions o;
  o.epochs = 3, o.batch_size = 16, o.optimizer = "adamw", o.lr = 2e-3, o.quiet = true, o.seed = 1;
  std::vector<double> bounds;
  h::Observer obs;
  obs.on_step = [&](std::int64_t, std::int64_t, const h::StepOutput& s) {
    for (const auto& [k, v] : s.terms)
      if (k == "critic_bound") bounds.push_back(v);
  };
  std::ostringstream log;
  h::fit(*task, tiny().data.train, tiny().data.valid, o, log, obs);
  REQUIRE(bounds.size() == 9);
  const double first = (bounds[0] + bounds[1] + bounds[2]) / 3, last = (bounds[6] + bounds[7] + bounds[8]) / 3;
  INFO("first steps " << first << ", last steps " << last);
  CHECK(last > first);
}

TEST_CASE("gradcheck: eq. 8 as printed (w-log) and the bound through the critic") {
  const Tensor tj = fg::testing::rand_input({5}, 1, 0.1, 0.9), tm = fg::testing::rand_input({6}, 2, 0.1, 0.9);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return fg::losses::wasserstein_log_bound(in[0], in[1]); },
                  (std::vector<Tensor>{tj, tm}));
  fg::Generator g(4);
  fg::losses::StatisticNetworkOptions so;
  so.input_dim = 4, so.hidden = {3}, so.dropout = 0;
  so.param_options = fg::TensorOptions{fg::DType::f64};
  auto critic = std::make_shared<fg::losses::StatisticNetwork>(so, g);
  const Tensor zj = fg::testing::rand_input({5, 4}, 3), zm = fg::testing::rand_input({5, 4}, 4);
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return fg::losses::dependency_lower_bound(fg::losses::DependencyBound::WassersteinLog, critic->forward(in[0]),
                                                  critic->forward(in[1]));
      },
      (std::vector<Tensor>{zj, zm}));
}

TEST_CASE("mdm: bad flags are usage errors naming the flag") {
  auto err = [](std::vector<std::string> args) {
    CLI::App app{"mdm"};
    fg::cli::setup(app, "mdm");
    mdm::Options opt;
    mdm::add_flags(app, opt);
    args.insert(args.begin(), "mdm");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
      mdm::apply_quick(app, opt);
      mdm::validate(opt);
    } catch (const CLI::Error& e) {
      return std::string("cli: ") + e.what();
    } catch (const fg::cli::UsageError& e) {
      return std::string("usage: ") + e.what();
    }
    return std::string();
  };
  CHECK(fg::test::contains(err({"--losses", "null,bogus"}), "--losses: unknown loss 'bogus'"));
  CHECK(fg::test::contains(err({"--models", "nope"}), "--models: unknown model 'nope'"));
  CHECK(fg::test::contains(err({"--models", "mag_bert"}), "mag_bert: needs --corpus reviews"));
  // --corpus is the harness's flag: an unknown corpus is refused by CLI11, one given with
  // --data by the harness (the reviews files themselves: tests/test_cli.cpp)
  CHECK(fg::test::contains(err({"--corpus", "imdb"}), "--corpus"));
  {  // a regular file: --data's own checks (exists, is a file) come first
    const std::string f = (std::filesystem::temp_directory_path() / "fg_test_mdm_data.h5").string();
    std::ofstream(f) << "x";
    CHECK(fg::test::contains(err({"--corpus", "reviews", "--data", f}), "--corpus"));
    std::filesystem::remove(f);
  }
  CHECK(fg::test::contains(err({"--unroll", "0"}), "--unroll"));
  CHECK(fg::test::contains(err({"--lrs", "0.001,-1"}), "--lrs"));
  CHECK(fg::test::contains(err({"--lambda", "nan"}), "--lambda"));
  CHECK(fg::test::contains(err({"--limit-train", "100"}), "--limit-train/--limit-valid/--limit-test: for a loaded corpus"));
  CHECK(fg::test::contains(err({"--interpret", "-1"}), "--interpret"));
  CHECK(fg::test::contains(err({"--limit-test", "-5", "--corpus", "reviews"}), "--limit-test"));
  CHECK(err({"--quick"}).empty());
  CHECK(fg::test::contains(err({"--tables", "a.json", "--quick"}), "--tables: merges the results of finished runs"));
  CHECK(err({"--tables", "a.json", "b.json", "--models", "mag_bert"}).empty());  // rows of a reviews run
}

TEST_CASE("mdm: Figure 2's picture draws one line per kept modality set over the losses") {
  mdm::Options opt;
  opt.losses = {"null", "w"};
  opt.seeds = {0, 1};
  const nlohmann::json drop = {{"lmf",
                                {{"null", {{"A", {{"mean", 0.7}}}, {"V", {{"mean", 0.75}}}, {"A+V", {{"mean", 0.74}}}}},
                                 {"w", {{"A", {{"mean", 0.69}}}, {"V", {{"mean", nullptr}}}, {"A+V", {{"mean", 0.76}}}}}}}};
  const std::string svg = mdm::drop_svg(opt, "lmf", drop);
  CHECK(fg::test::contains(svg, "<svg"));
  CHECK(fg::test::contains(svg, "text absent, A+V kept"));
  CHECK(fg::test::contains(svg, "0 = null, 1 = w"));
  std::size_t lines = 0;
  for (std::size_t p = svg.find("<polyline"); p != std::string::npos; p = svg.find("<polyline", p + 1)) ++lines;
  CHECK(lines == 3);  // A, V (one point: the missing mean is left out), A+V
}

TEST_CASE("random_subset: n rows in their order, every per-row field (strings included) follows its row") {
  fg::data::MultimodalSplit s = tiny().data.train;
  const std::int64_t N = s.size();
  for (std::int64_t i = 0; i < N; ++i) s.ids.push_back(fmt::format("u{}", i)), s.raw_text.push_back(fmt::format("words {}", i));
  const auto r = fg::data::random_subset(s, 10, 5);
  REQUIRE(r.size() == 10);
  r.validate();
  std::vector<std::int64_t> rows;
  for (const auto& id : r.ids) rows.push_back(std::stoll(id.substr(1)));
  CHECK(std::is_sorted(rows.begin(), rows.end()));
  CHECK(std::adjacent_find(rows.begin(), rows.end()) == rows.end());
  const auto lab = s.labels.to_vector<float>(), rlab = r.labels.to_vector<float>();
  const auto len = s.lengths.to_vector<std::int64_t>(), rlen = r.lengths.to_vector<std::int64_t>();
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto i = static_cast<std::size_t>(rows[k]);
    CHECK(r.raw_text[k] == s.raw_text[i]);
    CHECK(rlab[k] == lab[i]);
    CHECK(rlen[k] == len[i]);
    for (std::size_t m = 0; m < s.features.size(); ++m)
      CHECK(fg::test::vals(fg::slice(r.features[m], 0, static_cast<std::int64_t>(k), 1).to(fg::DType::f64)) ==
            fg::test::vals(fg::slice(s.features[m], 0, rows[k], 1).to(fg::DType::f64)));
  }
  CHECK(fg::data::random_subset(s, 10, 6).ids != r.ids);  // the seed picks the rows
  CHECK(fg::data::random_subset(s, 0, 5).size() == N);     // 0 and n >= N: the whole split
  CHECK(fg::data::random_subset(s, N + 3, 5).size() == N);
}

TEST_CASE("mdm --interpret: the critic's highest and lowest test utterances with text, predictions and truth") {
  const auto& test = tiny().data.test;
  const std::int64_t N = test.size();
  auto task = task_for("late_fusion", "kl");
  mdm::Options opt;
  opt.interpret = 3;
  opt.batch_size = 5;
  // scores chosen by hand: row (7 * i) % N gets score i, so the order is known
  std::vector<double> scores(static_cast<std::size_t>(N));
  for (std::int64_t i = 0; i < N; ++i) scores[static_cast<std::size_t>((7 * i) % N)] = static_cast<double>(i);
  const auto& truth = tiny().test_truth;
  const nlohmann::json rows = mdm::interpret_run(opt, *task, test, test, scores, &truth, fg::Device::cpu());
  REQUIRE(rows.size() == 6);
  const auto all = h::predict_split(*task, test, 5, fg::Device::cpu());
  const auto alone = h::predict_split(*task, test, 5, fg::Device::cpu(), {"text", "visual"});
  const auto expr = truth.expression.to(fg::DType::f64).to_vector<double>();
  const auto labels = test.labels.to(fg::DType::f64).to_vector<double>();
  for (int k = 0; k < 6; ++k) {
    CAPTURE(k);
    const auto& e = rows[static_cast<std::size_t>(k)];
    const std::int64_t want_score = k < 3 ? N - 1 - k : k - 3;  // highest first, then lowest first
    const std::int64_t row = (7 * want_score) % N;
    CHECK(e["end"] == (k < 3 ? "highest" : "lowest"));
    CHECK(e["row"].get<std::int64_t>() == row);
    CHECK(e["critic_score"].get<double>() == static_cast<double>(want_score));
    CHECK(e["label"].get<double>() == labels[static_cast<std::size_t>(row)]);
    CHECK(e["prediction"]["all"].get<double>() == all[static_cast<std::size_t>(row)]);
    CHECK(e["prediction"]["acoustic_only"].get<double>() == alone[static_cast<std::size_t>(row)]);
    CHECK(e["text"].is_null());  // the synthetic corpus has no words
    for (std::size_t m = 0; m < 3; ++m) {
      const double x = expr[static_cast<std::size_t>(row) * 3 + m];
      CHECK(e["truth"][test.modality_names[m]] == (x > 0.5 ? "expresses" : x < -0.5 ? "contradicts" : "silent"));
    }
  }
  // the predictions really differ when modalities are dropped (else the columns would say nothing)
  CHECK(all != alone);
  // a loaded corpus without raw_text cannot be shown with its text: a clear error
  CHECK(fg::test::contains(
      fg::test::error_of([&] { mdm::interpret_run(opt, *task, test, test, scores, nullptr, fg::Device::cpu()); }),
      "--interpret: the test split has no raw_text"));
  // with raw_text: each row's own sentence
  fg::data::MultimodalSplit words = test;
  for (std::int64_t i = 0; i < N; ++i) words.raw_text.push_back(fmt::format("sentence {}", i));
  const auto r2 = mdm::interpret_run(opt, *task, test, words, scores, nullptr, fg::Device::cpu());
  CHECK(r2[0]["text"] == fmt::format("sentence {}", r2[0]["row"].get<std::int64_t>()));
  CHECK(!r2[0].contains("truth"));
}

TEST_CASE("mdm --interpret: the reviews corpus's acoustic summary of an utterance") {
  // one utterance of 3 words (T = 4, D = 26): durations 0.5, 0.25, 0.25 s; the second word unvoiced
  std::vector<float> a(4 * 26, 0.f);
  auto set = [&](int w, int col, float v) { a[static_cast<std::size_t>(w * 26 + col)] = v; };
  set(0, 0, 0.5f), set(1, 0, 0.25f), set(2, 0, 0.25f);
  set(0, 1, 100.f), set(0, 3, 90.f), set(0, 4, 120.f);   // F0 mean, min, max
  set(2, 1, 200.f), set(2, 3, 150.f), set(2, 4, 260.f);
  set(0, 7, -20.f), set(1, 7, -30.f), set(2, 7, -25.f);  // energy dB
  set(3, 0, 9.f), set(3, 1, 999.f);                       // past the length: ignored
  const auto s = mdm::reviews_acoustic_summary(a, 4, 26, 0, 3);
  CHECK(s["words_per_s"].get<double>() == doctest::Approx(3.0));
  CHECK(s["f0_mean_hz"].get<double>() == doctest::Approx(150.0));
  CHECK(s["f0_range_hz"].get<double>() == doctest::Approx(170.0));
  CHECK(s["energy_db_mean"].get<double>() == doctest::Approx(-25.0));
  std::vector<float> silent(26, 0.f);
  silent[0] = 1.f;
  CHECK(mdm::reviews_acoustic_summary(silent, 1, 26, 0, 1)["f0_mean_hz"].is_null());  // no voiced word
}

TEST_CASE("mdm: per-run checkpoint files (--checkpoint, and the one SIGTERM leaves beside --out) stay in their folder") {
  mdm::Options opt;
  opt.out = "results/syn.json";
  opt.checkpoint = "ck/run.ckpt";
  fg::harness::RunSpec spec;
  spec.name = mdm::run_name("tfn", "w-log", 0.001);
  CHECK(spec.name.find('/') == std::string::npos);
  const auto o = fg::harness::train_options(opt, spec, 3, true);
  CHECK(std::filesystem::path(o.checkpoint).parent_path() == "ck");
  opt.checkpoint.clear();
  const auto i = fg::harness::train_options(opt, spec, 3, true);
  CHECK(std::filesystem::path(i.interrupt_checkpoint).parent_path() == "results");
  CHECK(fg::test::contains(i.interrupt_checkpoint, "tfn-w-log-lr0.001-seed3"));
}

// ---------------------------------------------------------------- --tables and the pooled Table 3

namespace {

// A made-up cell: test MAE `mae`, Acc2 `acc2`, and two interpretation rows.
mdm::Cell fake_cell(const std::string& model, const std::string& loss, std::uint64_t seed, double mae, double acc2) {
  mdm::Cell c;
  c.model = model, c.loss = loss, c.seed = seed, c.lr = 0.001;
  c.valid_by_lr = {{0.001, mae + 0.1}};
  c.test.mae = mae, c.test.corr = 0.5, c.test.acc2_has0 = acc2, c.test.acc2_non0 = acc2, c.test.f1_has0 = acc2;
  c.test.f1_non0 = acc2, c.test.acc7 = 0.2, c.test.acc5 = 0.3, c.test.n = 10, c.test.n_non0 = 10;
  for (const char* keep : {"A", "V", "A+V"}) {
    c.dropped[keep] = c.test;
    c.dropped[keep].acc2_has0 = acc2 / 2;
  }
  c.auc = loss == "null" ? NAN : 0.5 + 0.01 * static_cast<double>(seed);
  c.score_agree = 0.1, c.score_disagree = 0.2;
  if (loss != "null")
    c.interpretation = {
        {{"end", "highest"}, {"position", 1}, {"row", 0}, {"critic_score", 1.0}, {"label", 2.0}, {"id", "a"},
         {"text", "one two  three"}, {"prediction", {{"all", 1.5}}},
         {"acoustic", {{"words_per_s", 3.0}, {"f0_mean_hz", 100.0}, {"f0_range_hz", nullptr}, {"energy_db_mean", -20.0}}}},
        {{"end", "lowest"}, {"position", 1}, {"row", 1}, {"critic_score", 0.0}, {"label", -1.0}, {"id", "b"},
         {"text", "four"}, {"prediction", {{"all", 0.5}}},
         {"acoustic", {{"words_per_s", 1.0}, {"f0_mean_hz", 200.0}, {"f0_range_hz", 50.0}, {"energy_db_mean", -30.0}}}}};
  return c;
}

// An --out file as an mdm run writes it (options, dataset, cells, constant predictor).
std::string write_result(const std::filesystem::path& dir, const std::string& name, const std::vector<mdm::Cell>& cells,
                         int epochs = 3) {
  mdm::Options opt;
  opt.epochs = epochs;
  nlohmann::json j = {{"example", "mdm"}, {"options", mdm::options_json(opt)}, {"dataset", {{"kind", "made up"}}}};
  fg::data::RegressionMetrics constant;
  constant.mae = 1.7;
  j["constant_predictor"] = {{"test", fg::harness::metrics_json(constant)}};
  for (const auto& c : cells) j["cells"].push_back(mdm::cell_json(c));
  const std::string path = (dir / name).string();
  std::ofstream(path) << j.dump(2);
  return path;
}

}  // namespace

TEST_CASE("mdm: a cell survives the results JSON (cell_json, cell_from_json)") {
  const mdm::Cell c = fake_cell("lmf", "w", 3, 1.25, 0.625);
  const mdm::Cell b = mdm::cell_from_json(mdm::cell_json(c), "here");
  CHECK(b.model == "lmf");
  CHECK(b.loss == "w");
  CHECK(b.seed == 3);
  CHECK(b.lr == 0.001);
  REQUIRE(b.valid_by_lr.size() == 1);
  CHECK(b.valid_by_lr[0].second == c.valid_by_lr[0].second);
  CHECK(b.test.mae == 1.25);
  CHECK(b.test.acc2_has0 == 0.625);
  CHECK(b.dropped.at("A+V").acc2_has0 == 0.3125);
  CHECK(b.auc == c.auc);
  CHECK(b.score_disagree == 0.2);
  CHECK(b.interpretation == c.interpretation);
  const mdm::Cell n = mdm::cell_from_json(mdm::cell_json(fake_cell("lmf", "null", 0, 1, 0.5)), "here");
  CHECK(std::isnan(n.auc));  // null in the file
  CHECK(fg::test::contains(fg::test::error_of([] { mdm::cell_from_json({{"model", "lmf"}}, "f.json, cells[2]"); }),
                           "f.json, cells[2]: not a cell of mdm's results"));
}

TEST_CASE("mdm --interpret: Table 3 pooled over seeds (interpretation_summary)") {
  mdm::Options opt;
  opt.models = {"lmf"};
  opt.losses = {"null", "w"};
  const std::vector<mdm::Cell> cells = {fake_cell("lmf", "null", 0, 1, 0.5), fake_cell("lmf", "w", 0, 1, 0.5),
                                        fake_cell("lmf", "w", 1, 1, 0.5)};
  nlohmann::json js;
  const std::string text = mdm::interpretation_summary(opt, cells, js);
  CHECK(fg::test::contains(text, "Table 3 pooled over seeds"));
  const auto& hi = js["lmf"]["w"]["highest"];
  CHECK(hi["n"] == 2);               // one row per seed
  CHECK(hi["abs_label"] == 2.0);
  CHECK(hi["positive"] == 1.0);
  CHECK(hi["acc2"] == 1.0);          // prediction 1.5, label 2
  CHECK(hi["words"] == 3.0);         // "one two  three"
  CHECK(hi["f0_range_hz"].is_null());  // unvoiced everywhere: no mean
  const auto& lo = js["lmf"]["w"]["lowest"];
  CHECK(lo["positive"] == 0.0);
  CHECK(lo["acc2"] == 0.0);          // prediction 0.5, label -1
  CHECK(lo["words_per_s"] == 1.0);
  CHECK(lo["agree"].is_null());      // no synthetic truth
  CHECK_FALSE(js["lmf"].contains("null"));  // L_null has no critic
  CHECK(mdm::interpretation_summary(opt, {fake_cell("lmf", "null", 0, 1, 0.5)}, js).empty());
}

TEST_CASE("mdm --tables: runs made in parts give the tables of one run; mismatched or repeated runs are refused") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("fg_test_mdm_tables_{}", ::getpid());
  std::filesystem::create_directories(dir);
  // L_null and L_W of 5 seeds, split over three files as a sweep would leave them
  std::vector<mdm::Cell> a, b, c, all;
  for (std::uint64_t s = 0; s < 5; ++s) {
    all.push_back(fake_cell("lmf", "null", s, 1.0 + 0.01 * static_cast<double>(s), 0.6));
    all.push_back(fake_cell("lmf", "w", s, 0.9 + 0.01 * static_cast<double>(s), 0.7));
    (s < 2 ? a : b).push_back(all[all.size() - 2]);
    c.push_back(all.back());
  }
  const std::string fa = write_result(dir, "a.json", a), fb = write_result(dir, "b.json", b),
                    fc = write_result(dir, "c.json", c);
  mdm::Options opt;
  opt.tables = {fc, fa, fb};
  opt.out = (dir / "merged.json").string();
  opt.figures = (dir / "figs").string();
  opt.quiet = true;
  CHECK(mdm::run_tables(opt) == 0);
  std::ifstream in(opt.out);
  const nlohmann::json m = nlohmann::json::parse(in);
  CHECK(m["cells"].size() == 10);
  CHECK(m["options"]["losses"] == nlohmann::json({"null", "w"}));  // the paper's order, whatever the files' order
  // the p-value is the WMW test of the merged values: every L_W MAE below every L_null MAE
  std::vector<double> null_mae, w_mae;
  for (const auto& x : all) (x.loss == "null" ? null_mae : w_mae).push_back(x.test.mae);
  const auto t = fg::data::mann_whitney_u(w_mae, null_mae);
  CHECK(m["table2"]["lmf"]["w"]["mae"]["n"] == 5);
  CHECK(m["table2"]["lmf"]["w"]["mae"]["wmw_vs_null"]["p"].get<double>() == doctest::Approx(t.p).epsilon(1e-12));
  CHECK(m["table2"]["lmf"]["w"]["mae"]["wmw_vs_null"]["significant"] == true);  // exact p = 2/252
  CHECK(m["modality_drop"]["lmf"]["w"]["A"]["mean"] == doctest::Approx(0.5));
  CHECK(m["interpretation_summary"]["lmf"]["w"]["highest"]["n"] == 5);
  CHECK(std::filesystem::is_regular_file(dir / "figs" / "modality_drop_lmf.svg"));
  // --losses selects rows
  opt.losses = {"null"};
  opt.losses_given = true;
  opt.out = (dir / "null.json").string();
  CHECK(mdm::run_tables(opt) == 0);
  std::ifstream in2(opt.out);
  CHECK(nlohmann::json::parse(in2)["cells"].size() == 5);
  opt.losses_given = false;
  opt.out.clear();
  opt.figures.clear();
  // a run given twice, other settings, other data, not mdm's file, no file
  auto error = [&](std::vector<std::string> files) {
    opt.tables = std::move(files);
    return fg::test::error_of([&] { mdm::run_tables(opt); });
  };
  CHECK(fg::test::contains(error({fa, fa}), "lmf null seed 0 is in both"));
  const std::string fe = write_result(dir, "epochs.json", c, 25);
  CHECK(fg::test::contains(error({fa, fe}), "was run with epochs = 25"));
  {
    nlohmann::json j = nlohmann::json::parse(std::ifstream(fb));
    j["dataset"] = {{"kind", "other"}};
    std::ofstream((dir / "data.json").string()) << j.dump();
  }
  CHECK(fg::test::contains(error({fa, (dir / "data.json").string()}), "describe different datasets"));
  {  // a file from a build that did not record a setting yet: merged, the setting not compared
    nlohmann::json j = nlohmann::json::parse(std::ifstream(fb));
    j["options"].erase("data_seed");
    std::ofstream((dir / "older.json").string()) << j.dump();
    opt.tables = {fa, (dir / "older.json").string()};
    CHECK(mdm::run_tables(opt) == 0);
  }
  std::ofstream((dir / "other.json").string()) << R"({"example": "mfm", "cells": []})";
  CHECK(fg::test::contains(error({(dir / "other.json").string()}), "is not the --out file of an mdm run"));
  std::ofstream((dir / "broken.json").string()) << "{";
  CHECK(fg::test::contains(error({(dir / "broken.json").string()}), "is not JSON"));
  CHECK(fg::test::contains(error({(dir / "missing.json").string()}), "cannot read"));
  std::filesystem::remove_all(dir);
}
