#include "attention/block_store.h"

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

void BlockStore::remember(const BlockKey& key, const BlockKV& kv) {
  if (memory_budget_ == 0 || kv.bytes() > memory_budget_) return;
  entries_[key] = kv;
  lru_.insert(key, kv.bytes());
  for (const BlockKey& old : lru_.evict_to_fit(memory_budget_)) entries_.erase(old);
}

std::pair<BlockKV, BlockSource> BlockStore::get_or_compute(const BlockKey& key,
                                                           const std::function<BlockKV()>& compute) {
  if (lru_.touch(key)) {
    ++stats_.memory_hits;
    return {entries_.at(key), BlockSource::kMemory};
  }
  for (size_t i = 0; i < tiers_.size(); ++i) {
    std::optional<KVBlob> blob = tiers_[i]->get(key);
    if (!blob) continue;
    BlockKV kv = from_blob(*blob, device_);
    ++stats_.lower_hits;
    // Fill the faster tiers we passed on the way down.
    for (size_t j = 0; j < i; ++j) tiers_[j]->put(key, *blob);
    remember(key, kv);
    return {kv, BlockSource::kLowerTier};
  }
  ++stats_.misses;
  BlockKV kv = compute();
  if (!tiers_.empty()) {
    KVBlob blob = to_blob(kv);
    for (auto& tier : tiers_) tier->put(key, blob);
  }
  remember(key, kv);
  return {kv, BlockSource::kComputed};
}

}  // namespace blockattn
