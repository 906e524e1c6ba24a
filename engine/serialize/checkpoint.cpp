// engine/serialize/checkpoint.cpp: see checkpoint.h.
#include "engine/serialize/checkpoint.h"

#include "engine/error.h"
#include "engine/serialize/safetensors.h"

namespace fg {

namespace {

constexpr const char* kOptimizerPrefix = "optimizer/";
constexpr const char* kReservedMeta = "fusegrad/";
constexpr const char* kFormatKey = "fusegrad/format";
constexpr const char* kOptimizerKey = "fusegrad/optimizer";

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& module, const optim::Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata) {
  std::map<std::string, Tensor> tensors = module.state_dict();
  std::map<std::string, std::string> meta;
  for (const auto& [key, value] : metadata) {
    FG_CHECK(!starts_with(key, kReservedMeta), "save_checkpoint('{}'): metadata key '{}' is reserved (prefix {})",
             path, key, kReservedMeta);
    meta[key] = value;
  }
  meta[kFormatKey] = kCheckpointFormat;
  if (optimizer) {
    const optim::OptimizerState st = optimizer->state_dict();
    for (const auto& [key, t] : st.tensors) tensors[kOptimizerPrefix + key] = t;
    meta[kOptimizerKey] = st.config;
  }
  save_safetensors(path, tensors, meta);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& module,
                                                   optim::Optimizer* optimizer, bool strict) {
  SafetensorsFile file = load_safetensors(path);
  std::map<std::string, Tensor> model_state;
  optim::OptimizerState opt_state;
  for (auto& [key, t] : file.tensors) {
    if (starts_with(key, kOptimizerPrefix)) opt_state.tensors[key.substr(std::string(kOptimizerPrefix).size())] = t;
    else model_state[key] = t;
  }
  auto opt_meta = file.metadata.find(kOptimizerKey);
  if (optimizer) {
    FG_CHECK(opt_meta != file.metadata.end(),
             "load_checkpoint('{}'): the file holds no optimizer state (metadata '{}' is missing); "
             "load it without an optimizer",
             path, kOptimizerKey);
    opt_state.config = opt_meta->second;
  }
  // Both load_state_dict calls check everything before they change anything. The optimizer
  // goes first; if the module then rejects the file, the optimizer gets its old state back,
  // so a bad file leaves both as they were.
  try {
    if (optimizer) {
      const optim::OptimizerState previous = optimizer->state_dict();
      optimizer->load_state_dict(opt_state);
      try {
        module.load_state_dict(model_state, strict);
      } catch (const Error&) {
        optimizer->load_state_dict(previous);
        throw;
      }
    } else {
      module.load_state_dict(model_state, strict);
    }
  } catch (const Error& e) {
    FG_FAIL("load_checkpoint('{}'): {}", path, e.message());
  }
  std::map<std::string, std::string> user;
  for (const auto& [key, value] : file.metadata)
    if (!starts_with(key, kReservedMeta)) user[key] = value;
  return user;
}

}  // namespace fg
