// tokenizer.json "pre_tokenizer": cuts normalized text into the pieces BPE encodes one by one.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace blockattn::tok {

// Receives each final piece, in order; it may move from the string.
using PieceSink = std::function<void(std::string&)>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Cuts `piece` and hands each non-empty sub-piece to `sink` as soon as it is known, so a long
  // text never exists as a list of millions of pieces.
  virtual void pre_tokenize(std::string& piece, const PieceSink& sink) const = 0;
};

// Supported: Split (String or Regex pattern, every behavior, invert), ByteLevel, Digits,
// Sequence. null -> nullptr. Anything else throws UnsupportedError naming the type.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec);

}  // namespace blockattn::tok
