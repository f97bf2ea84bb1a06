// The block-attention evaluation suite (`blockattn eval --suite`): every task of docs/evaluation.md
// on held-out data, for several models in full and block attention, as one table.
//
//   final-block  perplexity of the last block of held-out documents given the earlier blocks
//   qa8, qa16    single-fact retrieval, 8 / 16 passages of ~200 tokens
//   two-facts    two chained facts in different passages, 8 passages
//   distractors  the fact among near-miss facts, 8 passages
//   qa-varied    held-out phrasing: varied extractive QA (synth --task qa, eval templates and
//                entities), 8 passages, 20% unanswerable ("The context does not say.")
//   needle       one fact at depth 0, ¼, ½, ¾, 1 of haystacks of 4, 8 and 16 passages (~0.8k-3.2k
//   tokens)
//
// Items are built once from the evaluation split (names, values and passages never used in
// training) and scored with eval/qa_score.h (exact match under greedy decoding).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/qa_score.h"
#include "segdata/dataset_instance.h"

namespace blockattn::eval {

struct SuiteOptions {
  size_t qa_items = 200;                          // per QA task
  size_t needle_items = 20;                       // per (length, depth) cell
  std::vector<size_t> needle_passages{4, 8, 16};  // haystack passages of passage_tokens each
  std::vector<double> needle_depths{0, 0.25, 0.5, 0.75, 1};
  size_t passage_tokens = 200;
  uint64_t seed = 1;
  int64_t window = 2048;  // final-block sequence length
  int64_t batch_rows = 8;
};

struct SuiteTask {
  std::string name;
  std::vector<QaItem> items;       // empty for final-block
  std::vector<std::string> cells;  // needle: the cell of each item ("2000@0.50"); qa-varied:
                                   // its fact type ("date") or "abstain"
};

struct SuiteScores {
  std::map<std::string, double> score;  // task -> exact match (QA) or perplexity (final-block)
  std::map<std::string, double> needle_cells;
  // qa-varied: "em" and "f1" over answerable items, "abstain" (accuracy on unanswerable ones),
  // "em:<type>" and "f1:<type>" per fact type. F1 is answer_token_f1 (eval/answer_match.h) of
  // the teacher-forced argmax answer (qa_score.h).
  std::map<std::string, double> qa_breakdown;
};

class EvalSuite {
 public:
  // `documents`: held-out texts for passages; `instances`: held-out segmented documents for
  // final-block (may be empty: the task is then left out). InputError for unusable options.
  EvalSuite(const Tokenizer& tokenizer, const std::vector<std::string>& documents,
            std::vector<segment::SegInstance> instances, const SuiteOptions& options);

  std::vector<std::string> task_names() const;  // in table order

  SuiteScores run(const Model& model, const Tokenizer& tokenizer, bool block_mode,
                  const std::function<void(const std::string&)>& progress = {}) const;

 private:
  SuiteOptions options_;
  std::vector<SuiteTask> qa_;
  std::vector<segment::SegInstance> instances_;
};

}  // namespace blockattn::eval
