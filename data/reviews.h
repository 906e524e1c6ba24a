// data/reviews.h: where the reviews corpus lives (docs/reviews-corpus.md). Built once at set-up
// by tools/build_reviews.sh (data/reviews_build.h); read like any dataset with read_h5_dataset.
#pragma once

#include <string>

namespace fg::data {

// $FUSEGRAD_DATA/reviews when FUSEGRAD_DATA is set, else <source tree>/data/cache/reviews.
std::string reviews_cache_dir();
// $FUSEGRAD_DATA/text-sources or <source tree>/data/cache/text-sources (tools/text_sources.sh).
std::string text_sources_dir();
// <cache>/reviews.h5 (word-aligned) or <cache>/reviews_unaligned.h5 (acoustic frames, token ids).
std::string reviews_corpus_file(bool unaligned = false);

}  // namespace fg::data
