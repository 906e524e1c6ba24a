// examples/reviews.cpp: builds the reviews corpus (docs/reviews-corpus.md) from the text
// sources of tools/text_sources.sh; tools/build_reviews.sh runs it at set-up. `reviews` alone
// prints the built corpus's sizes and label distribution.
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "data/h5_dataset.h"
#include "data/reviews.h"
#include "data/reviews_build.h"
#include "examples/common/cli.h"

namespace rv = fg::data::reviews;

int main(int argc, char** argv) {
  CLI::App app{"the reviews corpus (real Rotten Tomatoes sentences, espeak-ng speech, simulated annotators): build it "
               "(`reviews build`) or print its sizes"};
  fg::cli::setup(app, "reviews");
  app.fallthrough();
  rv::BuildConfig cfg;
  cfg.sources = fg::data::text_sources_dir();
  cfg.out_dir = fg::data::reviews_cache_dir();
  cfg.jobs = 2;
  CLI::App* build = app.add_subcommand("build", "build reviews.h5 and reviews_unaligned.h5 in --out");
  build->add_option("--sources", cfg.sources, "text-sources folder (tools/text_sources.sh)")->capture_default_str();
  build->add_option("--out", cfg.out_dir, "output folder")->capture_default_str();
  build->add_option("--fasttext-model", cfg.fasttext_model, "fastText .bin model for the word vectors ('' = zeros)");
  build->add_option("--fasttext", cfg.fasttext_bin, "the fasttext program")->capture_default_str();
  build->add_option("--seed", cfg.seed, "seed of the latent, annotators, speakers, visual stream and splits")
      ->check(fg::cli::seed())->capture_default_str();
  build->add_option("--limit", cfg.limit, "only the first N sentences of each polarity (0 = all 4,000)")
      ->check(fg::cli::int_range(0, 1000000))->capture_default_str();
  build->add_option("--jobs", cfg.jobs, "worker processes for speech and features")
      ->check(fg::cli::int_range(1, 256))->capture_default_str();
  build->add_flag("--quiet", cfg.quiet, "no progress lines");
  std::string file = fg::data::reviews_corpus_file();
  app.add_option("--file", file, "corpus file to describe")->capture_default_str();
  return fg::cli::run_main(app, "reviews", argc, argv, [] {}, [&] {
    if (build->parsed()) {
      rv::build_corpus(cfg);
      return 0;
    }
    const auto h = fg::data::read_h5_dataset(file);
    for (const auto* s : {&h.data.train, &h.data.valid, &h.data.test}) {
      const auto lab = s->labels.to_vector<float>();
      std::map<std::string, int> hist;
      for (float l : lab) hist[fmt::format("{:+.2f}", l)]++;
      std::cout << fmt::format("{}: {} utterances, {} steps max;", s->name, s->size(), s->max_steps());
      for (const auto& [k, v] : hist) std::cout << ' ' << k << ':' << v;
      std::cout << '\n';
    }
    return 0;
  });
}
