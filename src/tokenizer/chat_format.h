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
  std::string name;                  // "chatml" | "plain" | "raw"
  std::vector<int32_t> stop_tokens;  // generation ends when one is sampled (besides EOS)

  std::string final_text(const std::string& query) const;
  // A whole conversation as F, ending where the assistant's answer starts. turns: (role,
  // content) with role system|user|assistant (InputError otherwise). One user turn gives exactly
  // final_text(content).
  //   chatml: "<|im_start|>{role}\n{content}<|im_end|>\n"... "<|im_start|>assistant\n"
  //   plain:  system "{content}\n", user "\n\nQuestion: {content}", assistant "\nAnswer:
  //   {content}",
  //           then "\nAnswer:"
  //   raw:    the contents joined by "\n"
  std::string conversation_text(
      const std::vector<std::pair<std::string, std::string>>& turns) const;
  // What follows final_text() in training text: the answer and the end-of-turn marker
  // (chatml: "{answer}<|im_end|>", plain: " {answer}", raw: "{answer}").
  std::string answer_text(const std::string& answer) const;

  static ChatFormat detect(const Tokenizer& tokenizer, bool chat_template);
  // "chatml" | "plain" | "raw" without a tokenizer (no stop tokens); InputError otherwise.
  static ChatFormat named(const std::string& name);
};

}  // namespace blockattn
