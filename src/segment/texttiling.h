// Baseline: TextTiling (Hearst 1997), following NLTK's TextTilingTokenizer with its defaults
// (block comparison, flat smoothing, HC cutoff). Written from the algorithm, not ported; the
// differences from NLTK are listed in docs/segmentation.md.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "segment/candidates.h"

namespace blockattn::segment {

struct TextTilingOptions {
  size_t w = 20;                // pseudo-sentence size in words
  size_t k = 10;                // block size in pseudo-sentences
  size_t smoothing_width = 2;   // moving-average window is smoothing_width + 1 gaps
  size_t smoothing_rounds = 1;  // NLTK accepts this and smooths once; we honour it
  bool liberal_cutoff = false;  // LC: mean - std; default HC: mean - std / 2
  // Where a gap sits when it is snapped to the nearest paragraph break. NLTK's way (default):
  // the character at which the count of whitespace-separated words first exceeds
  // max(gap * w, w), which puts gap g about one pseudo-sentence early (gaps 0 and 1 coincide).
  // false: the first word of the pseudo-sentence after the gap.
  bool nltk_gap_positions = true;
  // Snap boundaries to the nearest line break instead of the nearest blank line: the setting for
  // sentence-per-line text, where NLTK's paragraph snapping finds nothing to snap to.
  bool snap_to_lines = false;
};

// Intermediate values, for tests and for people tuning it.
struct TextTilingTrace {
  std::vector<size_t> gap_offsets;  // byte offset of each gap (see nltk_gap_positions)
  std::vector<double> gap_scores, smoothed, depth;
  std::vector<bool> boundary;  // per gap, before snapping to paragraphs
};

// One score per candidate: 1 at the paragraph candidates the topic boundaries snap to, else 0.
// Text without paragraph breaks (or too short for a few gaps) gets no cut, unless snap_to_lines.
std::vector<double> texttiling_scores(std::string_view text,
                                      const std::vector<Candidate>& candidates,
                                      const TextTilingOptions& opts = {},
                                      TextTilingTrace* trace = nullptr);

}  // namespace blockattn::segment
