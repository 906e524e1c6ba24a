// models/mfn.cpp: see mfn.h.
#include "models/mfn.h"

#include <set>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops_gated_memory.h"

namespace fg::models {

namespace {

// Linear -> ReLU -> Dropout(p) -> Linear, named as nn.Sequential names it.
std::shared_ptr<nn::MLP> two_layer(std::int64_t in, std::int64_t hidden, std::int64_t out, double p, Generator& gen,
                                   TensorOptions opts, const std::shared_ptr<Generator>& dropout_gen) {
  nn::MLPOptions o;
  o.sizes = {in, hidden, out};
  o.activations = {nn::Activation::ReLU};
  o.dropout = {p};
  o.param_options = opts;
  o.dropout_generator = dropout_gen;
  return std::make_shared<nn::MLP>(o, gen);
}

}  // namespace

std::int64_t MFNConfig::total_hidden() const {
  std::int64_t s = 0;
  for (std::int64_t h : hidden_sizes) s += h;
  return s;
}

void MFNConfig::validate() const {
  const std::size_t m = modality_names.size();
  FG_CHECK(m >= 1, "MFNConfig: modality_names must name at least one modality");
  FG_CHECK(input_sizes.size() == m && hidden_sizes.size() == m,
           "MFNConfig: modality_names, input_sizes and hidden_sizes need one entry per modality, got {}, {} and {}",
           m, input_sizes.size(), hidden_sizes.size());
  std::set<std::string> seen;
  for (std::size_t k = 0; k < m; ++k) {
    const std::string& n = modality_names[k];
    FG_CHECK(!n.empty() && n.find('.') == std::string::npos && n.find('/') == std::string::npos,
             "MFNConfig: modality_names[{}] = '{}' must be non-empty without '.' or '/'", k, n);
    FG_CHECK(seen.insert(n).second, "MFNConfig: modality_names[{}] = '{}' is repeated", k, n);
    FG_CHECK(input_sizes[k] > 0, "MFNConfig: input_sizes[{}] must be positive, got {}", k, input_sizes[k]);
    FG_CHECK(hidden_sizes[k] > 0, "MFNConfig: hidden_sizes[{}] must be positive, got {}", k, hidden_sizes[k]);
  }
  const std::pair<const char*, std::int64_t> sizes[] = {
      {"memory_size", memory_size},     {"attention_hidden", attention_hidden}, {"memory_hidden", memory_hidden},
      {"gamma1_hidden", gamma1_hidden}, {"gamma2_hidden", gamma2_hidden},       {"output_size", output_size}};
  for (const auto& [name, v] : sizes) FG_CHECK(v > 0, "MFNConfig: {} must be positive, got {}", name, v);
  for (std::size_t k = 0; k < output_hidden.size(); ++k)
    FG_CHECK(output_hidden[k] > 0, "MFNConfig: output_hidden[{}] must be positive, got {}", k, output_hidden[k]);
  const std::pair<const char*, double> drops[] = {{"attention_dropout", attention_dropout},
                                                  {"memory_dropout", memory_dropout},
                                                  {"gamma1_dropout", gamma1_dropout},
                                                  {"gamma2_dropout", gamma2_dropout},
                                                  {"output_dropout", output_dropout}};
  for (const auto& [name, p] : drops) FG_CHECK(p >= 0.0 && p < 1.0, "MFNConfig: {} must be in [0, 1), got {}", name, p);
}

MFN::MFN(const MFNConfig& config, Generator& gen, TensorOptions opts, std::shared_ptr<Generator> dropout_gen)
    : config_(config), dropout_gen_(std::move(dropout_gen)) {
  config_.validate();
  const MFNConfig& c = config_;
  for (std::size_t m = 0; m < c.modality_names.size(); ++m)
    lstms.push_back(register_module("lstm_" + c.modality_names[m],
                                    std::make_shared<nn::LSTMCell>(c.input_sizes[m], c.hidden_sizes[m], gen, true, opts)));
  const std::int64_t S = c.total_hidden(), mem = c.memory_size;
  att1 = register_module("att1", two_layer(2 * S, c.attention_hidden, 2 * S, c.attention_dropout, gen, opts, dropout_gen_));
  att2 = register_module("att2", two_layer(2 * S, c.memory_hidden, mem, c.memory_dropout, gen, opts, dropout_gen_));
  gamma1 = register_module("gamma1", two_layer(2 * S + mem, c.gamma1_hidden, mem, c.gamma1_dropout, gen, opts, dropout_gen_));
  gamma2 = register_module("gamma2", two_layer(2 * S + mem, c.gamma2_hidden, mem, c.gamma2_dropout, gen, opts, dropout_gen_));
  nn::MLPOptions o;
  o.sizes = {S + mem};
  for (std::int64_t h : c.output_hidden) o.sizes.push_back(h);
  o.sizes.push_back(c.output_size);
  o.activations = {nn::Activation::ReLU};
  o.dropout = {c.output_dropout};
  o.param_options = opts;
  o.dropout_generator = dropout_gen_;
  out = register_module("out", std::make_shared<nn::MLP>(o, gen));
}

MFNOutput MFN::forward(const std::vector<Tensor>& inputs, const Tensor& lengths) const {
  const MFNConfig& c = config_;
  const std::size_t M = c.modality_names.size();
  FG_CHECK(inputs.size() == M, "MFN: expected {} inputs (one per modality), got {}", M, inputs.size());
  const char* layout = c.batch_first ? "[B, T, D]" : "[T, B, D]";
  std::vector<Tensor> xs;  // time-major
  for (std::size_t m = 0; m < M; ++m) {
    const Tensor& x = inputs[m];
    FG_CHECK(x.defined() && x.dim() == 3 && x.size(2) == c.input_sizes[m],
             "MFN: input {} ('{}') must be {} with D = {}, got {}", m, c.modality_names[m], layout, c.input_sizes[m],
             x.str());
    xs.push_back(c.batch_first ? transpose(x, 0, 1) : x);
    FG_CHECK(xs[m].size(0) == xs[0].size(0) && xs[m].size(1) == xs[0].size(1),
             "MFN: every modality needs the same B and T (aligned features): input {} is {} but input 0 is {}", m,
             x.str(), inputs[0].str());
  }
  const std::int64_t T = xs[0].size(0), B = xs[0].size(1), S = c.total_hidden(), mem = c.memory_size;
  FG_CHECK(T >= 1, "MFN: the sequences need at least one step, got {}", inputs[0].str());

  if (lengths.defined()) {  // checked here so that the message names MFN
    FG_CHECK(lengths.dtype() == DType::i64 && lengths.dim() == 1 && lengths.size(0) == B,
             "MFN: lengths must be int64 [{}], got {}", B, lengths.str());
    const auto len = lengths.to_vector<std::int64_t>();
    for (std::int64_t b = 0; b < B; ++b)
      FG_CHECK(len[b] >= 0 && len[b] <= T, "MFN: lengths[{}] = {} is outside [0, {}]", b, len[b], T);
  }

  // 1. the modality LSTMs over the whole sequence (fused), keeping every cell state
  std::vector<Tensor> finals, cells;
  for (std::size_t m = 0; m < M; ++m) {
    const nn::LSTMCell& cell = *lstms[m];
    const LSTMSequenceOutput r =
        lstm_layer(xs[m], cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, lengths);
    finals.push_back(r.h_n);   // h at each sequence's own length
    cells.push_back(r.cells);  // [T, B, H_m], zero past each length
  }
  const Tensor c_t = concat(cells, 2);  // [T, B, S]
  const Tensor zero_step = zeros({1, B, S}, c_t.options());
  const Tensor c_prev = T == 1 ? zero_step : concat({zero_step, slice(c_t, 0, 0, T - 1)}, 0);
  const Tensor c_star = concat({c_prev, c_t}, 2);  // [T, B, 2S]

  // 2. attention and candidate memory for all steps at once
  const Tensor attended = mul(softmax(att1->forward(c_star), -1), c_star);  // [T, B, 2S]
  const Tensor u_hat = tanh(att2->forward(attended));                        // [T, B, mem]

  // 3. the gamma networks' first layers, split: [W_att | W_u] acting on [attended, u_{t-1}];
  //    the attended part of both gates for all steps in one GEMM
  const nn::Linear& g1 = *gamma1->linears()[0];
  const nn::Linear& g2 = *gamma2->linears()[0];
  const std::int64_t h1 = g1.out_features, h2 = g2.out_features;
  const Tensor w_att = concat({slice(g1.weight, 1, 0, 2 * S), slice(g2.weight, 1, 0, 2 * S)}, 0);  // [h1 + h2, 2S]
  const Tensor w_u = concat({slice(g1.weight, 1, 2 * S, mem), slice(g2.weight, 1, 2 * S, mem)}, 0);  // [h1 + h2, mem]
  const Tensor gate_pre = linear(attended, w_att, concat({g1.bias, g2.bias}, 0));  // [T, B, h1 + h2]

  // 4. the serial part, the gated memory, as one fused op (engine/ops_gated_memory.h):
  //    per step only u_{t-1} W_u^T, ReLU, the gamma networks' second layers and the update;
  //    the memory is frozen past each length. Dropout inside the gamma networks acts on
  //    their hidden units: its multipliers for all steps are drawn up front.
  Tensor drop;
  if (is_training() && (c.gamma1_dropout > 0.0 || c.gamma2_dropout > 0.0)) {
    Generator& drop_gen = dropout_gen_ ? *dropout_gen_ : default_generator();
    const Tensor ones1 = ones({T, B, h1}, c_t.options()), ones2 = ones({T, B, h2}, c_t.options());
    drop = concat({dropout(ones1, c.gamma1_dropout, true, drop_gen), dropout(ones2, c.gamma2_dropout, true, drop_gen)},
                  2);
  }
  const nn::Linear& g1_out = *gamma1->linears()[1];
  const nn::Linear& g2_out = *gamma2->linears()[1];
  const Tensor u_all = gated_memory_recurrence(gate_pre, u_hat, w_u, g1_out.weight, g1_out.bias, g2_out.weight,
                                               g2_out.bias, lengths, drop);  // [T, B, mem]
  const Tensor u = select(u_all, 0, T - 1);  // each example's memory at its own length

  finals.push_back(u);
  const Tensor features = concat(finals, 1);  // [B, S + mem]
  return {out->forward(features), features};
}

}  // namespace fg::models
