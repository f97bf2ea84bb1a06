#include "segment/cap.h"

#include <algorithm>
#include <tuple>

#include "segment/forced_split.h"

namespace blockattn::segment {

namespace {

size_t abs_diff(size_t a, size_t b) { return a > b ? a - b : b - a; }

// The interior bound of (b1, b2) to split at, or 0 when there is none.
size_t best_split(const CapContext& ctx, size_t b1, size_t b2) {
  const SpanEstimate& est = ctx.estimate;
  size_t best = 0;
  bool best_roomy = false;
  std::tuple<double, int, size_t, size_t> best_key;  // score, type, -imbalance, -byte imbalance
  for (size_t c = b1 + 1; c < b2; ++c) {
    size_t left = est.tokens(b1, c), right = est.tokens(c, b2);
    bool roomy = left >= ctx.min_tokens && right >= ctx.min_tokens;
    const Candidate& cand = ctx.candidates[c - 1];
    size_t bytes_off = abs_diff(est.pos(c) - est.pos(b1), est.pos(b2) - est.pos(c));
    // Negated imbalances so that larger is better in every field.
    auto key = std::make_tuple(ctx.scores[c - 1], static_cast<int>(cand.type),
                               ~abs_diff(left, right), ~bytes_off);
    if (best == 0 || (roomy && !best_roomy) || (roomy == best_roomy && key > best_key)) {
      best = c;
      best_roomy = roomy;
      best_key = key;
    }
  }
  return best;
}

struct Span {
  size_t b1, b2;
  double score;
  CutType cut;
};

}  // namespace

void force_split(std::string_view text, size_t begin, size_t end, size_t max_tokens,
                 const TokenCounter& count, double first_score, CutType first_cut,
                 std::vector<Block>& out) {
  size_t whole = count(text.substr(begin, end - begin));
  if (whole <= max_tokens) {
    out.push_back({begin, end, whole, first_score, first_cut});
    return;
  }
  // Bytes per token of this span predicts where the first cut lands; galloping corrects it.
  double bytes_per_token = static_cast<double>(end - begin) / static_cast<double>(whole);
  size_t guess = std::max<size_t>(1, static_cast<size_t>(0.9 * bytes_per_token * max_tokens));
  double score = first_score;
  CutType cut = first_cut;
  for (size_t p = begin; p < end;) {
    size_t e = longest_prefix_within(text, p, end, max_tokens, count, guess);
    out.push_back({p, e, count(text.substr(p, e - p)), score, cut});
    score = 0.0;
    cut = CutType::kForced;
    p = e;
  }
}

void split_to_cap(const CapContext& ctx, size_t b1, size_t b2, double first_score,
                  CutType first_cut, std::vector<Block>& out) {
  const SpanEstimate& est = ctx.estimate;
  // An explicit stack, right half pushed first: a skewed score profile could otherwise recurse
  // once per block.
  std::vector<Span> stack{{b1, b2, first_score, first_cut}};
  while (!stack.empty()) {
    Span s = stack.back();
    stack.pop_back();
    size_t p1 = est.pos(s.b1), p2 = est.pos(s.b2);
    if (est.tokens(s.b1, s.b2) <= ctx.max_tokens) {
      size_t exact = ctx.count(ctx.text.substr(p1, p2 - p1));
      if (exact <= ctx.max_tokens) {
        out.push_back({p1, p2, exact, s.score, s.cut});
        continue;
      }
    }
    size_t c = best_split(ctx, s.b1, s.b2);
    if (c == 0) {
      force_split(ctx.text, p1, p2, ctx.max_tokens, ctx.count, s.score, s.cut, out);
      continue;
    }
    stack.push_back({c, s.b2, ctx.scores[c - 1], ctx.candidates[c - 1].type});
    stack.push_back({s.b1, c, s.score, s.cut});
  }
}

}  // namespace blockattn::segment
