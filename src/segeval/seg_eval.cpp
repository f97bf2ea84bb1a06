#include "segeval/seg_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <set>
#include <unordered_map>

#include "blockattn/error.h"
#include "segment/granularity.h"
#include "segeval/metrics.h"

namespace blockattn::segment {

namespace {

bool is_scorer_method(Method m) {
  return m == Method::kLearned || m == Method::kSemantic || m == Method::kC99;
}

// Tuning segments the validation split dozens of times with the same texts; every count is of
// a span of one of those texts, so counts are memoised by (pointer, length). Valid only while
// the texts live unchanged, i.e. within one evaluate_segmenters() call.
TokenCounter memo_counter(const TokenCounter& count) {
  struct Key {
    const char* p;
    size_t n;
    bool operator==(const Key& o) const { return p == o.p && n == o.n; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.p) * 31 + std::hash<size_t>()(k.n);
    }
  };
  auto memo = std::make_shared<std::unordered_map<Key, size_t, KeyHash>>();
  return [memo, count](std::string_view s) {
    auto [it, inserted] = memo->try_emplace(Key{s.data(), s.size()}, 0);
    if (inserted) it->second = count(s);
    return it->second;
  };
}

// A scorer that answers from scores computed once per text (keyed by the text's address).
Scorer cached_scorer(const Scorer& inner, std::shared_ptr<std::map<const char*, std::vector<double>>> cache) {
  return [inner, cache](std::string_view text, const std::vector<Candidate>& cands) {
    auto it = cache->find(text.data());
    if (it != cache->end() && it->second.size() == cands.size()) return it->second;
    std::vector<double> s = inner(text, cands);
    (*cache)[text.data()] = s;
    return s;
  };
}

// blocks > 0: exactly that many blocks (SegmentOptions::blocks) instead of the knob.
std::vector<Block> run_method(const EvalMethod& m, double knob, std::string_view text,
                              const EvalOptions& opts, const TokenCounter& count,
                              const Scorer& scorer, size_t blocks = 0) {
  SegmentOptions o;
  o.method = m.method;
  o.max_tokens = opts.max_tokens;
  o.min_tokens = opts.min_tokens;
  o.texttiling = m.texttiling;
  o.blocks = blocks;
  switch (m.method) {
    case Method::kFixed:
    case Method::kRecursive:
    case Method::kSentence:
    case Method::kParagraph:
      o.target_tokens = static_cast<size_t>(knob);
      break;
    case Method::kTextTiling:
      o.texttiling.w = static_cast<size_t>(knob);
      break;
    case Method::kC99:
    case Method::kLearned:
    case Method::kSemantic:
      o.threshold = knob;
      o.scorer = scorer;
      break;
  }
  return segment(text, o, count);
}

// Block starts of the gold segmentation as the metrics see it (snapped over whitespace).
std::vector<Block> gold_blocks(const SegInstance& inst, const TokenCounter& count) {
  std::vector<Block> out;
  std::vector<size_t> cuts = snap_gold_offsets(inst.text, inst.boundaries);
  size_t begin = 0;
  cuts.push_back(inst.text.size());
  for (size_t c : cuts) {
    Block b;
    b.begin = begin;
    b.end = c;
    b.tokens = count(std::string_view(inst.text).substr(begin, c - begin));
    out.push_back(b);
    begin = c;
  }
  return out;
}

void add_block_stats(EvalMetrics& m, const std::vector<Block>& blocks) {
  m.blocks += blocks.size();
  for (const Block& b : blocks) m.tokens += b.tokens;
}

void accumulate(EvalMetrics& sum, const EvalMetrics& x) {
  sum.instances += x.instances;
  sum.pk += x.pk;
  sum.windowdiff += x.windowdiff;
  sum.precision += x.precision;
  sum.recall += x.recall;
  sum.f1 += x.f1;
  sum.precision_tol += x.precision_tol;
  sum.recall_tol += x.recall_tol;
  sum.f1_tol += x.f1_tol;
  sum.blocks += x.blocks;
  sum.tokens += x.tokens;
}

void finish_mean(EvalMetrics& m) {
  if (m.instances == 0) return;
  const double n = static_cast<double>(m.instances);
  for (double* v : {&m.pk, &m.windowdiff, &m.precision, &m.recall, &m.f1, &m.precision_tol,
                    &m.recall_tol, &m.f1_tol})
    *v /= n;
}

struct Tuned {
  double value = 0, mean = 0;
  size_t steps = 0;
};

// Minimises |mean(knob) - target| over knob index 0..n-1, assuming mean grows with the index
// (a larger block size / w / threshold gives longer blocks): a bisection for the first index
// whose mean reaches the target, then the closer of it and its predecessor; the best index
// seen wins if the function is not monotone.
template <class MeanAt>
Tuned search(size_t n, double target, size_t max_steps, const MeanAt& mean_at,
             const std::function<double(size_t)>& value_of) {
  std::map<size_t, double> seen;
  auto at = [&](size_t i) {
    auto it = seen.find(i);
    if (it != seen.end()) return it->second;
    return seen[i] = mean_at(i);
  };
  size_t lo = 0, hi = n - 1;
  while (lo < hi && seen.size() < max_steps) {
    size_t mid = lo + (hi - lo) / 2;
    if (at(mid) < target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (seen.size() < max_steps) at(lo);
  if (lo > 0 && seen.size() < max_steps) at(lo - 1);
  Tuned best;
  double best_err = INFINITY;
  for (const auto& [i, mean] : seen) {
    double err = std::fabs(mean - target);
    if (err < best_err) {
      best_err = err;
      best = {value_of(i), mean, 0};
    }
  }
  best.steps = seen.size();
  return best;
}

}  // namespace

const char* knob_name(Method m) {
  switch (m) {
    case Method::kTextTiling: return "w";
    case Method::kC99:
    case Method::kLearned:
    case Method::kSemantic: return "threshold";
    default: return "target_tokens";
  }
}

std::vector<EvalMethod> baseline_methods() {
  std::vector<EvalMethod> out;
  for (Method m : {Method::kFixed, Method::kRecursive, Method::kSentence, Method::kParagraph,
                   Method::kTextTiling}) {
    EvalMethod e;
    e.name = method_name(m);
    e.method = m;
    out.push_back(e);
  }
  EvalMethod lines = out.back();
  lines.name = "texttiling-lines";
  lines.texttiling.snap_to_lines = true;
  out.push_back(lines);
  // C99 through a scorer, so that tuning computes its (costly) matrix once per text.
  out.push_back(scorer_method("c99", Method::kC99,
                              [](std::string_view text, const std::vector<Candidate>& cands) {
                                return c99_scores(text, cands);
                              }));
  return out;
}

EvalMethod scorer_method(std::string name, Method method, Scorer scorer) {
  EvalMethod e;
  e.name = std::move(name);
  e.method = method;
  e.scorer = std::move(scorer);
  return e;
}

EvalMetrics score_instance(std::string_view text, const std::vector<size_t>& gold,
                           const std::vector<Block>& blocks, Unit unit, size_t tolerance_words) {
  EvalMetrics m;
  m.instances = 1;
  add_block_stats(m, blocks);
  const std::vector<size_t> units = unit_starts(text, unit);
  if (units.empty()) return m;
  const std::string ref = boundary_string(units, text.size(), snap_gold_offsets(text, gold));
  const std::string hyp = boundary_string(units, text.size(), block_boundaries(blocks));
  // k: half the mean reference segment length (NLTK); a reference without boundaries is one
  // segment, so half the text.
  size_t k = ref.find('1') == std::string::npos ? std::max<size_t>(1, ref.size() / 2)
                                                : pk_default_k(ref);
  k = std::min(k, ref.size());
  m.pk = pk(ref, hyp, k);
  m.windowdiff = windowdiff(ref, hyp, k);
  const BoundaryScores b0 = boundary_scores(ref, hyp, 0);
  const BoundaryScores bt = boundary_scores(ref, hyp, tolerance_words);
  m.precision = b0.precision;
  m.recall = b0.recall;
  m.f1 = b0.f1;
  m.precision_tol = bt.precision;
  m.recall_tol = bt.recall;
  m.f1_tol = bt.f1;
  return m;
}

EvalResult evaluate_segmenters(const std::vector<SegInstance>& validation,
                               const std::vector<SegInstance>& test,
                               const std::vector<EvalMethod>& methods, const TokenCounter& count,
                               const EvalOptions& opts) {
  using Clock = std::chrono::steady_clock;
  if (test.empty()) throw InputError("segmenter eval: no test instances");
  if (methods.empty()) throw InputError("segmenter eval: no methods to evaluate");
  if (!count) throw InputError("segmenter eval: no token counter");
  check_granularity(Granularity{0.5, opts.min_tokens, opts.max_tokens});
  std::set<std::string> names;
  bool any_tuned = false;
  for (const EvalMethod& m : methods) {
    if (m.name.empty() || !names.insert(m.name).second)
      throw InputError("segmenter eval: method names must be unique and non-empty ('" + m.name + "')");
    if (is_scorer_method(m.method) && !m.scorer)
      throw InputError("segmenter eval: method '" + m.name + "' needs a scorer");
    any_tuned = any_tuned || m.tune;
  }
  if (any_tuned && validation.empty())
    throw InputError("segmenter eval: tuning needs validation instances");
  for (const SegInstance& inst : validation) check_instance(inst);
  for (const SegInstance& inst : test) check_instance(inst);
  auto say = [&](const std::string& msg) {
    if (opts.progress) opts.progress(msg);
  };

  EvalResult r;
  r.max_tokens = opts.max_tokens;
  r.min_tokens = opts.min_tokens;
  r.tolerance_words = opts.tolerance_words;
  r.unit = opts.unit == Unit::kWord ? "word" : "char";
  r.coverage = candidate_coverage(test);

  const TokenCounter memo = memo_counter(count);
  EvalMetrics val_gold;
  for (const SegInstance& inst : validation) add_block_stats(val_gold, gold_blocks(inst, memo));
  r.target_mean_tokens = val_gold.mean_block_tokens();
  for (const SegInstance& inst : test) {
    EvalMetrics g;
    g.instances = 1;
    add_block_stats(g, gold_blocks(inst, count));
    accumulate(r.gold, g);
    accumulate(r.gold_by_category[inst.category], g);
    r.test_bytes += inst.text.size();
  }
  for (const auto& kv : r.gold_by_category) r.categories.push_back(kv.first);
  if (!validation.empty())
    say("tuning target: gold mean block length on validation " + std::to_string(r.target_mean_tokens) +
        " tokens");

  for (const EvalMethod& m : methods) {
    MethodResult res;
    res.name = m.name;
    res.method = m.method;
    res.knob = knob_name(m.method);
    res.knob_value = m.knob;
    if (m.tune) {
      auto cache = std::make_shared<std::map<const char*, std::vector<double>>>();
      const Scorer scorer = m.scorer ? cached_scorer(m.scorer, cache) : Scorer();
      auto mean_at_knob = [&](double knob) {
        EvalMetrics s;
        for (const SegInstance& inst : validation)
          add_block_stats(s, run_method(m, knob, inst.text, opts, memo, scorer));
        return s.mean_block_tokens();
      };
      Tuned t;
      if (is_scorer_method(m.method)) {
        std::vector<double> values;
        for (const SegInstance& inst : validation) {
          std::vector<double> s = scorer(inst.text, find_candidates(inst.text));
          values.insert(values.end(), s.begin(), s.end());
        }
        std::sort(values.begin(), values.end());
        values.erase(std::unique(values.begin(), values.end()), values.end());
        if (values.empty()) values.push_back(0.5);
        t = search(values.size(), r.target_mean_tokens, opts.max_tune_steps,
                   [&](size_t i) { return mean_at_knob(values[i]); },
                   [&](size_t i) { return values[i]; });
      } else {
        const size_t lo = m.method == Method::kTextTiling ? 3 : 1;
        const size_t hi = m.method == Method::kTextTiling ? 4000 : opts.max_tokens;
        t = search(hi - lo + 1, r.target_mean_tokens, opts.max_tune_steps,
                   [&](size_t i) { return mean_at_knob(static_cast<double>(lo + i)); },
                   [&](size_t i) { return static_cast<double>(lo + i); });
      }
      res.knob_value = t.value;
      res.validation_mean_tokens = t.mean;
      res.tune_steps = t.steps;
      say("tuned " + m.name + ": " + res.knob + " = " + std::to_string(t.value) + " -> mean " +
          std::to_string(t.mean) + " tokens (" + std::to_string(t.steps) + " steps)");
    } else if (!validation.empty()) {
      EvalMetrics s;
      for (const SegInstance& inst : validation)
        add_block_stats(s, run_method(m, m.knob, inst.text, opts, memo, m.scorer));
      res.validation_mean_tokens = s.mean_block_tokens();
    }

    // The test split, timed with the caller's counter and scorer (no memo, no cache).
    double seconds = 0;
    for (const SegInstance& inst : test) {
      const auto t0 = Clock::now();
      std::vector<Block> blocks = run_method(m, res.knob_value, inst.text, opts, count, m.scorer);
      seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      for (const Block& b : blocks) {
        // segment() guarantees the cap with an exact count; the evaluation re-states it per run.
        if (b.tokens > opts.max_tokens)
          throw Error(m.name + " produced a block of " + std::to_string(b.tokens) + " tokens in " + inst.id +
                      ", above the cap of " + std::to_string(opts.max_tokens));
        res.max_block_tokens = std::max(res.max_block_tokens, b.tokens);
      }
      EvalMetrics x = score_instance(inst.text, inst.boundaries, blocks, opts.unit, opts.tolerance_words);
      accumulate(res.overall, x);
      accumulate(res.by_category[inst.category], x);
    }
    finish_mean(res.overall);
    for (auto& kv : res.by_category) finish_mean(kv.second);
    if (opts.true_count && is_scorer_method(m.method)) {
      res.has_true_count = true;
      for (const SegInstance& inst : test) {
        std::vector<Block> blocks = run_method(m, res.knob_value, inst.text, opts, count, m.scorer,
                                               inst.boundaries.size() + 1);
        EvalMetrics x =
            score_instance(inst.text, inst.boundaries, blocks, opts.unit, opts.tolerance_words);
        accumulate(res.true_count, x);
        accumulate(res.true_count_by_category[inst.category], x);
      }
      finish_mean(res.true_count);
      for (auto& kv : res.true_count_by_category) finish_mean(kv.second);
    }
    res.seconds = seconds;
    res.mb_per_s = seconds > 0 ? r.test_bytes / 1e6 / seconds : 0.0;
    say("evaluated " + m.name + ": Pk " + std::to_string(res.overall.pk) + ", F1 " +
        std::to_string(res.overall.f1));
    r.methods.push_back(std::move(res));
  }
  return r;
}

}  // namespace blockattn::segment
