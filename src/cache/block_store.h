// The block KV store: a device-memory LRU of KV tensors in front of byte-level tiers
// (disk now, Redis later: anything implementing ByteTier), keyed by content (BlockKey).
//
// Threading: every method may be called from any thread. One mutex guards the memory tier's map
// and LRU; it is never held while a block is computed or a lower tier is read or written.
// Single-flight: when several callers need the same missing key at once, the first computes it
// (or fetches it from a lower tier) and the others wait for that result instead of repeating
// the work. If the computing caller throws, each waiter retries on its own (one becomes the new
// computer), so an error reaches only the requests whose own compute failed.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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

struct BlockFetch {
  BlockKV kv;
  BlockSource source = BlockSource::kComputed;
  std::string tier;  // "memory", a lower tier's name() ("disk"), or "" when computed now
};

struct BlockStoreStats {
  uint64_t memory_hits =
      0;  // found in the memory tier (waiting on another caller's compute counts here)
  uint64_t lower_hits = 0;    // fetched from a lower tier
  uint64_t misses = 0;        // computed
  uint64_t evictions = 0;     // memory-tier entries dropped to stay within the budget
  uint64_t memory_bytes = 0;  // bytes held by the memory tier now
  uint64_t memory_entries = 0;
  uint64_t shared_computes = 0;  // callers that waited for another caller's compute of the same key
  uint64_t corrupt_dropped = 0;  // lower-tier entries whose shape did not match (recomputed)
};

class BlockStore {
 public:
  // tiers: searched in order after memory; every tier receives newly computed entries.
  // memory_budget_bytes = 0 disables the memory tier (single-flight still applies).
  BlockStore(uint64_t memory_budget_bytes, std::vector<std::unique_ptr<ByteTier>> tiers,
             torch::Device device);

  // The entry for `key` from the first tier that has a valid one (promoting it to memory),
  // or compute() it and store it in every tier. A failing lower tier never fails the call;
  // an exception from compute() propagates to this caller (nothing is stored).
  // `expected`, when given, is the shape the block's KV must have: a lower-tier entry of any
  // other shape or dtype is corrupt (counted in corrupt_dropped, recomputed, and overwritten).
  BlockFetch fetch_or_compute(const BlockKey& key, const std::function<BlockKV()>& compute,
                              const std::optional<KVShape>& expected = std::nullopt);

  // Drops `key` from the memory tier (lower tiers keep their copy). True if it was there.
  bool forget(const BlockKey& key);
  // True if the memory tier holds `key` (no recency change, no statistics).
  bool in_memory(const BlockKey& key) const;

  BlockStoreStats stats() const;
  uint64_t memory_budget() const { return memory_budget_; }
  const std::vector<std::unique_ptr<ByteTier>>& tiers() const { return tiers_; }

 private:
  // A compute (or lower-tier fetch) in progress that other callers of the same key wait for.
  struct Flight {
    bool done = false;
    bool failed = false;
    BlockFetch result;
  };

  // Under mu_: inserts into the memory LRU and evicts to the budget.
  void remember_locked(const BlockKey& key, const BlockKV& kv);
  // Without mu_: lower tiers, then compute().
  BlockFetch load_or_compute(const BlockKey& key, const std::function<BlockKV()>& compute,
                             const std::optional<KVShape>& expected);

  const uint64_t memory_budget_;
  const std::vector<std::unique_ptr<ByteTier>> tiers_;
  const torch::Device device_;

  mutable std::mutex mu_;
  std::condition_variable flight_done_;
  LruIndex<BlockKey, std::hash<BlockKey>> lru_;
  std::unordered_map<BlockKey, BlockKV> entries_;
  std::unordered_map<BlockKey, std::shared_ptr<Flight>> flights_;
  BlockStoreStats stats_;
};

// BlockKV <-> the byte form the lower tiers store (host copies; exact bytes).
KVBlob to_blob(const BlockKV& kv);
BlockKV from_blob(const KVBlob& blob, torch::Device device);

}  // namespace blockattn
