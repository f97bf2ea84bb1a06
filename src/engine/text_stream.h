// Turns generated tokens into text as it becomes safe to show: whole UTF-8 characters only,
// and never text that may turn out to be the start of a stop string.
#pragma once

#include <cstdint>

#include <string>
#include <vector>

#include "blockattn/tokenizer.h"

namespace blockattn {

class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop);

  // Adds a token. True if a stop string now appears: the text is cut just before it.
  bool push(int32_t token);
  // Text that became safe since the last call.
  std::string take_ready();
  // Whatever was held back (end of generation).
  std::string finish();
  // All text so far (after a stop: up to the stop string).
  const std::string& text() const { return text_; }

 private:
  const Tokenizer& tokenizer_;
  std::vector<std::string> stop_;
  size_t holdback_ = 0;  // longest stop string - 1
  std::vector<int32_t> tokens_;
  std::string text_;
  size_t emitted_ = 0;
  bool stopped_ = false;
};

}  // namespace blockattn
