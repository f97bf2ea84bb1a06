// tokenizer.json "decoder": turns the token strings of a decode() back into text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace blockattn::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the list of token strings in place (HF's decode_chain); the caller joins the result.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Supported: ByteLevel, ByteFallback, Fuse, Strip, Replace, Sequence. null -> nullptr (tokens are
// then joined with spaces, as HF does). Anything else throws UnsupportedError naming the type.
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec);

}  // namespace blockattn::tok
