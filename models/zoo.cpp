// models/zoo.cpp: see zoo.h.
#include "models/zoo.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.h"
#include "models/ef_lstm.h"
#include "models/late_fusion.h"
#include "models/lmf.h"
#include "models/mfn_model.h"
#include "models/tfn.h"

namespace fg::models {

namespace {

void check_per_modality(const ZooConfig& c, const std::string& name) {
  FG_CHECK(!c.modalities.empty(), "make_zoo_model('{}'): modalities is empty", name);
  FG_CHECK(c.input_dims.size() == c.modalities.size(),
           "make_zoo_model('{}'): input_dims needs one entry per modality ({}), got {}", name, c.modalities.size(),
           c.input_dims.size());
  FG_CHECK(c.hidden.empty() || c.hidden.size() == c.modalities.size(),
           "make_zoo_model('{}'): hidden needs one entry per modality ({}) or none (the defaults), got {}", name,
           c.modalities.size(), c.hidden.size());
}

// The model's default per-modality widths are for text, acoustic, visual; another modality
// list without explicit `hidden` gets each modality's default by name, else `fallback`.
std::vector<std::int64_t> widths(const ZooConfig& c, const std::vector<std::int64_t>& defaults,
                                 std::int64_t fallback) {
  if (!c.hidden.empty()) return c.hidden;
  static const std::vector<std::string> names = {"text", "acoustic", "visual"};
  std::vector<std::int64_t> w;
  for (const std::string& m : c.modalities) {
    std::int64_t v = fallback;
    for (std::size_t k = 0; k < names.size(); ++k)
      if (m == names[k]) v = defaults[k];
    w.push_back(v);
  }
  return w;
}

}  // namespace

std::vector<std::string> zoo_model_names() { return {"ef_lstm", "tfn", "lmf", "mfn", "late_fusion"}; }

std::shared_ptr<SentimentModel> make_zoo_model(const std::string& name, const ZooConfig& c) {
  FG_CHECK(c.init_gen != nullptr, "make_zoo_model('{}'): ZooConfig::init_gen is null (every weight is drawn from it)",
           name);
  check_per_modality(c, name);
  const TensorOptions opts{c.dtype, c.device, false};
  const bool set_drop = c.dropout >= 0.0;
  if (name == "ef_lstm") {
    EFLSTMConfig e;
    e.modalities = c.modalities;
    e.input_dims = c.input_dims;
    if (c.fused_hidden > 0) e.hidden = c.fused_hidden;
    if (c.num_layers > 0) e.num_layers = c.num_layers;
    if (set_drop) e.dropout = c.dropout;
    return std::make_shared<EFLSTM>(e, *c.init_gen, opts, c.dropout_gen);
  }
  if (name == "tfn") {
    TFNConfig t;
    t.modalities = c.modalities;
    t.input_dims = c.input_dims;
    t.hidden = widths(c, t.hidden, 32);
    t.sequence_modalities = c.sequence_modalities;
    if (c.text_out > 0) t.text_out = c.text_out;
    if (c.fused_hidden > 0) t.post_fusion_dim = c.fused_hidden;
    t.dropouts.assign(c.modalities.size(), set_drop ? c.dropout : 0.3);
    if (set_drop) t.post_fusion_dropout = c.dropout;
    return std::make_shared<TFN>(t, *c.init_gen, opts, c.dropout_gen);
  }
  if (name == "lmf") {
    LMFConfig l;
    l.modalities = c.modalities;
    l.input_dims = c.input_dims;
    l.hidden = widths(c, l.hidden, 16);
    l.sequence_modalities = c.sequence_modalities;
    if (c.text_out > 0) l.text_out = c.text_out;
    if (c.rank > 0) l.rank = c.rank;
    if (c.fused_hidden > 0) l.fusion_dim = c.fused_hidden;
    l.dropouts.assign(c.modalities.size(), set_drop ? c.dropout : 0.3);
    return std::make_shared<LMF>(l, *c.init_gen, opts, c.dropout_gen);
  }
  if (name == "mfn") {
    MFNConfig m;
    m.modality_names = c.modalities;
    m.input_sizes = c.input_dims;
    m.hidden_sizes = widths(c, m.hidden_sizes, 16);
    if (c.fused_hidden > 0) m.output_hidden = {c.fused_hidden};
    if (set_drop)
      m.attention_dropout = m.memory_dropout = m.gamma1_dropout = m.gamma2_dropout = m.output_dropout = c.dropout;
    return std::make_shared<MFNModel>(m, *c.init_gen, opts, c.dropout_gen);
  }
  if (name == "late_fusion") {
    LateFusionConfig f;
    f.modalities = c.modalities;
    f.input_dims = c.input_dims;
    f.hidden = widths(c, f.hidden, 16);
    if (c.fused_hidden > 0) f.head_hidden = c.fused_hidden;
    if (set_drop) f.dropout = c.dropout;
    return std::make_shared<LateFusion>(f, *c.init_gen, opts, c.dropout_gen);
  }
  FG_FAIL("make_zoo_model: unknown model '{}' (known: {})", name, fmt::join(zoo_model_names(), ", "));
}

}  // namespace fg::models
