// Synthetic retrieval evaluation (`blockattn eval --task retrieval|two-facts|distractors|far`):
// evaluation-split items (names, values and passages never used in training) are put to the
// engine as blocks + question, greedy-decoded, and scored by exact match with the answer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "blockattn/engine.h"
#include "data/synthetic_tasks.h"

namespace blockattn::eval {

struct RetrievalEvalOptions {
  data::SynthTask task = data::SynthTask::kRetrieval;
  AttentionMode mode = AttentionMode::kFull;
  size_t passages = 8;
  size_t passage_tokens = 200;
  size_t items = 200;
  uint64_t seed = 1;  // evaluation stream; item i is the same whatever `items` is
  int max_new_tokens = 16;
};

struct RetrievalExample {
  std::string id, question, answer, output;
};

struct RetrievalEvalResult {
  size_t items = 0, correct = 0;
  double exact_match = 0;  // correct / items
  double token_f1 = 0;     // mean answer_token_f1 (eval/answer_match.h) of the greedy outputs
  double mean_prompt_tokens = 0;           // as the engine counted them (sinks included)
  std::vector<RetrievalExample> failures;  // the first few wrong answers, for the report
};

// `documents`: passage sources (texts of held-out documents). The engine must use the model
// whose tokenizer `tokenizer_dir` holds (passage lengths are counted with it). `progress` is
// called after every item with (done, correct). InputError for bad options (see SynthOptions).
RetrievalEvalResult eval_retrieval(Engine& engine, const std::string& tokenizer_dir,
                                   const std::vector<std::string>& documents,
                                   const RetrievalEvalOptions& options,
                                   const std::function<void(size_t, size_t)>& progress = {});

// Exact match after trimming whitespace on both ends.
bool exact_match(const std::string& output, const std::string& answer);

}  // namespace blockattn::eval
