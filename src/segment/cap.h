// The hard maximum block size.
//
// A block whose tokens exceed max_tokens is re-split at its best remaining candidate: highest
// score first, then the stronger separator type, then the most even split (estimated tokens,
// then bytes); candidates that leave both sides with at least min_tokens are preferred. Each
// half is handled the same way, so over-long blocks descend to weaker separators as the strong
// ones run out. A span with no candidate left (a 200 kB line, a minified file, a run of spaces
// a tokenizer splits into many tokens) is cut greedily into the longest character-boundary
// prefixes that fit. Estimates (SpanEstimate) steer the recursion; a block is emitted only after
// an exact count of its text is <= max_tokens, so the cap holds whatever the estimate says.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "segment/block.h"
#include "segment/candidates.h"
#include "segment/span_estimate.h"
#include "segment/token_counter.h"

namespace blockattn::segment {

struct CapContext {
  std::string_view text;
  const std::vector<Candidate>& candidates;
  const std::vector<double>& scores;  // one per candidate
  const SpanEstimate& estimate;
  const TokenCounter& count;
  size_t max_tokens = 0;
  size_t min_tokens = 0;
};

// Appends to `out` blocks covering bounds [b1, b2) (SpanEstimate bounds), each with an exact
// count <= max_tokens. The first appended block takes `first_score`/`first_cut`.
void split_to_cap(const CapContext& ctx, size_t b1, size_t b2, double first_score,
                  CutType first_cut, std::vector<Block>& out);

// Cuts bytes [begin, end), which hold no usable candidate, into greedy longest prefixes that
// fit max_tokens; appends them (the first with first_score/first_cut, the rest kForced, 0).
void force_split(std::string_view text, size_t begin, size_t end, size_t max_tokens,
                 const TokenCounter& count, double first_score, CutType first_cut,
                 std::vector<Block>& out);

}  // namespace blockattn::segment
