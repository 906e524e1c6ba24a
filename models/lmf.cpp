// models/lmf.cpp: see lmf.h.
#include "models/lmf.h"

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace fg::models {

SubNetSettings LMFConfig::subnet_settings() const {
  return SubNetSettings{modalities, input_dims, hidden, sequence_modalities, text_out, dropouts};
}

void LMFConfig::validate() const {
  subnet_settings().validate("LMF");
  FG_CHECK(rank >= 1, "LMF: rank must be at least 1, got {}", rank);
  FG_CHECK(fusion_dim >= 1, "LMF: fusion_dim must be positive, got {}", fusion_dim);
}

LMF::LMF(const LMFConfig& config, Generator& init_gen, TensorOptions opts, std::shared_ptr<Generator> dropout_gen)
    : config_(config) {
  config_.validate();
  const SubNetSettings s = config_.subnet_settings();
  subnets = std::make_unique<SubNets>(*this, s, init_gen, opts, std::move(dropout_gen));
  const std::vector<std::int64_t> dims = s.out_dims();
  for (std::size_t m = 0; m < dims.size(); ++m) {
    Tensor f = empty({config_.rank, dims[m] + 1, config_.fusion_dim}, opts);
    nn::init::xavier_normal_(f, init_gen);
    factors.push_back(register_parameter(config_.modalities[m] + "_factor", f));
  }
  Tensor w = empty({1, config_.rank}, opts);
  nn::init::xavier_normal_(w, init_gen);
  fusion_weights = register_parameter("fusion_weights", w);
  fusion_bias = register_parameter("fusion_bias", zeros({1, config_.fusion_dim}, opts));
  out = register_module("out", std::make_shared<nn::Linear>(config_.fusion_dim, 1, init_gen, true, opts));
}

Tensor LMF::fuse(const std::vector<Tensor>& hs) const {
  FG_CHECK(hs.size() == factors.size(), "LMF: expected {} encodings, got {}", factors.size(), hs.size());
  const std::int64_t B = hs[0].size(0), r = config_.rank, dh = config_.fusion_dim;
  const Tensor one = ones({B, 1}, hs[0].options());
  Tensor prod;
  for (std::size_t m = 0; m < hs.size(); ++m) {
    const Tensor zm = concat({one, hs[m]}, 1);                                       // [B, d_m + 1]
    const std::int64_t n = zm.size(1);
    const Tensor wm = reshape(permute(factors[m], {1, 0, 2}), {n, r * dh});         // [d_m + 1, r d_h]
    const Tensor fm = matmul(zm, wm);                                                // [B, r d_h]
    prod = m == 0 ? fm : mul(prod, fm);
  }
  const Tensor per_rank = reshape(prod, {B, r, dh});
  const Tensor weighted = sum(mul(per_rank, reshape(fusion_weights, {1, r, 1})), 1);  // [B, d_h]
  return add(weighted, fusion_bias);
}

SentimentOutput LMF::forward(const data::Batch& batch) {
  SentimentOutput res;
  res.encodings = subnets->forward(batch, "LMF");
  res.z = fuse(res.encodings);
  res.prediction = reshape(out->forward(res.z), {batch.size()});
  return res;
}

}  // namespace fg::models
