// Token estimates for candidate-aligned spans in O(1).
//
// Re-tokenizing a span for every candidate considered would cost O(n) per query, so the text is
// cut at every candidate into "atoms", each atom is counted once, and a span's estimate is the
// sum of its atoms' counts (prefix sums). This is an approximation: tokenizers are not additive
// (a merge may cross an atom boundary). To keep it close for tokenizers that attach a leading
// space to a word (byte-level BPE "Ġword", SentencePiece "▁word"), an atom is counted without
// its trailing spaces/tabs, which the next atom's first token absorbs. The hard cap never relies
// on the estimate: each final block is checked with an exact count (see cap.h).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "segment/candidates.h"
#include "segment/token_counter.h"

namespace blockattn::segment {

class SpanEstimate {
 public:
  // Bound b is a position in the text: bound 0 is offset 0, bound i (1..m) is candidate i-1,
  // bound m+1 is the end of the text.
  SpanEstimate(std::string_view text, const std::vector<Candidate>& candidates,
               const TokenCounter& count);

  size_t num_bounds() const { return pos_.size(); }
  size_t pos(size_t bound) const { return pos_[bound]; }
  // Estimated tokens of [pos(b1), pos(b2)), b1 <= b2.
  size_t tokens(size_t b1, size_t b2) const { return prefix_[b2] - prefix_[b1]; }

 private:
  std::vector<size_t> pos_;
  std::vector<size_t> prefix_;
};

}  // namespace blockattn::segment
