#include "engine/chat_format.h"

namespace blockattn {

std::string ChatFormat::final_text(const std::string& query) const {
  if (name == "chatml") return "<|im_start|>user\n" + query + "<|im_end|>\n<|im_start|>assistant\n";
  if (name == "plain") return "\n\nQuestion: " + query + "\nAnswer:";
  return query;
}

ChatFormat ChatFormat::detect(const Tokenizer& tokenizer, bool chat_template) {
  ChatFormat f;
  auto im_start = tokenizer.token_to_id("<|im_start|>");
  auto im_end = tokenizer.token_to_id("<|im_end|>");
  if (!chat_template) {
    f.name = "raw";
  } else if (im_start && im_end) {
    f.name = "chatml";
    f.stop_tokens.push_back(*im_end);
  } else {
    f.name = "plain";
  }
  return f;
}

}  // namespace blockattn
