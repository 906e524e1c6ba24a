// models/zoo.h: the model zoo by name. Every model implements models::SentimentModel
// (models/sentiment.h), so a training harness, the `mmb` study or a penalty that attaches
// to z (MDM's critic, MMIM's CPC) needs only a name and a ZooConfig:
//
//   fg::Generator init(seed);
//   models::ZooConfig cfg;                      // MOSI-like defaults: text 300, acoustic 5, visual 20
//   cfg.init_gen = &init;                       // every weight drawn from it (required)
//   cfg.dropout_gen = std::make_shared<fg::Generator>(derive_seed(seed, 1));  // dropout masks
//   std::shared_ptr<models::SentimentModel> model = models::make_zoo_model("tfn", cfg);
//   models::SentimentOutput out = model->forward(batch);   // out.prediction [B], out.z [B, d_z]
//
// Names (zoo_model_names(), in this order):
//   "ef_lstm"      early fusion: one LSTM over the per-step concatenation   (models/ef_lstm.h)
//                  needs word-aligned batches: an unaligned batch is a clear error
//   "tfn"          Tensor Fusion Network (outer product of [1; h_m])         (models/tfn.h)
//   "lmf"          Low-rank Multimodal Fusion (rank-r factors)               (models/lmf.h)
//   "mfn"          Memory Fusion Network, models::MFN wrapped                (models/mfn_model.h)
//                  needs word-aligned batches (one shared time grid for the memory)
//   "late_fusion"  per-modality MLPs on time means, concatenated, MLP head   (models/late_fusion.h)
//
// What ZooConfig means for each model (0 / negative / empty = that model's own default,
// documented in its header with its source, MMSA's MOSI config or the authors' code):
//   hidden        one width per modality, the modality's encoder:
//                   ef_lstm      unused (one LSTM over all modalities: see fused_hidden)
//                   tfn, lmf     text-like modalities (sequence_modalities): the LSTM's hidden size;
//                                the others: the width of their 3-layer MLP subnetwork
//                   mfn          each modality LSTM's hidden size
//                   late_fusion  each encoder MLP's width
//   fused_hidden  the width after fusion:
//                   ef_lstm      the LSTM's hidden size (= d_z) and the head's hidden layer
//                   tfn          post_fusion_dim (both post-fusion layers; = d_z)
//                   lmf          d_h, the width of the low-rank fused vector (= d_z)
//                   mfn          the hidden layer of MFN's output MLP
//                   late_fusion  the head's hidden layer
//   dropout       every dropout probability of the model (negative: the model's defaults)
//   text_out      tfn / lmf: width of the text subnetwork's output (0: default)
//   rank          lmf: the rank r (0: default 3)
//   num_layers    ef_lstm: LSTM layers (0: default 4)
//   sequence_modalities  tfn / lmf: the modalities read by an LSTM subnetwork (default {"text"})
//
// The models read modalities from a data::Batch by name (cfg.modalities, in that order; the
// embedded corpus calls them "text", "acoustic", "visual"), honour `present` (a missing
// modality contributes nothing) and per-modality lengths/masks (unaligned batches), except
// where said above.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "models/sentiment.h"

namespace fg::models {

struct ZooConfig {
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  std::vector<std::int64_t> input_dims = {300, 5, 20};  // D_m, one per modality
  std::vector<std::int64_t> hidden;                      // empty: the model's defaults (see above)
  std::int64_t fused_hidden = 0;                         // 0: the model's default
  double dropout = -1.0;                                 // < 0: the model's defaults
  std::int64_t text_out = 0;                             // tfn / lmf
  std::int64_t rank = 0;                                 // lmf
  std::int64_t num_layers = 0;                           // ef_lstm
  std::vector<std::string> sequence_modalities = {"text"};  // tfn / lmf
  Device device = Device::cpu();
  DType dtype = DType::f32;  // f64 for gradient checks and the PyTorch comparisons
  // Every initial weight is drawn from *init_gen (required: make_zoo_model throws when null),
  // in the order the parameters are registered, so one seed fixes the model.
  Generator* init_gen = nullptr;
  // Where dropout masks come from; null: fg::default_generator().
  std::shared_ptr<Generator> dropout_gen;
};

// The registered names, in a fixed order.
std::vector<std::string> zoo_model_names();

// A new model in training mode. Throws naming the model and the field for an unknown name
// (listing the known ones), a null init_gen, or sizes that do not fit (e.g. hidden without
// one entry per modality).
std::shared_ptr<SentimentModel> make_zoo_model(const std::string& name, const ZooConfig& config);

}  // namespace fg::models
