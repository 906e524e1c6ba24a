// examples/harness/trainer.cpp: the training loop, its checkpoints and its signals (trainer.h).
#include "examples/harness/trainer.h"

#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "data/batching.h"
#include "engine/autograd.h"
#include "engine/cuda/cuda_api.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/divergence.h"
#include "engine/optim/schedule.h"
#include "engine/serialize/safetensors.h"
#include "examples/common/cli.h"

namespace fg::harness {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  // a second Ctrl-C ends the program at once
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
}

// Installs on_stop_signal for SIGINT and SIGTERM for a scope.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// Doubles that must come back bit for bit travel as the hex of their bit pattern.
std::string bits_of(double v) {
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return fmt::format("{:016x}", b);
}
double from_bits(const std::string& s) {
  const std::uint64_t b = std::stoull(s, nullptr, 16);
  double v = 0;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

EpochRecord epoch_from_json(const nlohmann::json& j) {
  EpochRecord e;
  e.epoch = j.at("epoch");
  e.train_loss = j.at("train_loss");
  for (const auto& [k, v] : j.at("train_terms").items()) e.train_terms[k] = v.get<double>();
  e.valid = metrics_from_json(j.at("valid"));
  e.lr = j.at("lr");
  e.seconds = j.at("seconds");
  e.samples_per_second = j.at("samples_per_second");
  return e;
}

// Where the loop stands: everything a checkpoint must carry besides tensors.
struct LoopState {
  std::int64_t epochs_done = 0;  // completed epochs (validated)
  std::int64_t batch = 0;        // batches of the current epoch already trained
  std::int64_t global_step = 0;
  double best = std::numeric_limits<double>::infinity();
  std::int64_t best_epoch = 0;
  data::RegressionMetrics best_valid;
  std::int64_t bad_epochs = 0;  // early-stopping counter
  bool stopped_early = false;
  double loss_sum = 0;          // of the current epoch
  std::map<std::string, double> term_sums;
  std::int64_t samples = 0;     // of the current epoch
  std::vector<std::pair<std::string, double>> guard_first;  // the guard's first values, in order
  std::vector<EpochRecord> history;
};

nlohmann::json state_json(const LoopState& s) {
  nlohmann::json terms = nlohmann::json::object(), first = nlohmann::json::array(), hist = nlohmann::json::array();
  for (const auto& [k, v] : s.term_sums) terms[k] = bits_of(v);
  for (const auto& [k, v] : s.guard_first) first.push_back({k, bits_of(v)});
  for (const EpochRecord& e : s.history) hist.push_back(epoch_json(e));
  return {{"epochs_done", s.epochs_done}, {"batch", s.batch},         {"global_step", s.global_step},
          {"best", bits_of(s.best)},      {"best_epoch", s.best_epoch}, {"best_valid", metrics_json(s.best_valid)},
          {"bad_epochs", s.bad_epochs},   {"stopped_early", s.stopped_early}, {"loss_sum", bits_of(s.loss_sum)},
          {"term_sums", terms},           {"samples", s.samples},     {"guard_first", first},
          {"history", hist}};
}

LoopState state_from_json(const nlohmann::json& j) {
  LoopState s;
  s.epochs_done = j.at("epochs_done"), s.batch = j.at("batch"), s.global_step = j.at("global_step");
  s.best = from_bits(j.at("best")), s.best_epoch = j.at("best_epoch");
  s.best_valid = metrics_from_json(j.at("best_valid"));
  s.bad_epochs = j.at("bad_epochs"), s.stopped_early = j.at("stopped_early");
  s.loss_sum = from_bits(j.at("loss_sum"));
  for (const auto& [k, v] : j.at("term_sums").items()) s.term_sums[k] = from_bits(v);
  s.samples = j.at("samples");
  for (const auto& p : j.at("guard_first")) s.guard_first.emplace_back(p.at(0), from_bits(p.at(1)));
  for (const auto& e : j.at("history")) s.history.push_back(epoch_from_json(e));
  return s;
}

constexpr const char* kFormat = "fusegrad harness checkpoint v1";

// The keys of the frozen config that may change between a checkpoint and its resume.
bool may_differ(const std::string& key, const TrainOptions& o) { return key == "epochs" && o.schedule != "linear"; }

struct Schedules {
  std::unique_ptr<optim::LambdaSchedule> lambda;
  std::unique_ptr<optim::ReduceLROnPlateau> plateau;
};

void save_state(const std::string& path, Task& task, optim::Optimizer& opt, const Schedules& sched,
                const LoopState& s, const std::map<std::string, Tensor>& best, const std::vector<double>& step_losses,
                const TrainOptions& o) {
  std::map<std::string, Tensor> tensors;
  const Device cpu = Device::cpu();
  for (const auto& [k, v] : task.module().state_dict()) tensors["model/" + k] = v.detach().to(cpu);
  for (const auto& [k, v] : best) tensors["best/" + k] = v.to(cpu);
  const optim::OptimizerState os = opt.state_dict();
  for (const auto& [k, v] : os.tensors) tensors["optimizer/" + k] = v.to(cpu);
  std::map<std::string, std::string> meta = {{"harness/format", kFormat},
                                             {"harness/optimizer", os.config},
                                             {"harness/config", o.config.dump()},
                                             {"harness/git", cli::build_info().commit}};
  for (auto& [name, extra] : task.extra_optimizers()) {
    const optim::OptimizerState es = extra->state_dict();
    for (const auto& [k, v] : es.tensors) tensors["extra/" + name + "/" + k] = v.to(cpu);
    meta["harness/extra/" + name] = es.config;
  }
  if (!step_losses.empty())
    tensors["trainer/step_losses"] =
        from_vector(step_losses, {static_cast<std::int64_t>(step_losses.size())}, f64_opts());
  nlohmann::json st = state_json(s);
  nlohmann::json gens = nlohmann::json::array();
  for (const auto& [name, g] : task.generators())
    gens.push_back({{"name", name}, {"seed", g->seed()}, {"offset", g->offset()}});
  st["generators"] = gens;
  if (sched.lambda) st["schedule"] = sched.lambda->state_json();
  if (sched.plateau) st["plateau"] = sched.plateau->state_json();
  meta["harness/state"] = st.dump();
  save_safetensors(path, tensors, meta);
}

std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& all, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : all)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  return out;
}

// Restores everything save_state wrote; refuses another run's checkpoint naming the key.
LoopState load_state(const std::string& path, Task& task, optim::Optimizer& opt, Schedules& sched,
                     std::map<std::string, Tensor>& best, std::vector<double>& step_losses, const TrainOptions& o,
                     Device device) {
  const SafetensorsFile f = load_safetensors(path);
  const auto meta = [&](const std::string& k) -> const std::string& {
    const auto it = f.metadata.find(k);
    FG_CHECK(it != f.metadata.end(), "--checkpoint: '{}' is not a training-harness checkpoint (no '{}')", path, k);
    return it->second;
  };
  FG_CHECK(meta("harness/format") == kFormat, "--checkpoint: '{}' has format '{}', expected '{}'", path,
           meta("harness/format"), kFormat);
  const nlohmann::json saved = nlohmann::json::parse(meta("harness/config"));
  for (const auto& [k, v] : o.config.items()) {
    if (may_differ(k, o)) continue;
    FG_CHECK(saved.contains(k) && saved[k] == v,
             "--resume: the checkpoint '{}' was written with {} = {}, this run has {}; resume with the same "
             "settings or start afresh without --resume",
             path, k, saved.contains(k) ? saved[k].dump() : "(nothing)", v.dump());
  }
  for (const auto& [k, v] : saved.items())
    FG_CHECK(o.config.contains(k), "--resume: the checkpoint '{}' has setting {} that this run lacks", path, k);
  task.module().load_state_dict(with_prefix(f.tensors, "model/"), true);
  best.clear();
  for (const auto& [k, v] : with_prefix(f.tensors, "best/")) best[k] = v.to(device);
  opt.load_state_dict({with_prefix(f.tensors, "optimizer/"), meta("harness/optimizer")});
  for (auto& [name, extra] : task.extra_optimizers())
    extra->load_state_dict({with_prefix(f.tensors, "extra/" + name + "/"), meta("harness/extra/" + name)});
  step_losses.clear();
  if (const auto it = f.tensors.find("trainer/step_losses"); it != f.tensors.end())
    step_losses = it->second.to_vector<double>();
  const nlohmann::json st = nlohmann::json::parse(meta("harness/state"));
  LoopState s = state_from_json(st);
  for (auto& [name, g] : task.generators()) {
    bool found = false;
    for (const auto& j : st.at("generators"))
      if (j.at("name") == name) {
        *g = Generator(j.at("seed").get<std::uint64_t>());
        g->reserve(j.at("offset").get<std::uint64_t>());
        found = true;
      }
    FG_CHECK(found, "--resume: the checkpoint '{}' has no state for generator '{}'", path, name);
  }
  if (sched.lambda && st.contains("schedule")) sched.lambda->load_state_json(st.at("schedule"));
  if (sched.plateau && st.contains("plateau")) sched.plateau->load_state_json(st.at("plateau"));
  FG_CHECK(static_cast<std::int64_t>(step_losses.size()) == s.global_step,
           "--checkpoint: '{}' holds {} step losses for {} steps", path, step_losses.size(), s.global_step);
  return s;
}

void append_line(const std::string& path, const nlohmann::json& j) {
  if (path.empty()) return;
  std::ofstream f(path, std::ios::app);
  f << j.dump() << "\n" << std::flush;  // one line per event, written whole
  FG_CHECK(f.good(), "--log: writing '{}' failed", path);
}

}  // namespace

data::RegressionMetrics metrics_from_json(const nlohmann::json& j) {
  auto num = [&](const char* k) { return j.at(k).is_null() ? std::nan("") : j.at(k).get<double>(); };
  data::RegressionMetrics m;
  m.mae = num("mae"), m.corr = num("corr"), m.acc2_has0 = num("acc2_has0"), m.acc2_non0 = num("acc2_non0");
  m.f1_has0 = num("f1_has0"), m.f1_non0 = num("f1_non0"), m.acc7 = num("acc7"), m.acc5 = num("acc5");
  m.n = j.at("n").get<std::int64_t>(), m.n_non0 = j.at("n_non0").get<std::int64_t>();
  return m;
}

int stop_signal() { return g_signal; }
void clear_stop_signal() { g_signal = 0; }

nlohmann::json metrics_json(const data::RegressionMetrics& m) {
  return {{"mae", m.mae},         {"corr", m.corr},       {"acc2_has0", m.acc2_has0}, {"acc2_non0", m.acc2_non0},
          {"f1_has0", m.f1_has0}, {"f1_non0", m.f1_non0}, {"acc7", m.acc7},           {"acc5", m.acc5},
          {"n", m.n},             {"n_non0", m.n_non0}};
}

nlohmann::json epoch_json(const EpochRecord& e) {
  return {{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_terms", e.train_terms},
          {"valid", metrics_json(e.valid)}, {"lr", e.lr}, {"seconds", e.seconds},
          {"samples_per_second", e.samples_per_second}};
}

std::string loss_fingerprint(const std::vector<double>& losses) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const double v : losses) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    for (int byte = 0; byte < 8; ++byte) {
      h ^= (bits >> (8 * byte)) & 0xffu;
      h *= 0x100000001b3ull;
    }
  }
  return fmt::format("{:016x}", h);
}

DeterministicScope::DeterministicScope(bool on) : was_(cuda::deterministic()) {
  if (on) cuda::set_deterministic(true);
}
DeterministicScope::~DeterministicScope() { cuda::set_deterministic(was_); }

ProgressBar::ProgressBar(bool enabled, std::int64_t epoch, std::int64_t epochs, std::int64_t total,
                         const std::string& label)
    : enabled_(enabled), total_(total) {
  if (!enabled_) return;
  std::fprintf(stderr, "%-8s epoch %*lld/%lld [", label.c_str(), static_cast<int>(std::to_string(epochs).size()),
               static_cast<long long>(epoch), static_cast<long long>(epochs));
  std::fflush(stderr);
}
ProgressBar::~ProgressBar() {
  if (enabled_ && !finished_) std::fputc('\n', stderr);
}
void ProgressBar::advance(std::int64_t done) {
  if (!enabled_) return;
  const std::int64_t target = total_ == 0 ? kWidth : done * kWidth / total_;
  for (; drawn_ < target; ++drawn_) std::fputc('=', stderr);
  std::fflush(stderr);
}
void ProgressBar::finish(const std::string& summary) {
  if (!enabled_) return;
  advance(total_);
  std::fprintf(stderr, "] %s\n", summary.c_str());
  std::fflush(stderr);
  finished_ = true;
}

std::vector<double> predict_split(Task& task, const data::MultimodalSplit& split, std::int64_t batch_size,
                                  Device device, const std::vector<std::string>& drop) {
  NoGradGuard no_grad;
  const bool was = task.module().is_training();
  task.module().train(false);
  data::BatchLoader loader(split, data::BatchOptions{batch_size, /*shuffle=*/false, 0, true, device});
  std::vector<double> pred;
  pred.reserve(static_cast<std::size_t>(split.size()));
  for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
    data::Batch batch = loader.batch(b);
    data::zero_modalities(batch, drop);
    const auto p = task.predict(batch).to_vector<double>();
    pred.insert(pred.end(), p.begin(), p.end());
  }
  task.module().train(was);
  return pred;
}

data::RegressionMetrics evaluate(Task& task, const data::MultimodalSplit& split, std::int64_t batch_size,
                                 Device device, const std::vector<std::string>& drop) {
  const std::vector<double> pred = predict_split(task, split, batch_size, device, drop);
  return data::regression_metrics(pred, split.labels.to(DType::f64).to_vector<double>());
}

data::RegressionMetrics constant_predictor(const data::MultimodalSplit& train, const data::MultimodalSplit& split) {
  const auto y_train = train.labels.to_vector<double>();
  double mean = 0;
  for (double v : y_train) mean += v;
  mean /= static_cast<double>(y_train.size());
  const auto y = split.labels.to_vector<double>();
  return data::regression_metrics(std::vector<double>(y.size(), mean), y);
}

FitResult fit(Task& task, const data::MultimodalSplit& train, const data::MultimodalSplit& valid,
              const TrainOptions& o, std::ostream& log, const Observer& observer) {
  const auto t0 = Clock::now();
  const StopSignals signals;
  const DeterministicScope deterministic(o.deterministic);
  const Device device = parse_device(o.device);
  FG_CHECK(o.optimizer == "adam" || o.optimizer == "adamw", "--optimizer: expected adam or adamw, got '{}'",
           o.optimizer);
  FG_CHECK(o.schedule == "constant" || o.schedule == "linear" || o.schedule == "plateau",
           "--schedule: expected constant, linear or plateau, got '{}'", o.schedule);

  const std::vector<Tensor> params = task.parameters();
  std::unique_ptr<optim::Optimizer> opt;
  if (o.optimizer == "adamw") {
    optim::AdamWOptions a;
    a.lr = o.lr, a.weight_decay = o.weight_decay;
    opt = std::make_unique<optim::AdamW>(task.param_groups(), a);
  } else {
    optim::AdamOptions a;
    a.lr = o.lr, a.weight_decay = o.weight_decay;
    opt = std::make_unique<optim::Adam>(task.param_groups(), a);
  }
  data::BatchLoader loader(train, data::BatchOptions{o.batch_size, true, data::derive_seed(o.seed, 3000), true, device});
  const std::int64_t nb = loader.num_batches();
  Schedules sched;
  if (o.schedule == "linear") {
    sched.lambda = std::make_unique<optim::LinearWarmupSchedule>(*opt, o.warmup_steps, o.epochs * nb);
  } else if (o.schedule == "plateau") {
    optim::PlateauOptions p;
    p.factor = o.plateau_factor, p.patience = o.plateau_patience;
    sched.plateau = std::make_unique<optim::ReduceLROnPlateau>(*opt, p);
  }

  FitResult result;
  for (const Tensor& p : params) result.parameters += p.numel();
  LoopState s;
  std::map<std::string, Tensor> best;
  if (o.resume && !o.checkpoint.empty() && std::filesystem::exists(o.checkpoint)) {
    s = load_state(o.checkpoint, task, *opt, sched, best, result.step_losses, o, device);
    result.resumed = true;
    if (!o.quiet)
      log << fmt::format("{}: resumed from '{}' at epoch {}, batch {} (global step {})\n", o.name, o.checkpoint,
                         s.epochs_done + (s.batch > 0 ? 1 : 0), s.batch, s.global_step)
          << std::flush;
    append_line(o.log, {{"kind", "resume"}, {"run", o.name}, {"checkpoint", o.checkpoint},
                        {"epoch", s.epochs_done}, {"step", s.global_step}});
  }

  optim::DivergenceGuard guard(fmt::format("run '{}'", o.name),
                               {.hint = o.hint.empty() ? fmt::format("lower --lr (now {})", o.lr) : o.hint});
  for (const auto& [term, first] : s.guard_first) guard.check(term, first, "resume");  // the same bounds again
  auto guarded = [&](const std::string& term, double v, const std::string& where) {
    guard.check(term, v, where);
    for (const auto& [k, _] : s.guard_first)
      if (k == term) return;
    s.guard_first.emplace_back(term, v);
  };
  const std::string checkpoint_path = o.checkpoint;
  auto write_checkpoint = [&](const std::string& path) {
    save_state(path, task, *opt, sched, s, best, result.step_losses, o);
    if (observer.on_checkpoint) observer.on_checkpoint(path);
  };
  auto interrupt = [&](int sig) {
    std::string where = "no checkpoint written";
    const std::string path = checkpoint_path.empty() ? o.interrupt_checkpoint : checkpoint_path;
    if (!path.empty()) {
      write_checkpoint(path);
      where = fmt::format("checkpoint '{}' written; continue with --checkpoint {} --resume", path, path);
    }
    append_line(o.log, {{"kind", "interrupted"}, {"run", o.name}, {"signal", sig}, {"step", s.global_step}});
    result.history = s.history;
    result.best_epoch = s.best_epoch, result.best_valid = s.best_valid;
    result.seconds = seconds_since(t0);
    Interrupted e(sig, fmt::format("run '{}': {} at epoch {}, step {} (global step {}); {}", o.name,
                                   sig == SIGTERM ? "SIGTERM" : "interrupted (SIGINT)", s.epochs_done + 1, s.batch,
                                   s.global_step, where));
    e.partial = result;
    throw e;
  };
  if (stop_signal() != 0) interrupt(stop_signal());

  for (std::int64_t epoch = s.epochs_done + 1; epoch <= o.epochs && !s.stopped_early; ++epoch) {
    const auto te = Clock::now();
    task.module().train(true);
    loader.set_epoch(epoch - 1);
    ProgressBar bar(!o.quiet, epoch, o.epochs, nb, o.name);
    bar.advance(s.batch);
    for (std::int64_t b = s.batch; b < nb; ++b) {
      const data::Batch batch = loader.batch(b);
      const std::int64_t step = s.global_step + 1;
      const std::string where = fmt::format("epoch {}, step {} (global step {})", epoch, b + 1, step);
      StepContext ctx{*opt, o.clip, [&](const std::string& term, double v) {
                        guarded(fmt::format("loss term '{}'", term), v, where);
                      }};
      const StepOutput out = task.train_step(batch, ctx);
      if (sched.lambda) sched.lambda->step();
      s.global_step = step;
      s.batch = b + 1;
      s.loss_sum += out.total;
      for (const auto& [k, v] : out.terms) s.term_sums[k] += v;
      s.samples += batch.size();
      result.step_losses.push_back(out.total);
      bar.advance(b + 1);
      if (observer.on_step) observer.on_step(epoch, step, out);
      if (stop_signal() != 0) interrupt(stop_signal());
    }
    EpochRecord rec;
    rec.epoch = epoch;
    rec.train_loss = s.loss_sum / static_cast<double>(nb);
    for (const auto& [k, v] : s.term_sums) rec.train_terms[k] = v / static_cast<double>(nb);
    rec.valid = evaluate(task, valid, o.batch_size, device);
    guarded("validation metric 'mae'", rec.valid.mae, fmt::format("the end of epoch {}", epoch));
    rec.seconds = seconds_since(te);
    rec.samples_per_second = rec.seconds > 0 ? static_cast<double>(s.samples) / rec.seconds : 0;
    const bool improved = rec.valid.mae < s.best;
    if (improved) {
      s.best = rec.valid.mae;
      s.best_epoch = epoch;
      s.best_valid = rec.valid;
      s.bad_epochs = 0;
      best.clear();
      for (const auto& [k, v] : task.module().state_dict()) best[k] = v.detach().clone();
    } else {
      ++s.bad_epochs;
    }
    if (sched.plateau) sched.plateau->step(rec.valid.mae);
    rec.lr = opt->lr();
    bar.finish(fmt::format("train loss {:.4f}  ({:.2f} s, {:.0f} utt/s)", rec.train_loss, rec.seconds,
                           rec.samples_per_second));
    if (!o.quiet)
      log << fmt::format("{:<8} epoch {:>3}  valid {}{}\n", o.name, epoch,
                         o.valid_is_loss ? fmt::format("loss {:.4f}", rec.valid.mae) : data::format_metrics(rec.valid),
                         improved ? "  *best" : "")
          << std::flush;
    append_line(o.log, {{"kind", "epoch"}, {"run", o.name}, {"epoch", epoch}, {"step", s.global_step},
                        {"train_loss", rec.train_loss}, {"train_terms", rec.train_terms}, {"lr", rec.lr},
                        {"seconds", rec.seconds}, {"samples_per_second", rec.samples_per_second}});
    append_line(o.log, {{"kind", "eval"}, {"run", o.name}, {"split", "valid"}, {"epoch", epoch},
                        {"step", s.global_step}, {"metrics", metrics_json(rec.valid)}, {"best", improved}});
    s.history.push_back(rec);
    s.epochs_done = epoch;
    s.batch = 0;
    s.loss_sum = 0;
    s.term_sums.clear();
    s.samples = 0;
    if (o.patience > 0 && s.bad_epochs >= o.patience) s.stopped_early = true;
    if (observer.on_epoch) observer.on_epoch(rec, improved);
    const bool last = epoch == o.epochs || s.stopped_early;
    if (!checkpoint_path.empty() && (last || epoch % std::max<std::int64_t>(1, o.checkpoint_every) == 0))
      write_checkpoint(checkpoint_path);
    if (s.stopped_early && !o.quiet)
      log << fmt::format("{}: no better valid MAE for {} epochs (--patience): stopped after epoch {}\n", o.name,
                         o.patience, epoch)
          << std::flush;
  }
  // selection happened on valid only; the best weights go back into the module
  if (!best.empty()) task.module().load_state_dict(best, true);
  result.history = s.history;
  result.best_epoch = s.best_epoch;
  result.best_valid = s.best_valid;
  result.stopped_early = s.stopped_early;
  result.seconds = seconds_since(t0);
  return result;
}

}  // namespace fg::harness
