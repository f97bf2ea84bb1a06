// Multi-passage QA scored in one forward pass per item (`blockattn eval` QA and needle tasks).
//
// Greedy decoding produces the answer exactly when, fed the prompt and the answer's tokens, the
// model's argmax at every answer position is the next answer token — and then the end-of-turn
// token. So exact match under greedy decoding is computed teacher-forced: one batched forward
// pass per group of items, with the block layout of attention/prompt_layout.h (which equals the
// engine's block prefill, tests/engine/block_mask_test.cpp) and the model's own sink tokens.
// The one difference from `generate`: an answer the model would spell with other tokens than
// the tokenizer's own split of it counts as wrong here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tokenizer/chat_format.h"

namespace blockattn {
class Model;
class Tokenizer;
}  // namespace blockattn

namespace blockattn::eval {

struct QaItem {
  std::string id;
  std::vector<std::string> blocks;  // context blocks, used verbatim (as the engine does)
  std::string question, answer;
};

struct QaScoreOptions {
  bool block_mode = true;
  int32_t sink_tokens = 0;  // the model's (config.json "blockattn"), in both modes, as the engine
  int32_t sink_token_id = 0;
  int64_t batch_rows = 8;  // items per forward pass
};

// One flag per item: greedy decoding would answer exactly. InputError if an item does not fit
// the model's context. With `argmax_answers`, also each item's teacher-forced answer: the
// model's argmax at every answer position, decoded without special tokens (equal to the greedy
// answer when the flag is set; otherwise the per-position best guess that token F1 scores,
// eval/answer_match.h).
std::vector<bool> score_qa(const Model& model, const Tokenizer& tokenizer, const ChatFormat& format,
                           const std::vector<QaItem>& items, const QaScoreOptions& options,
                           const std::function<void(size_t done)>& progress = {},
                           std::vector<std::string>* argmax_answers = nullptr);

// The model's sink settings as the engine serves them (resolve_sinks, attention/prompt_layout.h).
QaScoreOptions sink_options_of(const Model& model, const Tokenizer& tokenizer, bool block_mode);

}  // namespace blockattn::eval
