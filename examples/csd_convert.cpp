// examples/csd_convert.cpp: converts CMU-MultimodalSDK computational sequences (.csd) into
// fusegrad's HDF5 dataset format (docs/data-format.md), aligned to words as the SDK does
// (data/csd.h has the recipe: the frames of each modality overlapping a word are averaged).
//
//   csd_convert --words CMU_MOSI_TimestampedWords.csd
//               --modality acoustic=CMU_MOSI_COVAREP.csd --modality visual=CMU_MOSI_Visual_Facet_41.csd
//               --labels CMU_MOSI_Opinion_Labels.csd --folds mosi_folds.json --out mosi.h5
//   (one command line)
//
//   --folds       JSON {"train": [ids], "valid": [ids], "test": [ids]}; an id is a video ("v")
//                 or a segment ("v[3]"). The SDK's standard folds (mmsdk's
//                 cmu_mosi.standard_folds.standard_train_fold, ...) dump to this with json.dump.
//   --weighting   uniform (the SDK's mean of the overlapping frames, default) or overlap
//   --empty-words zeros (default) or drop: what to do with a word no frame of a modality covers
//   --max-words   T, 50 by default (MMSA's aligned_50); 0 = the longest segment
//   --label-columns 0,1   the label columns to keep (MOSEI's labels: sentiment, then 6 emotions)
//   --label-kind, --label-names   what the kept columns are (default: one regression score, or
//                 multi_regression named label<c>)
//
// Prints every repair and omission (non-finite features, words without frames, missing
// videos, ...) with its count, then the size of each split. List flags take commas and/or
// spaces. Exit status (examples/common/cli.h): 0 success, 2 a bad flag (--out is checked
// before anything is read: its folder must exist, and it must be a regular file, as libhdf5
// cannot write into "-", a device or a FIFO), 1 an error while converting (one line naming
// the file, the HDF5 path and what was expected).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/csd.h"
#include "data/h5_dataset.h"
#include "engine/error.h"
#include "examples/common/cli.h"

namespace {

// A list flag's items without empty ones (`--skip-words ""` is the empty list).
std::vector<std::string> non_empty(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& s : items)
    if (!s.empty()) out.push_back(s);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fg::data;
  CLI::App app{"Convert CMU-MultimodalSDK .csd files into fusegrad's HDF5 dataset format, aligned to words"};
  fg::cli::setup(app, "csd_convert");  // examples/common/cli.h
  CsdAlignOptions opt;
  std::vector<std::string> modality_args, label_columns, label_names, skip_words = {"sp"};
  std::string folds_path, out_path, weighting = "uniform", empty_words = "zeros", label_kind;
  app.add_option("--words", opt.words_path, "reference sequence: word intervals (and the words, if strings)")
      ->required()
      ->check(CLI::ExistingFile);
  fg::cli::add_list(app, "--modality", modality_args, "NAME=PATH of a modality's .csd, one per modality")->required();
  app.add_option("--labels", opt.labels_path, "labels sequence: segment intervals and label rows")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--folds", folds_path, "JSON file {\"train\": [...], \"valid\": [...], \"test\": [...]}")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out", out_path, "output .h5 file (written atomically; a regular file)")->required();
  app.add_option("--weighting", weighting, "uniform (the SDK's mean) or overlap")
      ->check(CLI::IsMember({"uniform", "overlap"}));
  app.add_option("--empty-words", empty_words, "zeros or drop")->check(CLI::IsMember({"zeros", "drop"}));
  app.add_option("--max-words", opt.max_words, "steps T per segment; 0 = the longest segment")
      ->check(fg::cli::int_range(0, 1 << 24));
  app.add_option("--epsilon", opt.epsilon, "interval tolerance in seconds (the SDK's 1e-5)")
      ->check(fg::cli::finite_range(0, 1e6));
  fg::cli::add_list(app, "--label-columns", label_columns, "label columns to keep (default: all)");
  app.add_option("--label-kind", label_kind, "regression, multi_regression, multi_label or class_index");
  fg::cli::add_list(app, "--label-names", label_names, "names of the kept label columns");
  fg::cli::add_list(app, "--skip-words", skip_words, "tokens dropped from the words (\"\" keeps all)");
  app.add_flag("--allow-unknown-fold-ids", opt.allow_unknown_fold_ids,
               "report fold ids that match nothing instead of stopping");

  // Flag checks before anything is read (exit status 2).
  const auto validate = [&] {
    fg::cli::check_output_flag(out_path, "--out", fg::io::OutputUse::named_file, /*optional=*/false);
    for (const std::string& arg : modality_args) {
      const std::size_t eq = arg.find('=');
      FG_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < arg.size(),
               "--modality '{}': expected NAME=PATH, e.g. acoustic=CMU_MOSI_COVAREP.csd", arg);
      opt.modalities.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
    }
    opt.weighting = weighting == "overlap" ? WordWeighting::overlap : WordWeighting::uniform;
    opt.empty_words = empty_words == "drop" ? EmptyWordPolicy::drop_word : EmptyWordPolicy::zeros;
    for (const std::string& c : non_empty(label_columns)) {
      std::size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(c, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      FG_CHECK(used == c.size() && v >= 0, "--label-columns: '{}' is not a column number (expected e.g. 0,1,2)", c);
      opt.label_columns.push_back(v);
    }
    if (!label_kind.empty()) {
      opt.label_kind = parse_label_kind(label_kind, "--label-kind");
      opt.label_kind_set = true;
    }
    opt.label_names = non_empty(label_names);
    opt.skip_words = non_empty(skip_words);
  };

  return fg::cli::run_main(app, "csd_convert", argc, argv, validate, [&] {
    opt.folds = read_folds_json(folds_path);
    const CsdAlignResult r = align_csd(opt);
    if (!r.report.empty()) std::fputs((r.report.summary() + "\n").c_str(), stdout);
    H5WriteOptions write;
    write.source = fmt::format("csd_convert: words '{}', labels '{}', folds '{}', max_words {}, {} weighting",
                               opt.words_path, opt.labels_path, folds_path, opt.max_words, weighting);
    write_h5_dataset(out_path, r.data, write);
    for (const MultimodalSplit* s : {&r.data.train, &r.data.valid, &r.data.test})
      fmt::print("{:5s}  {:6d} segments  T = {}\n", s->name, s->size(), s->max_steps());
    for (std::size_t m = 0; m < r.data.train.features.size(); ++m)
      fmt::print("modality {:10s} D = {}\n", r.data.train.modality_names[m], r.data.train.feature_dim(m));
    fmt::print("wrote {}\n", out_path);
    return 0;
  });
}
