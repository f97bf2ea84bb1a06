// The block KV store: a device-memory LRU of KV tensors in front of byte-level tiers
// (disk now, Redis later: anything implementing ByteTier), keyed by content (BlockKey).
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/block_key.h"
#include "cache/byte_tier.h"
#include "cache/lru_index.h"

namespace blockattn {

// One block's KV for all layers, keys rotated at local positions 0..n-1 (before placement).
struct BlockKV {
  torch::Tensor k;  // [n_layer, n_kv_head, n, head_dim]
  torch::Tensor v;  // [n_layer, n_kv_head, n, head_dim]
  uint64_t bytes() const { return (k.numel() * k.element_size()) + (v.numel() * v.element_size()); }
};

enum class BlockSource { kMemory, kLowerTier, kComputed };

struct BlockStoreStats {
  uint64_t memory_hits = 0, lower_hits = 0, misses = 0;
};

class BlockStore {
 public:
  // tiers: searched in order after memory; every tier receives newly computed entries.
  BlockStore(uint64_t memory_budget_bytes, std::vector<std::unique_ptr<ByteTier>> tiers,
             torch::Device device);

  // The entry for `key` from the first tier that has a valid one (promoting it to memory),
  // or compute() it and store it in every tier. A failing lower tier never fails the call.
  std::pair<BlockKV, BlockSource> get_or_compute(const BlockKey& key, const std::function<BlockKV()>& compute);

  BlockStoreStats stats() const { return stats_; }
  uint64_t memory_bytes() const { return lru_.bytes(); }
  size_t memory_entries() const { return entries_.size(); }
  const std::vector<std::unique_ptr<ByteTier>>& tiers() const { return tiers_; }

 private:
  void remember(const BlockKey& key, const BlockKV& kv);

  uint64_t memory_budget_;
  std::vector<std::unique_ptr<ByteTier>> tiers_;
  torch::Device device_;
  LruIndex<BlockKey, std::hash<BlockKey>> lru_;
  std::unordered_map<BlockKey, BlockKV> entries_;
  BlockStoreStats stats_;
};

// BlockKV <-> the byte form the lower tiers store (host copies; exact bytes).
KVBlob to_blob(const BlockKV& kv);
BlockKV from_blob(const KVBlob& blob, torch::Device device);

}  // namespace blockattn
