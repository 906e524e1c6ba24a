// examples/bert_check.cpp: our BERT encoder against a Hugging Face model, outputs and gradients.
//
// tools/hf_bert_check.py builds a random-weight transformers BertModel, saves it as a
// Hugging Face folder (config.json + model.safetensors) and writes a data file with fixed
// inputs, projections R1, R2, its float64 outputs and the gradient of
//   L = sum(last_hidden_state * R1) + sum(pooler_output * R2)
// with respect to every parameter. This program loads the folder with models::load_bert
// (so the names, the config parsing and the weight loading are checked too), runs the
// same inputs, backpropagates the same L and reports the relative L2 error of each output
// and each parameter gradient. Exit status (examples/common/cli.h): 0 when every error is
// within --tol, 1 when the worst one exceeds it or the check cannot run (a missing tensor, a
// bad model folder), 2 for a bad flag (checked before anything is loaded).
//
//   bert_check --model /tmp/hf_bert/model --data /tmp/hf_bert/check.safetensors
//   bert_check --model ... --data ... --dtype f32 --device cuda --tol 1e-4
//
// A gradient that is zero in exact arithmetic (the key biases: softmax ignores a shift
// shared by a row's scores) is only required to be tiny on both sides (its norm below
// 1e-12 in float64, or 1e-5 of the largest gradient norm in float32).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/io/output_file.h"
#include "examples/common/cli.h"
#include "engine/ops.h"
#include "engine/serialize/safetensors.h"
#include "models/bert.h"

namespace {

double norm2(const fg::Tensor& t) {
  double s = 0;
  for (double v : t.to_vector<double>()) s += v * v;
  return std::sqrt(s);
}

double relative_error(const fg::Tensor& ours, const fg::Tensor& ref) {
  const auto a = ours.to_vector<double>(), b = ref.to_vector<double>();
  FG_CHECK(a.size() == b.size(), "bert_check: {} elements vs {} in the reference", a.size(), b.size());
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  if (std::isnan(num)) return INFINITY;
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

const fg::Tensor& need(const fg::SafetensorsFile& f, const std::string& name, const std::string& path) {
  const auto it = f.tensors.find(name);
  FG_CHECK(it != f.tensors.end(), "{}: tensor '{}' is missing (write the file with tools/hf_bert_check.py)", path,
           name);
  return it->second;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compare fusegrad's BERT with a Hugging Face BertModel (outputs and gradients)"};
  fg::cli::setup(app, "bert_check");  // examples/common/cli.h
  std::string model_dir, data_path, dtype_name = "f64", device_name = "cpu", json_out;
  double tol = 0;  // 0: the dtype's default
  app.add_option("--model", model_dir, "Hugging Face folder with config.json and model.safetensors")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--data", data_path, "inputs, projections and reference values (tools/hf_bert_check.py)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--dtype", dtype_name, "f64 (CPU only) or f32")->check(CLI::IsMember({"f64", "f32"}));
  app.add_option("--device", device_name, "cpu, or cuda / cuda:N (needs a build with FUSEGRAD_CUDA=ON and a GPU)");
  app.add_option("--tol", tol, "largest accepted relative error; 0 = the default, 1e-9 in f64, 1e-4 in f32")
      ->check(fg::cli::finite_range(0, 1));
  app.add_option("--json", json_out, "also write the results as JSON to this file (- for standard output)");

  fg::Device device;
  const auto validate = [&] {
    device = fg::cli::device_flag(device_name);
    FG_CHECK(!(device.is_cuda() && dtype_name == "f64"), "--device cuda needs --dtype f32 (float64 runs on the CPU only)");
    fg::cli::check_output_flag(json_out, "--json");
  };
  return fg::cli::run_main(app, "bert_check", argc, argv, validate, [&] {
    const fg::DType dtype = dtype_name == "f64" ? fg::DType::f64 : fg::DType::f32;
    if (tol == 0) tol = dtype == fg::DType::f64 ? 1e-9 : 1e-4;
    const fg::TensorOptions opts{dtype, device};

    auto model = fg::models::load_bert(model_dir, opts);
    model->eval();
    FG_CHECK(model->pooler != nullptr, "bert_check: {} has no pooler (save the BertModel with its pooling layer)",
             model_dir);
    const fg::SafetensorsFile data = fg::load_safetensors(data_path);
    auto input = [&](const char* name) { return need(data, name, data_path).to(device); };
    auto real = [&](const char* name) { return need(data, name, data_path).to(dtype).to(device); };
    const fg::models::BertOutputs out =
        model->forward(input("input_ids"), input("attention_mask"), input("token_type_ids"));
    const fg::Tensor loss = fg::add(fg::sum(fg::mul(out.last_hidden_state, real("R1"))),
                                    fg::sum(fg::mul(out.pooler_output, real("R2"))));
    loss.backward();

    nlohmann::json report;
    report["dtype"] = dtype_name;
    report["device"] = device.str();
    double worst = 0;
    std::string worst_name;
    auto note = [&](const std::string& name, double err) {
      report["errors"][name] = err;
      if (!(err <= worst)) {  // NaN counts as the worst
        worst = std::isnan(err) ? INFINITY : err;
        worst_name = name;
      }
    };
    note("last_hidden_state", relative_error(out.last_hidden_state, need(data, "last_hidden_state", data_path)));
    note("pooler_output", relative_error(out.pooler_output, need(data, "pooler_output", data_path)));
    double largest_grad = 0;
    for (const auto& [name, p] : model->named_parameters())
      largest_grad = std::max(largest_grad, norm2(need(data, "grad." + name, data_path)));
    const double zero_floor = dtype == fg::DType::f64 ? 1e-12 : 1e-5 * largest_grad;
    int compared = 0, zero = 0;
    std::vector<std::string> nonzero;  // exactly-zero reference gradients where ours is not tiny
    for (const auto& [name, p] : model->named_parameters()) {
      const fg::Tensor& ref = need(data, "grad." + name, data_path);
      FG_CHECK(p.grad().defined(), "bert_check: no gradient reached {}", name);
      if (norm2(ref) < zero_floor) {  // zero in exact arithmetic: both must be rounding noise
        ++zero;
        const double ours = norm2(p.grad());
        report["zero_gradients"][name] = {{"ours", ours}, {"reference", norm2(ref)}};
        if (!(ours < zero_floor)) nonzero.push_back(name);
        continue;
      }
      ++compared;
      note("grad." + name, relative_error(p.grad(), ref));
    }
    report["max_relative_error"] = worst;
    report["worst"] = worst_name;
    report["tolerance"] = tol;
    const bool ok = worst <= tol && nonzero.empty();
    report["ok"] = ok;
    fmt::print("bert_check ({} on {}): outputs and {} parameter gradients compared ({} exactly-zero ones checked "
               "for size)\n",
               dtype_name, device.str(), compared, zero);
    for (const auto& [name, err] : report["errors"].items()) fmt::print("  {:<60} {:.3e}\n", name, err.get<double>());
    for (const auto& name : nonzero)
      fmt::print("  {}: the reference gradient is ~0 (norm < {:.1e}) but ours is not\n", name, zero_floor);
    fmt::print("max relative error {:.3e} ({}); tolerance {:.1e}: {}\n", worst, worst_name, tol, ok ? "OK" : "FAIL");
    if (!json_out.empty()) fg::io::write_output(json_out, report.dump(2) + "\n", "--json");
    return ok ? 0 : 1;
  });
}
