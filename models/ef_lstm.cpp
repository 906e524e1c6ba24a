// models/ef_lstm.cpp: see ef_lstm.h.
#include "models/ef_lstm.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

void EFLSTMConfig::validate() const {
  const std::size_t M = modalities.size();
  FG_CHECK(M >= 1, "EF-LSTM: modalities must name at least one modality");
  FG_CHECK(input_dims.size() == M, "EF-LSTM: input_dims needs one entry per modality ({}), got {}", M,
           input_dims.size());
  for (std::size_t m = 0; m < M; ++m)
    FG_CHECK(input_dims[m] > 0, "EF-LSTM: input_dims[{}] must be positive, got {}", m, input_dims[m]);
  FG_CHECK(hidden > 0, "EF-LSTM: hidden must be positive, got {}", hidden);
  FG_CHECK(num_layers >= 1, "EF-LSTM: num_layers must be at least 1, got {}", num_layers);
  FG_CHECK(dropout >= 0.0 && dropout < 1.0, "EF-LSTM: dropout must be in [0, 1), got {}", dropout);
}

EFLSTM::EFLSTM(const EFLSTMConfig& config, Generator& init_gen, TensorOptions opts,
               std::shared_ptr<Generator> dropout_gen)
    : config_(config), dropout_gen_(std::move(dropout_gen)) {
  config_.validate();
  std::int64_t in = 0;
  for (std::int64_t d : config_.input_dims) in += d;
  nn::LSTMOptions o;
  o.input_size = in;
  o.hidden_size = config_.hidden;
  o.num_layers = config_.num_layers;
  o.batch_first = true;
  o.dropout = config_.num_layers > 1 ? config_.dropout : 0.0;
  o.param_options = opts;
  o.dropout_generator = dropout_gen_;
  lstm = register_module("lstm", std::make_shared<nn::LSTM>(o, init_gen));
  linear = register_module("linear", std::make_shared<nn::Linear>(config_.hidden, config_.hidden, init_gen, true, opts));
  out = register_module("out", std::make_shared<nn::Linear>(config_.hidden, 1, init_gen, true, opts));
}

SentimentOutput EFLSTM::forward(const data::Batch& batch) {
  FG_CHECK(batch.modality_lengths.empty() && batch.lengths.defined(),
           "EF-LSTM needs word-aligned data (one time grid shared by every modality, as MOSI's aligned features): "
           "this batch is unaligned (per-modality lengths). Use an aligned split, or TFN, LMF or late_fusion");
  std::vector<Tensor> parts;
  for (std::size_t m = 0; m < config_.modalities.size(); ++m) {
    const std::string& name = config_.modalities[m];
    const Tensor& x = batch.modality(name);
    FG_CHECK(x.dim() == 3 && x.size(2) == config_.input_dims[m], "EF-LSTM: modality '{}' must be [B, T, {}], got {}",
             name, config_.input_dims[m], x.str());
    FG_CHECK(parts.empty() || x.size(1) == parts[0].size(1),
             "EF-LSTM needs word-aligned data: modality '{}' has {} steps but '{}' has {}", name, x.size(1),
             config_.modalities[0], parts.empty() ? 0 : parts[0].size(1));
    parts.push_back(x * unsqueeze(present_column(batch, name, x), 2));  // a missing modality's slice is zero
  }
  const Tensor x = parts.size() == 1 ? parts[0] : concat(parts, 2);  // [B, T, sum D_m]
  const nn::LSTMResult r = lstm->forward(x, batch.lengths.to(x.device()));
  SentimentOutput res;
  res.z = select(r.h_n, 0, config_.num_layers - 1);  // [B, H]: the last layer at each length
  Generator& gen = dropout_gen_ ? *dropout_gen_ : default_generator();
  const bool train = is_training();
  Tensor h = dropout(res.z, config_.dropout, train, gen);
  h = dropout(relu(linear->forward(h)), config_.dropout, train, gen);
  res.prediction = reshape(out->forward(h), {batch.size()});
  res.encodings.assign(config_.modalities.size(), Tensor());
  return res;
}

}  // namespace fg::models
