// How a query becomes the final block F, per model family.
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
  static ChatFormat detect(const Tokenizer& tokenizer, bool chat_template);
};

}  // namespace blockattn
