// Automatic segmentation: one entry point for every method.
//
//   auto count = segment::tokenizer_counter(tok);
//   segment::SegmentOptions opts;
//   opts.method = segment::parse_method("recursive");
//   opts.max_tokens = 512;
//   for (const segment::Block& b : segment::segment(text, opts, count)) ...
//
// Every method but `fixed` produces one score per candidate cut (candidates.h) and goes through
// the same threshold / min-merge / hard-cap code (granularity.h); `learned` and `semantic` are
// scorers supplied by the caller. No block ever has more than max_tokens tokens by `count`.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "segment/block.h"
#include "segment/c99.h"
#include "segment/candidates.h"
#include "segment/texttiling.h"
#include "segment/token_counter.h"

namespace blockattn::segment {

enum class Method {
  kFixed,
  kRecursive,
  kSentence,
  kParagraph,
  kTextTiling,
  kC99,
  kLearned,
  kSemantic
};

// "fixed", "recursive", "sentence", "paragraph", "texttiling", "c99", "learned", "semantic";
// anything else throws InputError listing these.
Method parse_method(std::string_view name);
const char* method_name(Method m);

// A score in [0, 1] for each candidate (1 = surely a boundary), from the text and its
// candidates; the learned segmenter and the embedding "semantic" baseline are scorers.
using Scorer =
    std::function<std::vector<double>(std::string_view text, const std::vector<Candidate>&)>;

struct SegmentOptions {
  Method method = Method::kRecursive;
  size_t max_tokens = 512;  // hard cap, >= 1
  size_t min_tokens = 0;    // slivers below this merge into a neighbour (best effort)
  // Block size the baselines aim for: fixed window size; recursive/sentence/paragraph pack up to
  // it. 0 means max_tokens; must be <= max_tokens. Ignored by texttiling and the scorers.
  size_t target_tokens = 0;
  size_t overlap_tokens = 0;  // fixed only: windows overlap by up to this many tokens
  double threshold = 0.5;     // learned/semantic/c99: cut where score >= threshold
  // > 0: exactly `blocks` blocks from the blocks - 1 highest-scored candidates (ties: the
  // earlier), instead of the threshold; min_tokens is not applied (it would change the count).
  // The hard cap still holds: a text that cannot fit in `blocks` blocks of max_tokens gets more.
  // Not for `fixed`, whose windows have no scores.
  size_t blocks = 0;
  TextTilingOptions texttiling;
  C99Options c99;
  Scorer scorer;  // required for learned and semantic
};

struct Segmentation {
  std::vector<Candidate> candidates;  // empty for `fixed`
  std::vector<double> scores;         // one per candidate
  std::vector<Block> blocks;
};

// Checks the text (text_check.h: invalid UTF-8 or a NUL byte -> InputError naming the byte
// offset) and the options (InputError), then segments. Empty text has zero blocks.
Segmentation segment_detailed(std::string_view text, const SegmentOptions& opts,
                              const TokenCounter& count);

inline std::vector<Block> segment(std::string_view text, const SegmentOptions& opts,
                                  const TokenCounter& count) {
  return segment_detailed(text, opts, count).blocks;
}

}  // namespace blockattn::segment
