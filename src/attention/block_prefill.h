// Prefill of a block-attention prompt: fetch or encode each block, place it at its offset,
// then run the final block over everything. Also the full-attention reference.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <vector>

#include "attention/prompt_layout.h"
#include "cache/block_store.h"
#include "model/model.h"

namespace blockattn {

// Encodes `tokens` alone at positions start..start+n-1 (0: the block's cacheable KV; other
// starts are the reference that RoPE re-encoding must reproduce).
BlockKV encode_block(const Model& model, const std::vector<int32_t>& tokens, int64_t start = 0);

// Encodes several blocks, each alone at positions 0..n-1 as encode_block does, in as few
// forwards as possible: blocks are packed back to back into forwards of at most
// kMaxPackedTokens tokens (a longer block gets a forward of its own). Entry b equals
// encode_block(model, *blocks[b]) up to the reassociation of the larger matrix products.
inline constexpr int64_t kMaxPackedTokens = 16384;
std::vector<BlockKV> encode_blocks(const Model& model,
                                   const std::vector<const std::vector<int32_t>*>& blocks);

// Moves a block's KV from local positions to global offset `offset` (RoPE re-encoding of K).
BlockKV place_block(const Model& model, const BlockKV& local, int64_t offset);

struct PrefillStats {
  int blocks_reused = 0;
  int blocks_computed = 0;
  struct Source {
    BlockSource source = BlockSource::kComputed;
    std::string tier;  // BlockFetch::tier
  };
  std::vector<Source> sources;  // per block of the layout, in order
};

// Key of one block's cache entry for this model (fingerprint, sinks, KV dtype, tokens).
BlockKey block_key(const Model& model, const SinkConfig& sinks, const std::vector<int32_t>& tokens);

// The shape and dtype a block of n_tok tokens' KV has under `model`: what a cache entry for it
// is checked against before use (BlockStore::fetch_or_compute's `expected`).
KVShape block_kv_shape(const Model& model, size_t n_tok);

// Fills `cache` (empty, capacity ≥ layout.total_tokens()) with the prompt in block mode and
// returns the logits of F ([1, vocab] float32, or [|F|, vocab] with all_logits).
// store == nullptr: every block is encoded, nothing is cached.
torch::Tensor prefill_blocks(const Model& model, const PromptLayout& layout,
                             const SinkConfig& sinks, BlockStore* store, KVCache& cache,
                             PrefillStats* stats, bool all_logits = false);

// The same prompt with ordinary causal attention over the flat sequence.
torch::Tensor prefill_full(const Model& model, const PromptLayout& layout, KVCache& cache,
                           bool all_logits = false);

// [n] int64 tensor on the model's device.
torch::Tensor token_tensor(const Model& model, const std::vector<int32_t>& tokens);

}  // namespace blockattn
