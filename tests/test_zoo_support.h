// tests/test_zoo_support.h: building the zoo's models and hand-made batches in the zoo tests
// (tests/test_zoo.cpp, tests/test_reference_zoo.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/batching.h"
#include "engine/ops.h"
#include "models/mfn_model.h"
#include "models/zoo.h"

namespace fg::zoo_test {

// A float64 mask [B, T] from lengths.
inline Tensor mask_from(const std::vector<std::int64_t>& lengths, std::int64_t T) {
  std::vector<double> v;
  for (std::int64_t len : lengths)
    for (std::int64_t t = 0; t < T; ++t) v.push_back(t < len ? 1.0 : 0.0);
  return from_vector(v, {static_cast<std::int64_t>(lengths.size()), T}, f64_opts());
}

inline Tensor lengths_tensor(const std::vector<std::int64_t>& lengths) {
  return from_vector(lengths, {static_cast<std::int64_t>(lengths.size())}, TensorOptions{DType::i64});
}

// A batch of the given features (float64 [B, T_m, D_m]); `lengths` has one entry (aligned:
// batch.lengths/mask) or one per modality (unaligned: modality_lengths/masks). `present`
// [B, M] or undefined.
inline data::Batch make_batch(const std::vector<std::string>& names, const std::vector<Tensor>& features,
                              const std::vector<std::vector<std::int64_t>>& lengths, const Tensor& present = Tensor()) {
  data::Batch b;
  b.modality_names = names;
  b.features = features;
  const std::int64_t B = features[0].size(0);
  for (std::int64_t r = 0; r < B; ++r) b.rows.push_back(r);
  if (lengths.size() == 1) {
    b.lengths = lengths_tensor(lengths[0]);
    b.mask = mask_from(lengths[0], features[0].size(1));
  } else {
    for (std::size_t m = 0; m < names.size(); ++m) {
      b.modality_lengths.push_back(lengths_tensor(lengths[m]));
      b.modality_masks.push_back(mask_from(lengths[m], features[m].size(1)));
    }
  }
  b.present = present;
  b.labels = zeros({B}, f32_opts());
  return b;
}

// The tiny sizes of the tests (text 4, acoustic 3, visual 2 features; widths 3, 2, 2).
inline models::ZooConfig tiny_zoo(Generator& gen) {
  models::ZooConfig c;
  c.input_dims = {4, 3, 2};
  c.hidden = {3, 2, 2};
  c.fused_hidden = 3;
  c.text_out = 2;
  c.rank = 2;
  c.num_layers = 2;
  c.dropout = 0.0;
  c.dtype = DType::f64;
  c.init_gen = &gen;
  return c;
}

// MFN at tiny sizes (the zoo's MFN keeps MFN's own network widths, too wide for a gradcheck).
inline std::shared_ptr<models::SentimentModel> tiny_mfn(const models::ZooConfig& z, Generator& gen) {
  models::MFNConfig c;
  c.modality_names = z.modalities;
  c.input_sizes = z.input_dims;
  c.hidden_sizes = z.hidden;
  c.memory_size = 3;
  c.attention_hidden = 5;
  c.memory_hidden = 4;
  c.gamma1_hidden = 5;
  c.gamma2_hidden = 4;
  c.output_hidden = {z.fused_hidden};
  c.attention_dropout = c.memory_dropout = c.gamma1_dropout = c.gamma2_dropout = c.output_dropout = 0.0;
  return std::make_shared<models::MFNModel>(c, gen, f64_opts());
}

inline std::shared_ptr<models::SentimentModel> tiny_model(const std::string& name, const models::ZooConfig& z,
                                                          Generator& gen) {
  return name == "mfn" ? tiny_mfn(z, gen) : models::make_zoo_model(name, z);
}

// cat([prediction[:, None], z], 1): everything a model returns, for comparisons.
inline Tensor everything(const models::SentimentOutput& o) {
  return concat({unsqueeze(o.prediction, 1), o.z}, 1);
}

}  // namespace fg::zoo_test
