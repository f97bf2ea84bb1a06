// Where every token of a block-attention prompt sits: [B0][B1]…[Bn][F].
#pragma once

#include <cstdint>
#include <vector>

namespace blockattn {

struct SinkConfig {
  int32_t count = 0;     // sink tokens before every block; 0 disables them
  int32_t token_id = 0;  // the token repeated `count` times
};

struct PromptBlock {
  std::vector<int32_t> tokens;  // sinks first, then the block's own tokens
  int64_t offset = 0;           // global position of tokens[0]
};

struct PromptLayout {
  std::vector<PromptBlock> blocks;
  std::vector<int32_t> final_tokens;  // F: the formatted query, no sinks
  int64_t final_offset = 0;

  int64_t total_tokens() const { return final_offset + static_cast<int64_t>(final_tokens.size()); }
  // The whole prompt as one sequence: what full mode runs.
  std::vector<int32_t> flat() const;
};

// Lays out blocks back to back; block i starts at Σ_{j<i} (sinks + len_j).
// Preconditions (checked by the engine): every block and the final part are non-empty.
PromptLayout make_prompt_layout(const std::vector<std::vector<int32_t>>& blocks,
                                std::vector<int32_t> final_tokens, const SinkConfig& sinks);

}  // namespace blockattn
