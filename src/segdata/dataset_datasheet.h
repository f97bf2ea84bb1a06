// The dataset's datasheet: per split and category, instances, boundaries, tokens, the length
// histogram and the mean block length; written as datasheet.md (for people) and
// datasheet.json (for scripts). Holds nothing that varies between runs (no times, no paths of
// the machine), so two builds with one seed are byte-identical.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "segdata/dataset_instance.h"

namespace blockattn::segment {

struct SegDataCategoryStats {
  size_t instances = 0, boundaries = 0, tokens = 0;
  size_t source_docs = 0;         // distinct corpus documents the instances draw on
  size_t available_tokens = 0;    // the category's blocks counted alone (what the split offers)
  size_t dropped_tokens = 0;      // of those, in no instance (blocks too long alone, short tails)
  std::vector<size_t> histogram;  // instances per length bucket
  // Mean block length: every instance has boundaries + 1 blocks.
  double mean_block_tokens() const {
    const size_t blocks = boundaries + instances;
    return blocks ? static_cast<double>(tokens) / static_cast<double>(blocks) : 0.0;
  }
};

struct SegDataSheet {
  uint64_t seed = 0;
  size_t min_tokens = 0, max_tokens = 0;
  std::string counter;  // DatasetCounter::description()
  double synthetic_fraction = 0;
  double eval_min_fraction = 0;
  size_t moved_groups = 0;  // source files moved from train by eval_min_fraction
  std::vector<std::pair<size_t, size_t>> buckets;  // [lo, hi) token ranges; the last is closed
  std::vector<std::string> categories;             // row order
  std::vector<std::pair<std::string, std::string>> category_units;  // category -> what a block is
  std::map<std::string, std::map<std::string, SegDataCategoryStats>> stats;  // [split][category]
};

// Octaves from min_tokens up to max_tokens: 2048..32768 gives 2k-4k, 4k-8k, 8k-16k, 16k-32k.
std::vector<std::pair<size_t, size_t>> length_buckets(size_t min_tokens, size_t max_tokens);
// "2k-4k" when both ends are multiples of 1024, else "100-200".
std::string bucket_label(const std::pair<size_t, size_t>& b);

// Adds one instance to `s` (sizes the histogram to `buckets`). Does not count source_docs.
void add_instance(SegDataCategoryStats& s, const SegInstance& inst,
                  const std::vector<std::pair<size_t, size_t>>& buckets);

std::string datasheet_markdown(const SegDataSheet& d);
std::string datasheet_json(const SegDataSheet& d);

}  // namespace blockattn::segment
