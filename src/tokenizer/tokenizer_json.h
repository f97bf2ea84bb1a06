// Streaming reader for tokenizer.json. The BPE vocab and merges (hundreds of thousands of
// entries) go straight into flat vectors instead of a JSON tree, which makes loading a large
// tokenizer several times faster; everything else becomes an ordinary nlohmann::json.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace blockattn::tok {

struct TokenizerJson {
  nlohmann::json doc;  // the whole file, less model.vocab (when an object) and model.merges
  bool has_vocab = false;
  bool has_merges = false;
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // "a b" and ["a", "b"] alike
};

// Throws FormatError describing the first syntax or shape error (without the file name).
TokenizerJson parse_tokenizer_json(const std::string& text);

}  // namespace blockattn::tok
