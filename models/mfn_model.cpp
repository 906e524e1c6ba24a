// models/mfn_model.cpp: see mfn_model.h.
#include "models/mfn_model.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

MFNModel::MFNModel(const MFNConfig& config, Generator& init_gen, TensorOptions opts,
                   std::shared_ptr<Generator> dropout_gen) {
  FG_CHECK(config.output_size == 1, "MFN (zoo): output_size must be 1 (one sentiment score), got {}",
           config.output_size);
  FG_CHECK(config.batch_first, "MFN (zoo): batch_first must be true (data::Batch features are [B, T, D])");
  mfn = register_module("mfn", std::make_shared<MFN>(config, init_gen, opts, std::move(dropout_gen)));
}

SentimentOutput MFNModel::forward(const data::Batch& batch) {
  FG_CHECK(batch.modality_lengths.empty() && batch.lengths.defined(),
           "MFN needs word-aligned data (its memory reads every modality at the same step): this batch is unaligned "
           "(per-modality lengths). Use an aligned split, or TFN, LMF or late_fusion");
  const MFNConfig& c = mfn->config();
  std::vector<Tensor> xs, present;
  for (const std::string& name : c.modality_names) {
    const Tensor& x = batch.modality(name);
    present.push_back(present_column(batch, name, x));
    xs.push_back(x * unsqueeze(present.back(), 2));
  }
  const MFNOutput o = mfn->forward(xs, batch.lengths.to(xs[0].device()));
  SentimentOutput res;
  res.z = o.features;
  res.prediction = reshape(o.output, {batch.size()});
  std::int64_t at = 0;
  for (std::size_t m = 0; m < xs.size(); ++m) {
    res.encodings.push_back(slice(o.features, 1, at, c.hidden_sizes[m]) * present[m]);
    at += c.hidden_sizes[m];
  }
  return res;
}

}  // namespace fg::models
