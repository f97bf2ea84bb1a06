// The segmentation evaluation (`blockattn segmenter eval`): every method at matched granularity
// on the test split, scored with Pk, WindowDiff and boundary precision/recall/F1 per category and
// overall. docs/segmentation.md ("Evaluation") gives the protocol.
//
//   std::vector<EvalMethod> methods = baseline_methods();              // fixed .. texttiling
//   methods.push_back(scorer_method("learned", Method::kLearned, make_learned_scorer(model)));
//   methods.push_back(scorer_method("semantic", Method::kSemantic, semantic_scorer));
//   EvalResult r = evaluate_segmenters(validation, test, methods, count, EvalOptions{});
//   std::cout << eval_markdown(r);  write_file_atomic(path, eval_json(r));
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "segdata/dataset_instance.h"
#include "segment/gold_map.h"
#include "segment/segment.h"
#include "segeval/units.h"

namespace blockattn::segment {

// One row of the evaluation. Its granularity knob: SegmentOptions::target_tokens for fixed,
// recursive, sentence and paragraph; TextTilingOptions::w (words per pseudo-sentence) for
// texttiling, which has no block-size option; the threshold for learned and semantic.
struct EvalMethod {
  std::string name;  // row label, unique
  Method method = Method::kRecursive;
  Scorer scorer;       // learned / semantic
  bool tune = true;    // false: use `knob` as given
  double knob = 0;     // the knob's value when !tune
  TextTilingOptions texttiling;  // texttiling's other parameters
};

// fixed, recursive, sentence, paragraph, texttiling, texttiling-lines (snap_to_lines), c99 (all
// tuned; c99 through a scorer, its threshold the knob).
std::vector<EvalMethod> baseline_methods();
EvalMethod scorer_method(std::string name, Method method, Scorer scorer);
// "target_tokens", "w" or "threshold".
const char* knob_name(Method m);

struct EvalOptions {
  size_t max_tokens = 512;  // every method's hard cap
  size_t min_tokens = 0;
  size_t tolerance_words = 1;  // the second F1: boundaries up to this many units apart match
  Unit unit = Unit::kWord;
  size_t max_tune_steps = 40;  // segmentations of the validation split per method, at most
  // Also segment every test instance into exactly its gold number of blocks (SegmentOptions::
  // blocks) with each scoring method (c99, learned, semantic): the result when the count is known.
  bool true_count = false;
  std::function<void(const std::string&)> progress;  // one-line messages
};

// Means over instances (macro), except the block statistics, which are pooled.
struct EvalMetrics {
  size_t instances = 0;
  double pk = 0, windowdiff = 0;
  double precision = 0, recall = 0, f1 = 0;              // exact unit positions
  double precision_tol = 0, recall_tol = 0, f1_tol = 0;  // within tolerance_words
  size_t blocks = 0, tokens = 0;
  double mean_block_tokens() const { return blocks ? static_cast<double>(tokens) / blocks : 0.0; }
};

struct MethodResult {
  std::string name;
  Method method = Method::kRecursive;
  std::string knob;        // knob_name(method)
  double knob_value = 0;   // tuned (or given)
  double validation_mean_tokens = 0;  // pooled mean block length on validation at knob_value
  size_t tune_steps = 0;
  EvalMetrics overall;
  std::map<std::string, EvalMetrics> by_category;
  double seconds = 0;   // segmenting the test split (candidates, scoring, cap, exact counts)
  double mb_per_s = 0;  // test bytes / seconds
  size_t max_block_tokens = 0;  // largest test block by the exact count (never above max_tokens)
  // EvalOptions::true_count, for scoring methods: the test split at the gold block count.
  bool has_true_count = false;
  EvalMetrics true_count;
  std::map<std::string, EvalMetrics> true_count_by_category;
};

struct EvalResult {
  size_t max_tokens = 0, min_tokens = 0, tolerance_words = 0;
  std::string unit;                   // "word" or "char"
  double target_mean_tokens = 0;      // gold mean block length on validation: the tuning target
  EvalMetrics gold;                   // test gold: instances, blocks, tokens
  std::map<std::string, EvalMetrics> gold_by_category;
  std::vector<std::string> categories;  // of the test split, sorted
  std::vector<MethodResult> methods;    // in the order given
  std::vector<CoverageRow> coverage;    // test split, candidate coverage
  size_t test_bytes = 0;
};

// (a) tunes each method's knob on `validation` so that its pooled mean block length (tokens by
// `count`) is closest to the gold one, (b) segments `test` with it, (c) scores it.
// InputError: no test instances, no methods, duplicate names, a scorer method without a
// scorer, tuning asked without validation instances, bad options; check_instance() on inputs.
EvalResult evaluate_segmenters(const std::vector<SegInstance>& validation,
                               const std::vector<SegInstance>& test,
                               const std::vector<EvalMethod>& methods, const TokenCounter& count,
                               const EvalOptions& opts);

// Metrics of one instance: gold boundaries (byte offsets of block starts, as in SegInstance)
// against a method's blocks; blocks/tokens are filled from `blocks`.
EvalMetrics score_instance(std::string_view text, const std::vector<size_t>& gold,
                           const std::vector<Block>& blocks, Unit unit, size_t tolerance_words);

// Rendering (seg_eval_report.cpp). Markdown: a summary table (one row per method: knob, tuned
// value, mean block length, Pk, WindowDiff, P/R/F1, F1 within tolerance, categories where it is
// best, MB/s), a per-category table (rows methods, a "Pk / F1" column per category and overall;
// the best of each column in bold) and the candidate coverage. JSON: everything in EvalResult.
std::string eval_markdown(const EvalResult& r);
std::string eval_json(const EvalResult& r);

}  // namespace blockattn::segment
