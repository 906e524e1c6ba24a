// models/late_fusion.cpp: see late_fusion.h.
#include "models/late_fusion.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

void LateFusionConfig::validate() const {
  const std::size_t M = modalities.size();
  FG_CHECK(M >= 1, "LateFusion: modalities must name at least one modality");
  FG_CHECK(input_dims.size() == M && hidden.size() == M,
           "LateFusion: modalities, input_dims and hidden need one entry per modality, got {}, {} and {}", M,
           input_dims.size(), hidden.size());
  for (std::size_t m = 0; m < M; ++m) {
    FG_CHECK(input_dims[m] > 0, "LateFusion: input_dims[{}] must be positive, got {}", m, input_dims[m]);
    FG_CHECK(hidden[m] > 0, "LateFusion: hidden[{}] must be positive, got {}", m, hidden[m]);
  }
  FG_CHECK(head_hidden > 0, "LateFusion: head_hidden must be positive, got {}", head_hidden);
  FG_CHECK(dropout >= 0.0 && dropout < 1.0, "LateFusion: dropout must be in [0, 1), got {}", dropout);
}

LateFusion::LateFusion(const LateFusionConfig& config, Generator& init_gen, TensorOptions opts,
                       std::shared_ptr<Generator> dropout_gen)
    : config_(config) {
  config_.validate();
  for (std::size_t m = 0; m < config_.modalities.size(); ++m) {
    nn::MLPOptions enc;
    enc.sizes = {config_.input_dims[m], config_.hidden[m], config_.hidden[m]};
    enc.activations = {nn::Activation::ReLU};
    enc.dropout = {config_.dropout};
    enc.activate_last = true;
    enc.param_options = opts;
    enc.dropout_generator = dropout_gen;
    encoders.push_back(register_module(config_.modalities[m] + "_encoder", std::make_shared<nn::MLP>(enc, init_gen)));
  }
  nn::MLPOptions h;
  h.sizes = {fused_dim(), config_.head_hidden, 1};
  h.activations = {nn::Activation::ReLU};
  h.dropout = {config_.dropout};
  h.param_options = opts;
  h.dropout_generator = dropout_gen;
  head = register_module("head", std::make_shared<nn::MLP>(h, init_gen));
}

std::int64_t LateFusion::fused_dim() const {
  std::int64_t d = 0;
  for (std::int64_t h : config_.hidden) d += h;
  return d;
}

SentimentOutput LateFusion::forward(const data::Batch& batch) {
  SentimentOutput out;
  std::vector<Tensor> parts;
  for (std::size_t m = 0; m < config_.modalities.size(); ++m) {
    const std::string& name = config_.modalities[m];
    const Tensor& x = batch.modality(name);
    FG_CHECK(x.dim() == 3 && x.size(2) == config_.input_dims[m], "LateFusion: modality '{}' must be [B, T, {}], got {}",
             name, config_.input_dims[m], x.str());
    const Tensor pooled = masked_time_mean(x, batch_mask(batch, name).to(x.dtype()));  // [B, D_m]
    const Tensor e = encoders[m]->forward(pooled) * present_column(batch, name, x);  // [B, h_m]
    out.encodings.push_back(e);
    parts.push_back(e);
  }
  out.z = parts.size() == 1 ? parts[0] : concat(parts, 1);
  out.prediction = reshape(head->forward(out.z), {batch.size()});
  return out;
}

}  // namespace fg::models
