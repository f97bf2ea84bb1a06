// The block KV store: a device-memory LRU of KV tensors, then a host-memory LRU (pinned on
// CUDA) that the device tier demotes its evicted entries to, in front of byte-level tiers (disk,
// Redis: anything implementing ByteTier), keyed by content (BlockKey).
//
// Write-behind: a newly computed entry is handed to one writer thread through a bounded queue
// and written to the lower tiers from there, never on the path to the first token. When the queue
// already holds `write_queue_bytes`, further writes are dropped (counted): a cache may lose an
// entry, a request never waits for a disk. A crash loses the queued entries, never leaves a
// corrupt one (each tier writes atomically and verifies on read). The destructor writes what is
// still queued; flush() waits for that too.
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
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache/block_key.h"
#include "cache/byte_tier.h"
#include "cache/lru_index.h"
#include "cache/pinned_staging.h"
#include "model/compat.h"

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
  uint64_t host_hits = 0;        // found in the host tier (copied back to the device)
  uint64_t host_bytes = 0;       // bytes held by the host tier now
  uint64_t host_entries = 0;
  uint64_t host_evictions = 0;   // host-tier entries dropped to stay within its budget
  uint64_t demotions = 0;        // memory-tier evictions copied into the host tier
  uint64_t corrupt_dropped = 0;  // lower-tier entries whose shape did not match (recomputed)
  uint64_t tier_skips = 0;       // keys not read from a lower tier: computing was faster
  uint64_t writes_queued = 0;    // entries handed to the writer thread
  uint64_t writes_dropped = 0;   // entries not written because the write queue was full
  uint64_t writes_pending = 0;   // entries queued or being written now
};

struct BlockStoreConfig {
  uint64_t memory_budget_bytes = 0;  // device-memory LRU budget; 0 disables the memory tier
  // Host-memory LRU budget (pinned memory when the device is CUDA); entries the memory tier
  // evicts are copied here instead of dropped, and a hit here is copied back. 0 disables it.
  uint64_t host_budget_bytes = 0;
  // Bytes of entries the writer thread may hold before further lower-tier writes are dropped.
  // Queued entries share their tensors with the memory tier, so this costs memory only for
  // entries evicted before they were written.
  uint64_t write_queue_bytes = 4ull << 30;
  // false: lower-tier writes happen inside fetch_or_compute (tests that need a deterministic
  // order; the engine always writes behind).
  bool write_behind = true;
  // Load-or-compute: each lower tier's read speed and the compute speed are measured online
  // (bytes of KV per second, moving averages); a tier measured at least 1.5x slower than
  // computing is not read (the blocks are computed instead), except for one probe key every 16
  // batches that keeps its estimate current. So a slow disk or Redis never makes a request much
  // slower than having no cache.
  bool load_or_compute = true;
  // Load-or-compute, overlapped: when several keys are missing from memory and some of them are
  // in a lower tier, reader threads take those keys from the front while this thread computes
  // from the back (the keys no tier has first), in chunks sized by the two measured rates, until
  // they meet. A request then costs about (bytes to fetch) / (tier rate + compute rate) instead of
  // the slower of the two, and never much more than computing everything. kAuto: on where the
  // device is CUDA, whose computing runs on the GPU and leaves the CPU to the readers; on a CPU
  // the two would share the cores (and which keys are reused would depend on timing).
  enum class Overlap { kAuto, kOn, kOff };
  Overlap overlap = Overlap::kAuto;
  // Pinned host memory, allocated when the store is made, that lower-tier reads are staged in on
  // their way to the device (PinnedStaging: allocating pinned memory per read cost more than the
  // read), in slabs of 64 MiB (a quarter of the pool when it is smaller). -1: 2 GiB where the
  // device is CUDA and there are lower tiers, none elsewhere; 0: none; more: that many bytes, also
  // on a CPU (tests).
  int64_t staging_bytes = -1;
};

class BlockStore {
 public:
  // Computes the entries of keys[i] for each i of `missing` (in that order), all at once.
  using ComputeMany = std::function<std::vector<BlockKV>(const std::vector<size_t>& missing)>;

  // tiers: searched in order after memory; every tier receives newly computed entries.
  // memory_budget_bytes = 0 disables the memory tier (single-flight still applies).
  BlockStore(uint64_t memory_budget_bytes, std::vector<std::unique_ptr<ByteTier>> tiers,
             torch::Device device);
  BlockStore(const BlockStoreConfig& config, std::vector<std::unique_ptr<ByteTier>> tiers,
             torch::Device device);
  ~BlockStore();  // writes what the write queue still holds

  // The entry for `key` from the first tier that has a valid one (promoting it to memory),
  // or compute() it and store it in every tier. A failing lower tier never fails the call;
  // an exception from compute() propagates to this caller (nothing is stored).
  // `expected`, when given, is the shape the block's KV must have: a lower-tier entry of any
  // other shape or dtype is corrupt (counted in corrupt_dropped, recomputed, and overwritten).
  BlockFetch fetch_or_compute(const BlockKey& key, const std::function<BlockKV()>& compute,
                              const std::optional<KVShape>& expected = std::nullopt);

  // The same for several keys at once: what no tier has is computed by ONE call of
  // compute_many (batched encoding), with the same single-flight rules per key (a key another
  // caller is computing is waited for; a key repeated in `keys` is computed once). Result i
  // belongs to keys[i].
  // expected: empty, or the shape of each key's KV (as for fetch_or_compute).
  std::vector<BlockFetch> fetch_or_compute_many(const std::vector<BlockKey>& keys,
                                                const ComputeMany& compute_many,
                                                const std::vector<KVShape>& expected = {});

  // Waits until every queued lower-tier write has been done (or dropped).
  void flush();

  // Drops `key` from the memory and host tiers (lower tiers keep their copy). True if it was in
  // either.
  bool forget(const BlockKey& key);
  // True if the memory tier holds `key` (no recency change, no statistics).
  bool in_memory(const BlockKey& key) const;

  BlockStoreStats stats() const;
  uint64_t memory_budget() const { return memory_budget_; }
  uint64_t host_budget() const { return host_budget_; }
  const std::vector<std::unique_ptr<ByteTier>>& tiers() const { return tiers_; }

 private:
  // A compute (or lower-tier fetch) in progress that other callers of the same key wait for.
  struct Flight {
    bool done = false;
    bool failed = false;
    BlockFetch result;
  };

  // Under mu_: inserts into the memory LRU and evicts to the budget; the evicted entries are
  // appended to `evicted` for demote() once mu_ is released.
  void remember_locked(const BlockKey& key, const BlockKV& kv,
                       std::vector<std::pair<BlockKey, BlockKV>>& evicted);
  // Without mu_: copies evicted device entries into the host tier (a no-op without one).
  void demote(std::vector<std::pair<BlockKey, BlockKV>>& evicted);
  // Host tier entry -> device tensors (asynchronous copies on the current stream).
  BlockKV to_device(const BlockKV& host) const;
  // One key's lower-tier read: the blob of the first tier that has it (with a valid shape),
  // passing over the tiers marked in `skip`. Host bytes only, no device work.
  struct LowerRead {
    size_t tier = 0;
    std::optional<KVBlob> blob;  // nullopt: no tier had it
    // The blob as one host tensor, made by the reader thread (read_and_stage) so that the caller's
    // thread only queues the copy to the device: [2, n_layer, n_kv_head, n, head_dim], pinned on
    // CUDA. Undefined when no tier had the key.
    torch::Tensor staged;
    PinnedStaging::Lease lease;  // or the pool's slabs that hold it (CUDA)
    KVShape shape;               // of the entry, once read
    uint64_t bytes = 0;          // payload bytes read
  };
  // Without mu_, from any thread: tiers are thread-safe (byte_tier.h).
  LowerRead read_lower(const BlockKey& key, const std::vector<bool>& skip, const KVShape* expected);
  // A place in the staging pool's line (0 without a pool), taken when a key is claimed.
  uint64_t staging_ticket();
  // read_lower, then the blob staged for the device (the pool's slabs, else a host tensor) and
  // its bytes released. Always passes `ticket`'s turn, also for a miss or a failed read (then
  // rethrown). Host work only.
  LowerRead read_and_stage(const BlockKey& key, const std::vector<bool>& skip,
                           const KVShape* expected, uint64_t ticket);
  // A staged read -> device tensors (asynchronous copies on the current stream); nullopt when it
  // found nothing.
  std::optional<BlockKV> place_read(LowerRead& read);
  // Gives a staged read's slabs back without using it (a request that failed).
  void drop_read(LowerRead& read);
  // Without mu_: reads every key of `keys` (its skip set each) on up to kLowerReadThreads
  // threads at once (a read is I/O plus a checksum pass: one at a time, a 4.3 GB context
  // read at 0.89 GB/s from a disk that reads 2.09 GB/s sequentially) while the calling thread
  // copies the hits to the device in key order, at most 2 x threads entries behind the reads;
  // then fills the tiers above each hit's tier and updates the tiers' rates with the batch's
  // bytes over its wall time. Returns one entry per key, nullopt where no tier had it.
  std::vector<std::optional<BlockFetch>> load_lower_many(
      const std::vector<BlockKey>& keys, const std::vector<std::vector<bool>>& skips,
      const std::vector<const KVShape*>& expected);
  static constexpr size_t kLowerReadThreads = 8;
  // compute_many(which), checked for one entry per key, its time measured (after a device
  // synchronisation) into the compute rate when there are lower tiers.
  std::vector<BlockKV> compute_timed(const std::vector<size_t>& which,
                                     const ComputeMany& compute_many);
  // The overlapped path of fetch_or_compute_many for the keys keys[mine[j]] (BlockStoreConfig::
  // overlap): fills out[mine[j]] for every j and appends to `computed` (i, lower tiers to write)
  // for the entries computed here. Without mu_; throws what compute_many or a reader throws.
  void fetch_overlapped(const std::vector<BlockKey>& keys, const std::vector<size_t>& mine,
                        const std::vector<std::vector<bool>>& skips,
                        const std::vector<KVShape>& expected, const ComputeMany& compute_many,
                        std::vector<BlockFetch>& out,
                        std::vector<std::pair<size_t, size_t>>& computed);
  // Which lower tiers one batch should not read (load-or-compute); `probe` gets the tiers that
  // are skipped but due for one probe read.
  std::vector<bool> tiers_to_skip(std::vector<bool>& probe);

  // Bytes per second, an exponential moving average.
  struct Rate {
    double bytes_per_s = 0;
    int samples = 0;
    void add(double bytes, double seconds);
  };
  // Adds one batch's reads to the tiers' rates: tier_bytes[t] read from tier t in `seconds` of
  // wall time, shared among the tiers by bytes.
  void record_tier_rates(const std::vector<double>& tier_bytes, double seconds);
  // Hands a computed entry to the lower tiers (through the writer thread when write-behind).
  // tier_count: the first tier_count lower tiers receive it.
  void write_lower(const BlockKey& key, const BlockKV& kv, size_t tier_count);
  void writer_loop();

  struct PendingWrite {
    BlockKey key;
    BlockKV kv;
    size_t tier_count = 0;
    compat::StreamMark ready;  // the device work that produced kv, for the writer's own stream
  };

  const uint64_t memory_budget_;
  const uint64_t host_budget_;
  const bool load_or_compute_;
  const bool overlap_;
  std::unique_ptr<PinnedStaging> staging_;  // null: reads stage into fresh host tensors
  std::mutex rate_mu_;                      // guards the rates below
  std::vector<Rate> tier_rates_;
  std::vector<uint64_t> tier_batches_;  // batches that skipped each tier (for probes)
  Rate compute_rate_;
  const uint64_t write_queue_bytes_;
  const bool write_behind_;
  const std::vector<std::unique_ptr<ByteTier>> tiers_;
  const torch::Device device_;

  mutable std::mutex write_mu_;  // guards the write queue and its counters (never held with mu_)
  std::condition_variable write_cv_, write_idle_;
  std::deque<PendingWrite> write_queue_;
  uint64_t write_queue_bytes_now_ = 0;
  size_t writes_in_progress_ = 0;
  uint64_t writes_queued_ = 0, writes_dropped_ = 0;
  bool stopping_ = false;
  std::thread writer_;

  mutable std::mutex mu_;
  std::condition_variable flight_done_;
  LruIndex<BlockKey, std::hash<BlockKey>> lru_;
  std::unordered_map<BlockKey, BlockKV> entries_;
  LruIndex<BlockKey, std::hash<BlockKey>> host_lru_;    // under mu_ too
  std::unordered_map<BlockKey, BlockKV> host_entries_;  // host tensors (pinned on CUDA)
  std::unordered_map<BlockKey, std::shared_ptr<Flight>> flights_;
  BlockStoreStats stats_;
};

// BlockKV <-> the byte form the lower tiers store (host copies; exact bytes).
KVBlob to_blob(const BlockKV& kv);
BlockKV from_blob(const KVBlob& blob, torch::Device device);
// The blob's K and V in one host tensor, [2, n_layer, n_kv_head, n, head_dim] (index 0: K, 1: V),
// in pinned memory when `pinned` (libtorch's caching host allocator: reused, not allocated per
// entry), so that a copy to the GPU runs at the link's speed. from_blob is this, then the copy.
torch::Tensor blob_to_host(const KVBlob& blob, bool pinned);

}  // namespace blockattn
