// From candidate scores to blocks: threshold, sliver merging, hard cap.
//
// 1. Cut at every candidate whose score >= threshold.
// 2. Merge slivers (estimated tokens < min_tokens) into a neighbour: preferably one the merge
//    keeps within max_tokens, then across the weaker (lower-scored) boundary, then the smaller.
// 3. Re-split every block over max_tokens (cap.h); exact counts decide.
// 4. Merge the slivers that remain with a neighbour when the exact count of the union fits.
// max_tokens is a guarantee; min_tokens is best effort (a sliver stays when merging would break
// the cap, or the text is shorter than min_tokens).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "segment/block.h"
#include "segment/candidates.h"
#include "segment/span_estimate.h"
#include "segment/token_counter.h"

namespace blockattn::segment {

struct Granularity {
  double threshold = 0.5;  // in [0, 1]
  size_t min_tokens = 0;
  size_t max_tokens = 512;  // > 0, >= min_tokens
};

// Throws InputError for max_tokens == 0, min_tokens > max_tokens or threshold outside [0, 1].
void check_granularity(const Granularity& g);

// Blocks covering `text` exactly (none for empty text). `scores` has one entry in [0, 1] per
// candidate (InputError otherwise); `estimate` was built from the same text and candidates.
std::vector<Block> apply_granularity(std::string_view text,
                                     const std::vector<Candidate>& candidates,
                                     const std::vector<double>& scores, const Granularity& g,
                                     const SpanEstimate& estimate, const TokenCounter& count);

}  // namespace blockattn::segment
