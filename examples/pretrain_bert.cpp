// examples/pretrain_bert.cpp: masked-language-model pretraining of a small BERT by our own
// engine on the 1,500 movie reviews of Debian's python3-pattern (issue 12 item 2), written
// as a Hugging Face folder (config.json, vocab.txt, model.safetensors, pretraining.json).
// The recipe, the default size and its measured numbers: docs/pretrain-bert.md; the code:
// examples/harness/bert_pretrain.h.
#include <cblas.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "engine/threads.h"
#include "examples/common/cli.h"
#include "examples/harness/bert_pretrain.h"
#include "examples/harness/trainer.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"Masked-language-model pretraining of a small BERT on the python3-pattern movie reviews; writes a "
               "Hugging Face folder (docs/pretrain-bert.md)"};
  fg::cli::setup(app, "pretrain_bert");
  fg::harness::PretrainOptions o;
  std::string text_dir = "data/cache/text-sources";
  o.out_dir = "data/cache/pretrained-bert";
  std::string results;
  std::int64_t threads = 1;
  app.add_option("--text-dir", text_dir, "folder with pang_lee_reviews.csv and bert-base-uncased/vocab.txt (tools/text_sources.sh)");
  app.add_option("--reviews", o.reviews_csv, "the reviews csv (default: <text-dir>/pang_lee_reviews.csv)");
  app.add_option("--vocab", o.vocab_txt, "bert-base-uncased vocab.txt (default: <text-dir>/bert-base-uncased/vocab.txt)");
  app.add_option("--out", o.out_dir, "the Hugging Face folder to write")->capture_default_str();
  app.add_option("--results", results, "run summary JSON ('-': stdout)");
  app.add_option("--hidden", o.hidden, "hidden size H")->capture_default_str()->check(fg::cli::int_range(8, 4096));
  app.add_option("--layers", o.layers, "encoder layers")->capture_default_str()->check(fg::cli::int_range(1, 48));
  app.add_option("--heads", o.heads, "attention heads (divide --hidden)")->capture_default_str()->check(fg::cli::int_range(1, 64));
  app.add_option("--intermediate", o.intermediate, "feed-forward size")->capture_default_str()->check(fg::cli::int_range(8, 16384));
  app.add_option("--max-len", o.max_len, "sequence length in pieces, [CLS] and [SEP] included")->capture_default_str()->check(fg::cli::int_range(8, 512));
  app.add_option("--max-documents", o.max_documents, "use only the first N reviews (0: all)")->capture_default_str()->check(fg::cli::int_range(0, 1000000));
  app.add_option("--valid-documents", o.valid_documents, "reviews held out for model selection")->capture_default_str()->check(fg::cli::int_range(1, 1000000));
  app.add_option("--test-documents", o.test_documents, "reviews held out for the perplexity")->capture_default_str()->check(fg::cli::int_range(1, 1000000));
  app.add_option("--epochs", o.epochs, "passes over the training sequences")->capture_default_str()->check(fg::cli::int_range(1, fg::cli::kMaxEpochs));
  app.add_option("--batch-size", o.batch_size, "sequences per step")->capture_default_str()->check(fg::cli::int_range(1, 4096));
  app.add_option("--lr", o.lr, "AdamW peak learning rate")->capture_default_str()->check(fg::cli::finite_positive());
  app.add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay")->capture_default_str()->check(fg::cli::finite_range(0, 1));
  app.add_option("--warmup-steps", o.warmup_steps, "linear warmup steps, then linear decay to 0")->capture_default_str()->check(fg::cli::int_range(0, fg::cli::kMaxSteps));
  app.add_option("--clip", o.clip, "max global gradient norm (0: none)")->capture_default_str()->check(fg::cli::finite_range(0, 1e6));
  app.add_option("--seed", o.seed, "splits, initialisation, masks, dropout, batch order")->capture_default_str()->check(fg::cli::seed());
  std::string device = "cpu";
  app.add_option("--device", device, "cpu | cuda")->capture_default_str();
  app.add_option("--threads", threads, "OpenBLAS threads")->capture_default_str()->check(fg::cli::int_range(1, 256));
  app.add_option("--checkpoint", o.checkpoint, "checkpoint file (harness format, docs/harness.md)");
  app.add_option("--checkpoint-every", o.checkpoint_every, "epochs between checkpoints")->capture_default_str()->check(fg::cli::int_range(1, fg::cli::kMaxEpochs));
  app.add_flag("--resume", o.resume, "continue from --checkpoint when it exists");
  app.add_option("--log", o.log, "JSONL log (appended on resume)");
  app.add_flag("--quiet", o.quiet, "no progress bar");

  return fg::cli::run_main(
      app, "pretrain_bert", argc, argv,
      [&] {
        o.device = fg::cli::device_flag(device) == fg::Device::cpu() ? "cpu" : "cuda";
        if (o.hidden % o.heads != 0)
          throw fg::cli::UsageError(fmt::format("--heads: {} does not divide --hidden {}", o.heads, o.hidden));
        if (o.resume && o.checkpoint.empty())
          throw fg::cli::UsageError("--resume: needs --checkpoint FILE (the file to resume from)");
        if (o.reviews_csv.empty()) o.reviews_csv = (fs::path(text_dir) / "pang_lee_reviews.csv").string();
        if (o.vocab_txt.empty()) o.vocab_txt = (fs::path(text_dir) / "bert-base-uncased" / "vocab.txt").string();
        for (const auto& [path, flag] : {std::pair{o.reviews_csv, "--reviews"}, std::pair{o.vocab_txt, "--vocab"}})
          if (!fs::is_regular_file(path))
            throw fg::cli::UsageError(fmt::format("{}: '{}' is not a file (build the text sources first: bash "
                                                  "tools/text_sources.sh extracts them from Debian's python3-pattern; "
                                                  "docs/pretrain-bert.md)", flag, path));
        fg::cli::check_output_folder(o.out_dir, "--out");
        fg::cli::check_output_flags({{results, "--results"}, {o.checkpoint, "--checkpoint"}, {o.log, "--log"}});
        ::setenv("FUSEGRAD_BLAS_THREADS", std::to_string(threads).c_str(), 1);
        fg::set_num_threads(static_cast<int>(threads));  // OpenBLAS and OpenMP (engine/threads.h)
      },
      [&] {
        try {
          const fg::harness::PretrainResult r = fg::harness::pretrain_bert(o, std::cerr);
          std::cerr << "pretrain_bert: wrote " << o.out_dir << "\n";
          if (!results.empty()) {
            nlohmann::json j = r.info;
            j["loss_fingerprint"] = fg::harness::loss_fingerprint(r.step_losses);
            j["out"] = o.out_dir;
            if (results == "-") std::cout << j.dump(2) << "\n";
            else fg::io::write_output(results, j.dump(2) + "\n", "--results");
          }
          return 0;
        } catch (const fg::harness::Interrupted& e) {
          std::cerr << "pretrain_bert: " << e.message() << "\n";
          return 128 + e.signal();
        }
      });
}
