// tokenizer.json "post_processor": the special tokens encode(add_special_tokens=true) adds
// around a single sequence (e.g. Llama-3's leading <|begin_of_text|>).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace blockattn::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids) const = 0;
  // The id the processor puts first, if it puts a special token first.
  virtual std::optional<int32_t> leading_special() const { return std::nullopt; }
};

// Supported: ByteLevel (no-op on ids), TemplateProcessing (its "single" template),
// RobertaProcessing, BertProcessing, Sequence. null -> nullptr. Anything else throws
// UnsupportedError naming the type.
std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& spec);

}  // namespace blockattn::tok
