#include "segment/token_counter.h"

#include "blockattn/tokenizer.h"

namespace blockattn::segment {

TokenCounter tokenizer_counter(const Tokenizer& tok) {
  return [&tok](std::string_view s) { return tok.encode(s).size(); };
}

TokenCounter word_counter() {
  return [](std::string_view s) {
    size_t words = 0;
    bool in_word = false;
    for (char c : s) {
      bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
      if (!space && !in_word) ++words;
      in_word = !space;
    }
    return words;
  };
}

TokenCounter byte_counter(size_t bytes_per_token) {
  if (bytes_per_token == 0) bytes_per_token = 1;
  return [bytes_per_token](std::string_view s) {
    return (s.size() + bytes_per_token - 1) / bytes_per_token;
  };
}

}  // namespace blockattn::segment
