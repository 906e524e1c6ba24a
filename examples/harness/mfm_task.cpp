// examples/harness/mfm_task.cpp: see mfm_task.h.
#include "examples/harness/mfm_task.h"

#include <algorithm>

#include "data/dataset.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace fg::harness {

namespace {

template <class T>
std::vector<T> per_modality(const nlohmann::json& c, const char* key, std::size_t M, std::vector<T> fallback) {
  if (!c.contains(key)) return fallback;
  std::vector<T> v;
  if (c.at(key).is_array())
    v = c.at(key).get<std::vector<T>>();
  else
    v.assign(M, c.at(key).get<T>());
  FG_CHECK(v.size() == M, "mfm: model config '{}' needs one value per modality ({}), got {}", key, M, v.size());
  return v;
}

}  // namespace

models::MFMConfig mfm_config(const std::vector<std::string>& modalities, const std::vector<std::int64_t>& input_dims,
                             const nlohmann::json& c) {
  static const std::vector<std::string> known = {"variant", "mmd_placement", "lambda_mmd", "lambda_recon", "hidden",
                                                 "memory",  "encoder_hidden", "zy", "za", "fy", "fa", "dropout"};
  for (const auto& [k, _] : c.items())
    FG_CHECK(std::find(known.begin(), known.end(), k) != known.end(), "mfm: unknown model config key '{}'", k);
  models::MFMConfig m;
  const std::size_t M = modalities.size();
  // the defaults are per modality for text, acoustic, visual; other sets take the first M or
  // repeat the last
  auto fit = [&](auto v) {
    v.resize(M, v.back());
    return v;
  };
  m.modality_names = modalities;
  m.input_sizes = input_dims;
  m.mfn.hidden_sizes = fit(m.mfn.hidden_sizes);
  m.encoder_hidden = fit(m.encoder_hidden);
  m.za_sizes = fit(m.za_sizes);
  m.fa_sizes = fit(m.fa_sizes);
  m.lambda_recon = fit(m.lambda_recon);
  if (c.contains("variant")) m.variant = models::parse_mfm_variant(c.at("variant").get<std::string>());
  if (c.contains("mmd_placement"))
    m.mmd_placement = models::parse_mmd_placement(c.at("mmd_placement").get<std::string>());
  if (c.contains("lambda_mmd")) m.lambda_mmd = c.at("lambda_mmd");
  m.lambda_recon = per_modality<double>(c, "lambda_recon", M, m.lambda_recon);
  m.mfn.hidden_sizes = per_modality<std::int64_t>(c, "hidden", M, m.mfn.hidden_sizes);
  if (c.contains("memory")) m.mfn.memory_size = c.at("memory");
  m.encoder_hidden = per_modality<std::int64_t>(c, "encoder_hidden", M, m.encoder_hidden);
  if (c.contains("zy")) m.zy_size = c.at("zy");
  if (c.contains("fy")) m.fy_size = c.at("fy");
  m.za_sizes = per_modality<std::int64_t>(c, "za", M, m.za_sizes);
  m.fa_sizes = per_modality<std::int64_t>(c, "fa", M, m.fa_sizes);
  if (c.contains("dropout")) m.dropout = c.at("dropout");
  m.validate();
  return m;
}

MfmTask::MfmTask(std::shared_ptr<models::MFM> model, std::uint64_t seed, std::shared_ptr<Generator> dropout)
    : model_(std::move(model)), dropout_(std::move(dropout)), prior_(data::derive_seed(seed, 3000)) {}

Loss MfmTask::loss(const data::Batch& batch) {
  const models::MFMOutput o = model_->forward_all(batch);
  models::MFMLoss l = models::mfm_objective(model_->config(), batch, o, models::draw_mfm_prior(model_->config(), o, prior_));
  return Loss{l.total, std::move(l.terms)};
}

Tensor MfmTask::predict(const data::Batch& batch) { return model_->forward(batch).prediction; }

std::vector<std::pair<std::string, Generator*>> MfmTask::generators() {
  std::vector<std::pair<std::string, Generator*>> g = {{"prior", &prior_}};
  if (dropout_) g.emplace_back("dropout", dropout_.get());
  return g;
}

void register_mfm_task(std::function<void(std::shared_ptr<models::MFM>)> on_build) {
  register_task("mfm", [on_build](const ModelSpec& spec) -> std::unique_ptr<Task> {
    Generator init(data::derive_seed(spec.seed, 1000));
    auto dropout = std::make_shared<Generator>(data::derive_seed(spec.seed, 2000));
    const models::MFMConfig c = mfm_config(spec.modalities, spec.input_dims, spec.config);
    TensorOptions opts;
    opts.device = spec.device;
    auto model = std::make_shared<models::MFM>(c, init, opts, dropout);
    if (on_build) on_build(model);
    return std::make_unique<MfmTask>(std::move(model), spec.seed, dropout);
  });
}

}  // namespace fg::harness
