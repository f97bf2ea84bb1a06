#include "attention/prompt_layout.h"

namespace blockattn {

std::vector<int32_t> PromptLayout::flat() const {
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(total_tokens()));
  for (const PromptBlock& b : blocks) out.insert(out.end(), b.tokens.begin(), b.tokens.end());
  out.insert(out.end(), final_tokens.begin(), final_tokens.end());
  return out;
}

PromptLayout make_prompt_layout(const std::vector<std::vector<int32_t>>& blocks,
                                std::vector<int32_t> final_tokens, const SinkConfig& sinks) {
  PromptLayout layout;
  int64_t offset = 0;
  for (const auto& b : blocks) {
    PromptBlock pb;
    pb.tokens.assign(static_cast<size_t>(sinks.count), sinks.token_id);
    pb.tokens.insert(pb.tokens.end(), b.begin(), b.end());
    pb.offset = offset;
    offset += static_cast<int64_t>(pb.tokens.size());
    layout.blocks.push_back(std::move(pb));
  }
  layout.final_tokens = std::move(final_tokens);
  layout.final_offset = offset;
  return layout;
}

}  // namespace blockattn
