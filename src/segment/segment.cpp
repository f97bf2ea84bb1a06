#include "segment/segment.h"

#include <algorithm>
#include <string>

#include "blockattn/error.h"
#include "segment/fixed.h"
#include "segment/granularity.h"
#include "segment/recursive.h"
#include "segment/span_estimate.h"
#include "segment/text_check.h"

namespace blockattn::segment {

namespace {

struct MethodName {
  Method method;
  const char* name;
};
constexpr MethodName kMethods[] = {
    {Method::kFixed, "fixed"},           {Method::kRecursive, "recursive"},
    {Method::kSentence, "sentence"},     {Method::kParagraph, "paragraph"},
    {Method::kTextTiling, "texttiling"}, {Method::kC99, "c99"},
    {Method::kLearned, "learned"},       {Method::kSemantic, "semantic"}};

// Scores that keep exactly the `cuts` highest-scored candidates (ties: the earlier) at any
// threshold in (0, 1].
std::vector<double> best_cuts(const std::vector<double>& scores, size_t cuts) {
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  cuts = std::min(cuts, order.size());
  std::partial_sort(
      order.begin(), order.begin() + static_cast<long>(cuts), order.end(),
      [&](size_t a, size_t b) { return scores[a] != scores[b] ? scores[a] > scores[b] : a < b; });
  std::vector<double> out(scores.size(), 0.0);
  for (size_t k = 0; k < cuts; ++k) out[order[k]] = 1.0;
  return out;
}

}  // namespace

Method parse_method(std::string_view name) {
  std::string valid;
  for (const MethodName& m : kMethods) {
    if (name == m.name) return m.method;
    valid += valid.empty() ? "" : ", ";
    valid += m.name;
  }
  throw InputError("segment: unknown method '" + std::string(name) + "' (valid: " + valid + ")");
}

const char* method_name(Method m) {
  for (const MethodName& x : kMethods)
    if (x.method == m) return x.name;
  return "?";
}

Segmentation segment_detailed(std::string_view text, const SegmentOptions& opts,
                              const TokenCounter& count) {
  Granularity g{opts.threshold, opts.min_tokens, opts.max_tokens};
  check_granularity(g);
  if (opts.target_tokens > opts.max_tokens)
    throw InputError("segment: target_tokens (" + std::to_string(opts.target_tokens) +
                     ") is greater than max_tokens (" + std::to_string(opts.max_tokens) + ")");
  if (opts.overlap_tokens > 0 && opts.method != Method::kFixed)
    throw InputError("segment: overlap is only for the fixed method");
  if (opts.blocks > 0 && opts.method == Method::kFixed)
    throw InputError("segment: a block count is not for the fixed method (it has no scores)");
  bool needs_scorer = opts.method == Method::kLearned || opts.method == Method::kSemantic;
  if (needs_scorer && !opts.scorer)
    throw InputError(std::string("segment: method '") + method_name(opts.method) +
                     "' needs a scorer (its model)");
  check_text(text);

  const size_t target = opts.target_tokens > 0 ? opts.target_tokens : opts.max_tokens;
  Segmentation out;
  if (text.empty()) return out;
  if (opts.method == Method::kFixed) {
    out.blocks = fixed_windows(text, target, opts.overlap_tokens, count);
    return out;
  }
  out.candidates = find_candidates(text);
  SpanEstimate estimate(text, out.candidates, count);
  switch (opts.method) {
    case Method::kRecursive:
      out.scores = recursive_scores(out.candidates, estimate, target);
      break;
    case Method::kSentence:
      out.scores = packed_scores(out.candidates, estimate, target,
                                 cut_bit(CutType::kSentence) | cut_bit(CutType::kParagraph));
      break;
    case Method::kParagraph:
      out.scores = packed_scores(out.candidates, estimate, target, cut_bit(CutType::kParagraph));
      break;
    case Method::kTextTiling:
      out.scores = texttiling_scores(text, out.candidates, opts.texttiling);
      break;
    case Method::kC99:  // a scorer given with c99 stands in for it (the evaluation's cache)
      out.scores = opts.scorer ? opts.scorer(text, out.candidates)
                               : c99_scores(text, out.candidates, opts.c99);
      break;
    case Method::kLearned:
    case Method::kSemantic:
      out.scores = opts.scorer(text, out.candidates);
      break;
    case Method::kFixed:
      break;
  }
  // The baselines' scores are 0/1 (C99's encode its split order, with Choi's count at 0.5): any
  // threshold in (0, 1] keeps exactly their cuts.
  if (!needs_scorer && opts.method != Method::kC99) g.threshold = 0.5;
  if (opts.blocks > 0) {
    g.threshold = 0.5;
    g.min_tokens = 0;
    out.blocks = apply_granularity(text, out.candidates, best_cuts(out.scores, opts.blocks - 1), g,
                                   estimate, count);
    return out;
  }
  out.blocks = apply_granularity(text, out.candidates, out.scores, g, estimate, count);
  return out;
}

}  // namespace blockattn::segment
