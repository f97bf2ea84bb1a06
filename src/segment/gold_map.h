// Gold boundaries against candidate cuts.
//
// Gold boundaries (dataset_instance.h) are byte offsets of block starts at line starts; the
// candidates sit after the separating whitespace (candidates.h), so a gold block that starts
// with indentation begins a few bytes before its candidate. Both the trainer (labels) and the
// evaluation (coverage, metrics) use the conventions here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "segment/candidates.h"
#include "segdata/dataset_instance.h"

namespace blockattn::segment {

// How one gold boundary was matched to a candidate.
enum class GoldMatch {
  kExact,    // a candidate at the gold offset
  kSnapped,  // the gold offset is inside the whitespace that ends at a candidate (indentation)
  kNear,     // the nearest candidate within `window_bytes` (either side; ties: the later)
  kDropped,  // no candidate close enough
};

struct GoldMap {
  static constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<size_t> candidate;  // per gold boundary: the candidate index, or kNone
  std::vector<GoldMatch> match;   // per gold boundary
  size_t exact = 0, snapped = 0, near = 0, dropped = 0;
};

// `gold` ascending; `candidates` = find_candidates(text).
GoldMap map_gold_to_candidates(std::string_view text, const std::vector<Candidate>& candidates,
                               const std::vector<size_t>& gold, size_t window_bytes = 16);

// Each gold offset moved forward over whitespace to where the block's visible text starts,
// which is where every method cuts; offsets that reach the end of the text are dropped and
// duplicates collapse. The metrics compare these with the methods' cuts.
std::vector<size_t> snap_gold_offsets(std::string_view text, const std::vector<size_t>& gold);

// Candidate coverage of one category (or "overall"): how the gold boundaries map to candidates.
struct CoverageRow {
  std::string category;
  size_t instances = 0, gold = 0, exact = 0, snapped = 0, near = 0, dropped = 0;
  // Share of gold boundaries exactly on a candidate offset, and on one after skipping the
  // indentation (exact + snapped: what the metrics count as reachable).
  double exact_share() const { return gold ? static_cast<double>(exact) / gold : 1.0; }
  double covered_share() const {
    return gold ? static_cast<double>(exact + snapped) / gold : 1.0;
  }
};

// One row per category (sorted by name), then "overall".
std::vector<CoverageRow> candidate_coverage(const std::vector<SegInstance>& instances,
                                            size_t window_bytes = 16);

}  // namespace blockattn::segment
