// tokenizer.json "normalizer": rewrites each piece of text before pre-tokenization.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace blockattn::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// Supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence. null -> nullptr.
// Anything else throws UnsupportedError naming the type.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec);

}  // namespace blockattn::tok
