#include "tokenizer/chat_format.h"

#include "blockattn/error.h"

namespace blockattn {

std::string ChatFormat::final_text(const std::string& query) const {
  if (name == "chatml") return "<|im_start|>user\n" + query + "<|im_end|>\n<|im_start|>assistant\n";
  if (name == "plain") return "\n\nQuestion: " + query + "\nAnswer:";
  return query;
}

std::string ChatFormat::conversation_text(
    const std::vector<std::pair<std::string, std::string>>& turns) const {
  std::string out;
  for (size_t i = 0; i < turns.size(); ++i) {
    const auto& [role, content] = turns[i];
    if (role != "system" && role != "user" && role != "assistant")
      throw InputError("message " + std::to_string(i + 1) + " has role \"" + role +
                       "\" (system, user or assistant)");
    if (name == "chatml") {
      out += "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
    } else if (name == "plain") {
      out += role == "system" ? content + "\n"
             : role == "user" ? "\n\nQuestion: " + content
                              : "\nAnswer: " + content;
    } else {
      if (i > 0) out += "\n";
      out += content;
    }
  }
  if (name == "chatml") out += "<|im_start|>assistant\n";
  if (name == "plain") out += "\nAnswer:";
  return out;
}

std::string ChatFormat::answer_text(const std::string& answer) const {
  if (name == "chatml") return answer + "<|im_end|>";
  if (name == "plain") return " " + answer;
  return answer;
}

ChatFormat ChatFormat::named(const std::string& name) {
  if (name != "chatml" && name != "plain" && name != "raw")
    throw InputError("unknown chat format \"" + name + "\" (chatml, plain or raw)");
  ChatFormat f;
  f.name = name;
  return f;
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
