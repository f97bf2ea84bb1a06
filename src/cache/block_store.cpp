#include "cache/block_store.h"

#include <cstring>

#include "blockattn/error.h"
#include "core/log.h"
#include "model/torch_dtype.h"

namespace blockattn {

KVBlob to_blob(const BlockKV& kv) {
  torch::Tensor k = kv.k.to(torch::kCPU).contiguous();
  torch::Tensor v = kv.v.to(torch::kCPU).contiguous();
  KVBlob blob;
  blob.shape.dtype = from_torch(k.scalar_type());
  blob.shape.n_layer = static_cast<uint32_t>(k.size(0));
  blob.shape.n_kv_head = static_cast<uint32_t>(k.size(1));
  blob.shape.n_tok = static_cast<uint32_t>(k.size(2));
  blob.shape.head_dim = static_cast<uint32_t>(k.size(3));
  const size_t kb = k.numel() * k.element_size();
  blob.payload.resize(2 * kb);
  std::memcpy(blob.payload.data(), k.data_ptr(), kb);
  std::memcpy(blob.payload.data() + kb, v.data_ptr(), kb);
  return blob;
}

BlockKV from_blob(const KVBlob& blob, torch::Device device) {
  const KVShape& s = blob.shape;
  std::vector<int64_t> shape{s.n_layer, s.n_kv_head, s.n_tok, s.head_dim};
  auto opts = torch::TensorOptions().dtype(to_torch(s.dtype));
  torch::Tensor k = torch::empty(shape, opts);  // [n_layer, n_kv_head, n, head_dim]
  torch::Tensor v = torch::empty(shape, opts);  // [n_layer, n_kv_head, n, head_dim]
  const size_t kb = s.tensor_bytes();
  std::memcpy(k.data_ptr(), blob.payload.data(), kb);
  std::memcpy(v.data_ptr(), blob.payload.data() + kb, kb);
  return {k.to(device), v.to(device)};
}

BlockStore::BlockStore(uint64_t memory_budget_bytes, std::vector<std::unique_ptr<ByteTier>> tiers,
                       torch::Device device)
    : memory_budget_(memory_budget_bytes), tiers_(std::move(tiers)), device_(device) {}

void BlockStore::remember_locked(const BlockKey& key, const BlockKV& kv) {
  if (memory_budget_ == 0 || kv.bytes() > memory_budget_) return;
  entries_[key] = kv;
  lru_.insert(key, kv.bytes());
  for (const BlockKey& old : lru_.evict_to_fit(memory_budget_)) {
    entries_.erase(old);
    ++stats_.evictions;
  }
}

BlockFetch BlockStore::load_or_compute(const BlockKey& key, const std::function<BlockKV()>& compute,
                                       const std::optional<KVShape>& expected) {
  for (size_t i = 0; i < tiers_.size(); ++i) {
    std::optional<KVBlob> blob = tiers_[i]->get(key);
    if (!blob) continue;
    if (expected) {
      try {
        validate_entry_shape(blob->shape, *expected);
      } catch (const FormatError& e) {
        // The put of the recomputed (or lower-tier) entry below overwrites it in this tier.
        BA_WARN(tiers_[i]->name() << " cache: dropped entry " << key.hex() << ": " << e.what());
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.corrupt_dropped;
        continue;
      }
    }
    BlockFetch f{from_blob(*blob, device_), BlockSource::kLowerTier, tiers_[i]->name()};
    // Fill the faster tiers we passed on the way down.
    for (size_t j = 0; j < i; ++j) tiers_[j]->put(key, *blob);
    return f;
  }
  BlockFetch f{compute(), BlockSource::kComputed, ""};
  if (!tiers_.empty()) {
    KVBlob blob = to_blob(f.kv);
    for (const auto& tier : tiers_) tier->put(key, blob);
  }
  return f;
}

BlockFetch BlockStore::fetch_or_compute(const BlockKey& key,
                                        const std::function<BlockKV()>& compute,
                                        const std::optional<KVShape>& expected) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (lru_.touch(key)) {
      ++stats_.memory_hits;
      return {entries_.at(key), BlockSource::kMemory, "memory"};
    }
    auto it = flights_.find(key);
    if (it == flights_.end()) break;
    // Someone is already computing this key: wait for their result.
    std::shared_ptr<Flight> flight = it->second;
    flight_done_.wait(lock, [&] { return flight->done; });
    if (!flight->failed) {
      ++stats_.memory_hits;
      ++stats_.shared_computes;
      return {flight->result.kv, BlockSource::kMemory, "memory"};
    }
    // Their compute failed: try again (the loop may make this caller the computer).
  }
  auto flight = std::make_shared<Flight>();
  flights_.emplace(key, flight);
  lock.unlock();

  BlockFetch result;
  try {
    result = load_or_compute(key, compute, expected);
  } catch (...) {
    lock.lock();
    flight->done = flight->failed = true;
    flights_.erase(key);
    flight_done_.notify_all();
    throw;
  }
  lock.lock();
  (result.source == BlockSource::kComputed ? stats_.misses : stats_.lower_hits)++;
  remember_locked(key, result.kv);
  flight->result = result;
  flight->done = true;
  flights_.erase(key);
  flight_done_.notify_all();
  return result;
}

bool BlockStore::forget(const BlockKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!lru_.erase(key)) return false;
  entries_.erase(key);
  return true;
}

bool BlockStore::in_memory(const BlockKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.contains(key);
}

BlockStoreStats BlockStore::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BlockStoreStats s = stats_;
  s.memory_bytes = lru_.bytes();
  s.memory_entries = lru_.size();
  return s;
}

}  // namespace blockattn
