// Baselines that choose cuts among the candidates: the recursive separator splitter and the
// sentence and paragraph packers. Each returns one score per candidate, 1 for a cut it makes and
// 0 otherwise, so that its output goes through the same threshold/min/cap code as any scorer.
#pragma once

#include <cstddef>
#include <vector>

#include "segment/candidates.h"
#include "segment/span_estimate.h"

namespace blockattn::segment {

// LangChain's RecursiveCharacterTextSplitter in tokens: split at the strongest separator level
// present (paragraph, then code structure, line, sentence, word), greedily pack consecutive
// pieces while they fit target_tokens, and split a piece that alone exceeds target_tokens at the
// next weaker level. A piece still too long after words is left to the cap's forced split.
std::vector<double> recursive_scores(const std::vector<Candidate>& candidates,
                                     const SpanEstimate& estimate, size_t target_tokens);

// Greedy packing of units into blocks of at most target_tokens (estimated); units are the spans
// between candidates that are any of `unit_kinds` (cut_bit()s). A unit larger than
// target_tokens is a block of its own (the cap re-splits it).
//   sentence splitter: unit_kinds = cut_bit(kSentence) | cut_bit(kParagraph)
//   paragraph splitter: unit_kinds = cut_bit(kParagraph)
std::vector<double> packed_scores(const std::vector<Candidate>& candidates,
                                  const SpanEstimate& estimate, size_t target_tokens,
                                  uint8_t unit_kinds);

}  // namespace blockattn::segment
