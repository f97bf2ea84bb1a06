// Where every token of a block-attention prompt sits: [s B0][s B1]…[s Bn][F]. Pure data,
// torch-free (the ASan suite tests it): the engine's prefill (attention/block_prefill.h) runs a
// PromptLayout; training and evaluation expand the same plan per token (lay_out_sample) and pack
// it into masked rows (train/block_layout.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace blockattn {

class Tokenizer;
struct ModelConfig;

struct SinkConfig {
  int32_t count = 0;     // sink tokens before every block; 0 disables them
  int32_t token_id = 0;  // the token repeated `count` times
};

// The one sink resolver: what the engine serves, what evaluation scores and what a distilled
// model records. count = `requested_count` if >= 0, else the model's config.json
// (blockattn.block_sink_tokens, default 0); InputError above 64. Token, the first that exists:
//   1. config.json's blockattn.block_sink_token_id (distillation writes the token it trained with),
//   2. the tokenizer's "<|block_sink|>",
//   3. the tokenizer's BOS, 4. its EOS, 5. token 0.
SinkConfig resolve_sinks(int32_t requested_count, const ModelConfig& model,
                         const Tokenizer& tokenizer);

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

// ---- The same plan per token, for one forward pass with a mask (training and scoring).
//
// A sample is blocks of content tokens [B0 … Bn-1][F]; F, the final block, attends to everything
// before it. Its student layout is make_prompt_layout's, followed by block dropout's query copies:
//
//   [s B0][s B1] … [s Bn-1][F][B_i copy][B_j copy] …
//
// `s` = k sink tokens before every context block (the engine adds them in full mode too). Context
// blocks attend causally within themselves (sinks included); F attends to everything before it.
// The copies are block dropout's query blocks (docs/distillation.md): context block i, appended
// again after F at the positions it would have as the final block of the prefix B0..Bi-1 (i.e.
// starting at block i's own offset), attending to blocks 0..i-1 and causally to itself — so one
// pass supervises block i as if it were the question, while the blocks after it still see only
// block-mode KV. Full mode: the same tokens without copies, ordinary causal attention.
//
// The teacher sees only the content tokens, with causal attention; a supervised prediction pairs
// a student position with the content position whose next-token distribution it must match.

// Content of one sample: >= 2 non-empty blocks of token ids, the last one being F.
struct BlockSample {
  std::vector<std::vector<int32_t>> blocks;
  std::string category;
  size_t content_tokens() const;
};

struct LayoutOptions {
  bool block_mode = true;   // false: ordinary causal attention (full mode), no copies
  int32_t sink_tokens = 0;  // k >= 0 sinks before every context block
  int32_t sink_token_id = 0;
  std::vector<size_t> copies;  // context blocks (1 <= i < n) appended as query copies, ascending
};

// One sample laid out. Attention rule for token t of the sample and key s:
//   s <= t  and  (group[s] == group[t]  or  s < sees_prefix[t]).
struct SampleLayout {
  std::vector<int64_t> ids;          // [n] student tokens
  std::vector<int64_t> positions;    // [n] RoPE positions
  std::vector<int64_t> group;        // [n] attention group (block) of each token, 0-based
  std::vector<int64_t> sees_prefix;  // [n] tokens [0, sees_prefix) visible beyond the own group
  // Supervised predictions: the student's logits at student_index[i] must predict what the
  // teacher (full attention over the content) predicts at content_index[i], i.e. the next content
  // token content_index[i] + 1 (always < content length).
  std::vector<int64_t> student_index, content_index;
};

// InputError for fewer than 2 blocks, an empty block, negative sinks, a copy index out of
// [1, n-1) or unsorted, or copies in full mode.
SampleLayout lay_out_sample(const BlockSample& sample, const LayoutOptions& options);

// The content tokens of `sample` back to back ([content_tokens()]).
std::vector<int64_t> content_ids(const BlockSample& sample);

}  // namespace blockattn
