// engine/serialize/checkpoint.h: a model (and optionally its optimizer) in one safetensors file.
//
// Layout of the file (engine/serialize/safetensors.h, written atomically):
//   <state_dict name>             every parameter and buffer under its Module::state_dict()
//                                 name ("encoder.0.weight"), so PyTorch loads them by name
//   optimizer/state/<i>/<slot>    the optimizer's per-parameter state (if saved); '/' never
//                                 occurs in module names, so these keys cannot collide
//   metadata:
//     fusegrad/format             "fusegrad checkpoint v1"
//     fusegrad/optimizer          the optimizer's config JSON (kind, hyperparameters, groups)
//     <anything else>             the caller's metadata (keys starting "fusegrad/" are reserved)
//
// To load our weights into a torch.nn.Module with the same structure:
//   from safetensors.torch import load_file          # or tests/reference/torch_checkpoint.py's reader
//   sd = {k: v for k, v in load_file(path).items() if "/" not in k}
//   model.load_state_dict(sd)
// A plain safetensors file written by PyTorch (e.g. safetensors.torch.save_file(model.state_dict()))
// loads into our module the same way, by name.
#pragma once

#include <map>
#include <string>

#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"

namespace fg {

inline constexpr const char* kCheckpointFormat = "fusegrad checkpoint v1";

// Writes module.state_dict() (moved to the host), the optimizer's state if given, and the
// metadata to `path` atomically. Throws naming the path and the offending key.
void save_checkpoint(const std::string& path, const nn::Module& module, const optim::Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& metadata = {});

// Loads `path` into `module` (Module::load_state_dict with `strict`; the optimizer's keys
// never count as unexpected) and, if `optimizer` is given, restores its state (an error if
// the file holds none). Returns the caller's metadata (without the reserved keys).
std::map<std::string, std::string> load_checkpoint(const std::string& path, nn::Module& module,
                                                   optim::Optimizer* optimizer = nullptr, bool strict = true);

}  // namespace fg
