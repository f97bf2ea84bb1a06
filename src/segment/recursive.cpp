#include "segment/recursive.h"

namespace blockattn::segment {

namespace {

constexpr CutType kLevels[] = {CutType::kParagraph, CutType::kCode, CutType::kLine,
                               CutType::kSentence, CutType::kWord};
constexpr size_t kNumLevels = sizeof(kLevels) / sizeof(kLevels[0]);

struct Recursive {
  const std::vector<Candidate>& candidates;
  const SpanEstimate& est;
  size_t target;
  std::vector<double>& scores;

  void cut(size_t bound) { scores[bound - 1] = 1.0; }

  // Cuts strictly inside bounds (b1, b2), which hold no candidate stronger than kLevels[level].
  void split(size_t b1, size_t b2, size_t level) {
    // Find the strongest level present; an empty level would only repeat the whole span.
    std::vector<size_t> seps;
    for (; level < kNumLevels && seps.empty(); ++level)
      for (size_t c = b1 + 1; c < b2; ++c)
        if (candidates[c - 1].type >= kLevels[level]) seps.push_back(c);
    if (seps.empty()) return;
    seps.push_back(b2);
    size_t chunk = b1, x = b1;
    for (size_t y : seps) {
      if (est.tokens(x, y) > target) {
        if (x > b1) cut(x);
        if (y < b2) cut(y);
        split(x, y, level);
        chunk = y;
      } else if (est.tokens(chunk, y) > target) {
        cut(x);
        chunk = x;
      }
      x = y;
    }
  }
};

}  // namespace

std::vector<double> recursive_scores(const std::vector<Candidate>& candidates,
                                     const SpanEstimate& estimate, size_t target_tokens) {
  std::vector<double> scores(candidates.size(), 0.0);
  Recursive r{candidates, estimate, target_tokens, scores};
  size_t end = candidates.size() + 1;
  if (estimate.tokens(0, end) > target_tokens) r.split(0, end, 0);
  return scores;
}

std::vector<double> packed_scores(const std::vector<Candidate>& candidates,
                                  const SpanEstimate& estimate, size_t target_tokens,
                                  uint8_t unit_kinds) {
  std::vector<double> scores(candidates.size(), 0.0);
  size_t chunk = 0, x = 0;
  size_t end = candidates.size() + 1;
  for (size_t y = 1; y <= end; ++y) {
    if (y < end && (candidates[y - 1].kinds & unit_kinds) == 0) continue;
    // Unit [x, y): close the chunk before it when adding it would overflow, and after it when it
    // overflows on its own.
    if (x > chunk && estimate.tokens(chunk, y) > target_tokens) {
      scores[x - 1] = 1.0;
      chunk = x;
    }
    if (estimate.tokens(x, y) > target_tokens && y < end) {
      scores[y - 1] = 1.0;
      chunk = y;
    }
    x = y;
  }
  return scores;
}

}  // namespace blockattn::segment
