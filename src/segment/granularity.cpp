#include "segment/granularity.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "blockattn/error.h"
#include "segment/cap.h"

namespace blockattn::segment {

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Step 2 on estimates: removes entries of `starts` (bounds where blocks begin; starts[0] == 0).
void merge_slivers(std::vector<size_t>& starts, size_t end_bound, const std::vector<double>& scores,
                   const Granularity& g, const SpanEstimate& est) {
  const size_t n = starts.size();
  std::vector<size_t> prev(n), next(n);
  for (size_t k = 0; k < n; ++k) {
    prev[k] = k == 0 ? kNone : k - 1;
    next[k] = k + 1 == n ? kNone : k + 1;
  }
  auto tokens = [&](size_t k) {
    return est.tokens(starts[k], next[k] == kNone ? end_bound : starts[next[k]]);
  };
  auto boundary_score = [&](size_t k) { return scores[starts[k] - 1]; };  // k > 0
  for (size_t k = 0; k != kNone; k = next[k]) {
    while (tokens(k) < g.min_tokens && (prev[k] != kNone || next[k] != kNone)) {
      bool left;
      if (next[k] == kNone) {
        left = true;
      } else if (prev[k] == kNone) {
        left = false;
      } else {
        bool left_fits = tokens(prev[k]) + tokens(k) <= g.max_tokens;
        bool right_fits = tokens(k) + tokens(next[k]) <= g.max_tokens;
        double left_score = boundary_score(k), right_score = boundary_score(next[k]);
        if (left_fits != right_fits)
          left = left_fits;
        else if (left_score != right_score)
          left = left_score < right_score;
        else
          left = tokens(prev[k]) <= tokens(next[k]);
      }
      size_t gone = left ? k : next[k];  // the block whose start boundary disappears
      size_t keep = prev[gone];
      next[keep] = next[gone];
      if (next[gone] != kNone) prev[next[gone]] = keep;
      k = keep;
    }
  }
  std::vector<size_t> kept;
  for (size_t k = 0; k != kNone; k = next[k]) kept.push_back(starts[k]);
  starts.swap(kept);
}

// Step 4 on exact counts: folds each sliver into the block before it (or the one after, when it
// is first) if the union fits max_tokens.
std::vector<Block> merge_exact(std::string_view text, std::vector<Block> blocks,
                               const Granularity& g, const TokenCounter& count) {
  std::vector<Block> out;
  out.reserve(blocks.size());
  for (Block cur : blocks) {
    while (!out.empty() && (cur.tokens < g.min_tokens || out.back().tokens < g.min_tokens)) {
      Block prev = out.back();
      size_t tokens = count(text.substr(prev.begin, cur.end - prev.begin));
      if (tokens > g.max_tokens) break;
      prev.end = cur.end;
      prev.tokens = tokens;
      cur = prev;
      out.pop_back();
    }
    out.push_back(cur);
  }
  return out;
}

}  // namespace

void check_granularity(const Granularity& g) {
  if (g.max_tokens == 0) throw InputError("segment: max_tokens must be at least 1");
  if (g.min_tokens > g.max_tokens)
    throw InputError("segment: min_tokens (" + std::to_string(g.min_tokens) +
                     ") is greater than max_tokens (" + std::to_string(g.max_tokens) + ")");
  if (!(g.threshold >= 0.0 && g.threshold <= 1.0))
    throw InputError("segment: threshold " + num(g.threshold) + " is outside [0, 1]");
}

std::vector<Block> apply_granularity(std::string_view text,
                                     const std::vector<Candidate>& candidates,
                                     const std::vector<double>& scores, const Granularity& g,
                                     const SpanEstimate& estimate, const TokenCounter& count) {
  check_granularity(g);
  if (scores.size() != candidates.size())
    throw InputError("segment: the scorer returned " + std::to_string(scores.size()) +
                     " scores for " + std::to_string(candidates.size()) + " candidates");
  for (size_t i = 0; i < scores.size(); ++i)
    if (!(scores[i] >= 0.0 && scores[i] <= 1.0))
      throw InputError("segment: score " + num(scores[i]) + " of the candidate at byte " +
                       std::to_string(candidates[i].offset) + " is outside [0, 1]");
  if (text.empty()) return {};

  const size_t end_bound = candidates.size() + 1;
  std::vector<size_t> starts{0};
  for (size_t b = 1; b < end_bound; ++b)
    if (scores[b - 1] >= g.threshold) starts.push_back(b);
  if (g.min_tokens > 0) merge_slivers(starts, end_bound, scores, g, estimate);

  CapContext ctx{text, candidates, scores, estimate, count, g.max_tokens, g.min_tokens};
  std::vector<Block> blocks;
  for (size_t k = 0; k < starts.size(); ++k) {
    size_t b1 = starts[k], b2 = k + 1 < starts.size() ? starts[k + 1] : end_bound;
    double score = b1 == 0 ? 1.0 : scores[b1 - 1];
    CutType cut = b1 == 0 ? CutType::kStart : candidates[b1 - 1].type;
    split_to_cap(ctx, b1, b2, score, cut, blocks);
  }
  if (g.min_tokens > 0) blocks = merge_exact(text, std::move(blocks), g, count);
  return blocks;
}

}  // namespace blockattn::segment
