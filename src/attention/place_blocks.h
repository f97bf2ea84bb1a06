// Placement of cached blocks into a request's KV cache: each block's KV is appended and its keys
// are moved from local positions 0..n-1 to the block's global offset (RoPE re-encoding).
#pragma once

#include <cstdint>
#include <vector>

#include "cache/block_store.h"
#include "model/model.h"

namespace blockattn {

struct BlockPlacement {
  const BlockKV* kv = nullptr;  // keys at local positions
  int64_t offset = 0;           // global position of the block's first token
};

// Appends the blocks, in order, at cache positions [size(), size() + Σ n) and rotates their
// keys to `offset` (offset must equal the cache position each block lands at, as in a prompt
// layout). On CUDA, when the kernels are built, one fused kernel reads every source key once
// and writes it rotated (kernels/rope_place.h); elsewhere the blocks are copied and then
// re-rotated by RotaryEmbedding::shift_blocks. Both give bitwise the same keys.
void place_blocks(const Model& model, const std::vector<BlockPlacement>& blocks, KVCache& cache);

// The libtorch path of place_blocks, always available (the reference the fused one is tested
// against).
void place_blocks_reference(const Model& model, const std::vector<BlockPlacement>& blocks,
                            KVCache& cache);

}  // namespace blockattn
