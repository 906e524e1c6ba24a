// models/tfn.cpp: see tfn.h.
#include "models/tfn.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

SequenceSubNet::SequenceSubNet(std::int64_t in, std::int64_t hidden, std::int64_t out, Generator& gen,
                               TensorOptions opts) {
  nn::LSTMOptions o;
  o.input_size = in;
  o.hidden_size = hidden;
  o.batch_first = true;
  o.param_options = opts;
  rnn = register_module("rnn", std::make_shared<nn::LSTM>(o, gen));
  linear_1 = register_module("linear_1", std::make_shared<nn::Linear>(hidden, out, gen, true, opts));
}

Tensor SequenceSubNet::forward(const Tensor& x, const Tensor& lengths) const {
  const nn::LSTMResult r = rnn->forward(x, lengths.to(x.device()));
  return linear_1->forward(select(r.h_n, 0, 0));
}

FeatureSubNet::FeatureSubNet(std::int64_t in, std::int64_t hidden, double p, Generator& gen, TensorOptions opts,
                             std::shared_ptr<Generator> dropout_gen)
    : dropout(p), dropout_gen_(std::move(dropout_gen)) {
  linear_1 = register_module("linear_1", std::make_shared<nn::Linear>(in, hidden, gen, true, opts));
  linear_2 = register_module("linear_2", std::make_shared<nn::Linear>(hidden, hidden, gen, true, opts));
  linear_3 = register_module("linear_3", std::make_shared<nn::Linear>(hidden, hidden, gen, true, opts));
}

Tensor FeatureSubNet::forward(const Tensor& x) const {
  Generator& gen = dropout_gen_ ? *dropout_gen_ : default_generator();
  const Tensor d = fg::dropout(x, dropout, is_training(), gen);
  return relu(linear_3->forward(relu(linear_2->forward(relu(linear_1->forward(d))))));
}

void SubNetSettings::validate(const char* model) const {
  const std::size_t M = modalities.size();
  FG_CHECK(M >= 1, "{}: modalities must name at least one modality", model);
  FG_CHECK(input_dims.size() == M && hidden.size() == M && dropouts.size() == M,
           "{}: modalities, input_dims, hidden and dropouts need one entry per modality, got {}, {}, {} and {}", model,
           M, input_dims.size(), hidden.size(), dropouts.size());
  for (std::size_t m = 0; m < M; ++m) {
    FG_CHECK(input_dims[m] > 0, "{}: input_dims[{}] must be positive, got {}", model, m, input_dims[m]);
    FG_CHECK(hidden[m] > 0, "{}: hidden[{}] must be positive, got {}", model, m, hidden[m]);
    FG_CHECK(dropouts[m] >= 0.0 && dropouts[m] < 1.0, "{}: dropouts[{}] must be in [0, 1), got {}", model, m,
             dropouts[m]);
  }
  for (const std::string& s : sequence_modalities)
    FG_CHECK(std::find(modalities.begin(), modalities.end(), s) != modalities.end(),
             "{}: sequence modality '{}' is not one of the modalities", model, s);
  if (!sequence_modalities.empty()) FG_CHECK(text_out > 0, "{}: text_out must be positive, got {}", model, text_out);
}

bool SubNetSettings::is_sequence(std::size_t m) const {
  return std::find(sequence_modalities.begin(), sequence_modalities.end(), modalities[m]) != sequence_modalities.end();
}

std::vector<std::int64_t> SubNetSettings::out_dims() const {
  std::vector<std::int64_t> d;
  for (std::size_t m = 0; m < modalities.size(); ++m) d.push_back(is_sequence(m) ? text_out : hidden[m]);
  return d;
}

SubNets::SubNets(nn::Module& owner, const SubNetSettings& s, Generator& gen, TensorOptions opts,
                 std::shared_ptr<Generator> dropout_gen)
    : s_(s) {
  for (std::size_t m = 0; m < s.modalities.size(); ++m) {
    std::shared_ptr<nn::Module> net;
    if (s.is_sequence(m))
      net = std::make_shared<SequenceSubNet>(s.input_dims[m], s.hidden[m], s.text_out, gen, opts);
    else
      net = std::make_shared<FeatureSubNet>(s.input_dims[m], s.hidden[m], s.dropouts[m], gen, opts, dropout_gen);
    nets.push_back(owner.register_module(s.modalities[m] + "_subnet", net));
  }
}

std::vector<Tensor> SubNets::forward(const data::Batch& batch, const char* model) const {
  std::vector<Tensor> hs;
  for (std::size_t m = 0; m < s_.modalities.size(); ++m) {
    const std::string& name = s_.modalities[m];
    const Tensor& x = batch.modality(name);
    FG_CHECK(x.dim() == 3 && x.size(2) == s_.input_dims[m], "{}: modality '{}' must be [B, T, {}], got {}", model,
             name, s_.input_dims[m], x.str());
    Tensor h;
    if (s_.is_sequence(m))
      h = static_cast<const SequenceSubNet&>(*nets[m]).forward(x, batch_lengths(batch, name));
    else
      h = static_cast<const FeatureSubNet&>(*nets[m]).forward(masked_time_mean(x, batch_mask(batch, name).to(x.dtype())));
    hs.push_back(h * present_column(batch, name, x));
  }
  return hs;
}

Tensor tensor_fusion(const std::vector<Tensor>& hs) {
  FG_CHECK(!hs.empty(), "tensor_fusion: no modality");
  const std::int64_t B = hs[0].size(0);
  const Tensor one = ones({B, 1}, hs[0].options());
  Tensor z = concat({one, hs[0]}, 1);
  for (std::size_t m = 1; m < hs.size(); ++m) {
    const Tensor hm = concat({one, hs[m]}, 1);                            // [B, d_m + 1]
    z = reshape(mul(unsqueeze(z, 2), unsqueeze(hm, 1)), {B, -1});         // [B, w * (d_m + 1)]
  }
  return z;
}

SubNetSettings TFNConfig::subnet_settings() const {
  return SubNetSettings{modalities, input_dims, hidden, sequence_modalities, text_out, dropouts};
}

void TFNConfig::validate() const {
  subnet_settings().validate("TFN");
  FG_CHECK(post_fusion_dim > 0, "TFN: post_fusion_dim must be positive, got {}", post_fusion_dim);
  FG_CHECK(post_fusion_dropout >= 0.0 && post_fusion_dropout < 1.0,
           "TFN: post_fusion_dropout must be in [0, 1), got {}", post_fusion_dropout);
}

std::int64_t TFN::tensor_width() const {
  std::int64_t w = 1;
  for (std::int64_t d : config_.subnet_settings().out_dims()) w *= d + 1;
  return w;
}

TFN::TFN(const TFNConfig& config, Generator& init_gen, TensorOptions opts, std::shared_ptr<Generator> dropout_gen)
    : config_(config), dropout_gen_(std::move(dropout_gen)) {
  config_.validate();
  subnets = std::make_unique<SubNets>(*this, config_.subnet_settings(), init_gen, opts, dropout_gen_);
  const std::int64_t P = config_.post_fusion_dim;
  post_fusion_layer_1 =
      register_module("post_fusion_layer_1", std::make_shared<nn::Linear>(tensor_width(), P, init_gen, true, opts));
  post_fusion_layer_2 = register_module("post_fusion_layer_2", std::make_shared<nn::Linear>(P, P, init_gen, true, opts));
  post_fusion_layer_3 = register_module("post_fusion_layer_3", std::make_shared<nn::Linear>(P, 1, init_gen, true, opts));
}

SentimentOutput TFN::forward(const data::Batch& batch) {
  SentimentOutput res;
  res.encodings = subnets->forward(batch, "TFN");
  const Tensor fused = tensor_fusion(res.encodings);
  Generator& gen = dropout_gen_ ? *dropout_gen_ : default_generator();
  const Tensor y1 = relu(post_fusion_layer_1->forward(dropout(fused, config_.post_fusion_dropout, is_training(), gen)));
  res.z = relu(post_fusion_layer_2->forward(y1));
  res.prediction = reshape(sigmoid(post_fusion_layer_3->forward(res.z)) * 6.0 - 3.0, {batch.size()});
  return res;
}

}  // namespace fg::models
