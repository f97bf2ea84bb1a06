// How a query becomes the final block F, per model family (torch-free: synthetic training data
// is written in the same layout the engine prompts with).
//
//   chatml (tokenizer has <|im_start|>/<|im_end|>, e.g. Qwen and our models):
//     F = "<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n", stop at <|im_end|>
//   plain (anything else):
//     F = "\n\nQuestion: {query}\nAnswer:"
// Blocks are used verbatim: a block's text is the whole cache key, so callers that want a
// system prompt pass it as the first block.
#pragma once

#include <cstdint>

#include <string>
#include <vector>

#include "blockattn/tokenizer.h"

namespace blockattn {

struct ChatFormat {
  std::string name;                   // "chatml" | "plain" | "raw"
  std::vector<int32_t> stop_tokens;   // generation ends when one is sampled (besides EOS)

  std::string final_text(const std::string& query) const;
  // What follows final_text() in training text: the answer and the end-of-turn marker
  // (chatml: "{answer}<|im_end|>", plain: " {answer}", raw: "{answer}").
  std::string answer_text(const std::string& answer) const;

  static ChatFormat detect(const Tokenizer& tokenizer, bool chat_template);
  // "chatml" | "plain" | "raw" without a tokenizer (no stop tokens); InputError otherwise.
  static ChatFormat named(const std::string& name);
};

}  // namespace blockattn
