#include "cache/block_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>

#include "blockattn/error.h"
#include "core/log.h"
#include "core/parallel.h"
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
  // K and V in one buffer, so that one copy moves both. For a GPU the buffer is pinned (from
  // libtorch's caching host allocator, so reused rather than allocated per entry): the copy then
  // runs at the link's speed, without the driver staging pageable memory.
  auto opts = torch::TensorOptions().dtype(to_torch(s.dtype)).pinned_memory(device.is_cuda());
  torch::Tensor kv = torch::empty(  // [2, n_layer, n_kv_head, n, head_dim]
      {2, s.n_layer, s.n_kv_head, s.n_tok, s.head_dim}, opts);
  std::memcpy(kv.data_ptr(), blob.payload.data(), 2 * s.tensor_bytes());
  if (!device.is_cpu()) kv = kv.to(device, /*non_blocking=*/true);
  return {kv[0], kv[1]};  // each [n_layer, n_kv_head, n, head_dim], contiguous
}

BlockStore::BlockStore(uint64_t memory_budget_bytes, std::vector<std::unique_ptr<ByteTier>> tiers,
                       torch::Device device)
    : BlockStore(BlockStoreConfig{memory_budget_bytes}, std::move(tiers), device) {}

BlockStore::BlockStore(const BlockStoreConfig& config, std::vector<std::unique_ptr<ByteTier>> tiers,
                       torch::Device device)
    : memory_budget_(config.memory_budget_bytes),
      host_budget_(config.host_budget_bytes),
      load_or_compute_(config.load_or_compute),
      write_queue_bytes_(config.write_queue_bytes),
      write_behind_(config.write_behind),
      tiers_(std::move(tiers)),
      device_(device) {
  tier_rates_.resize(tiers_.size());
  tier_batches_.resize(tiers_.size());
  if (write_behind_ && !tiers_.empty()) writer_ = std::thread([this] { writer_loop(); });
}

BlockStore::~BlockStore() {
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    stopping_ = true;
  }
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void BlockStore::remember_locked(const BlockKey& key, const BlockKV& kv,
                                 std::vector<std::pair<BlockKey, BlockKV>>& evicted) {
  if (memory_budget_ == 0 || kv.bytes() > memory_budget_) {
    evicted.emplace_back(key, kv);  // too large for the device tier: straight to the host tier
    return;
  }
  entries_[key] = kv;
  lru_.insert(key, kv.bytes());
  for (const BlockKey& old : lru_.evict_to_fit(memory_budget_)) {
    auto it = entries_.find(old);
    evicted.emplace_back(old, std::move(it->second));
    entries_.erase(it);
    ++stats_.evictions;
  }
}

void BlockStore::demote(std::vector<std::pair<BlockKey, BlockKV>>& evicted) {
  if (host_budget_ == 0 || evicted.empty()) {
    evicted.clear();
    return;
  }
  for (auto& [key, kv] : evicted) {
    if (kv.bytes() > host_budget_) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (host_lru_.touch(key)) continue;  // already there (an earlier demotion or promotion)
    }
    // Copies on the current stream: anything that later reads the host copy back to the device
    // queues behind them, and the device memory is reused only after them.
    auto options =
        torch::TensorOptions().dtype(kv.k.scalar_type()).pinned_memory(device_.is_cuda());
    BlockKV host{torch::empty(kv.k.sizes(), options), torch::empty(kv.v.sizes(), options)};
    host.k.copy_(kv.k, /*non_blocking=*/true);
    host.v.copy_(kv.v, /*non_blocking=*/true);
    std::lock_guard<std::mutex> lock(mu_);
    host_entries_[key] = host;
    host_lru_.insert(key, host.bytes());
    ++stats_.demotions;
    for (const BlockKey& old : host_lru_.evict_to_fit(host_budget_)) {
      host_entries_.erase(old);
      ++stats_.host_evictions;
    }
  }
  evicted.clear();
}

BlockKV BlockStore::to_device(const BlockKV& host) const {
  return {host.k.to(device_, /*non_blocking=*/true), host.v.to(device_, /*non_blocking=*/true)};
}

void BlockStore::Rate::add(double bytes, double seconds) {
  if (seconds <= 0 || bytes <= 0) return;
  const double now = bytes / seconds;
  bytes_per_s = samples == 0 ? now : 0.7 * bytes_per_s + 0.3 * now;
  ++samples;
}

std::vector<bool> BlockStore::tiers_to_skip(std::vector<bool>& probe) {
  std::vector<bool> skip(tiers_.size(), false);
  probe.assign(tiers_.size(), false);
  if (!load_or_compute_) return skip;
  std::lock_guard<std::mutex> lock(rate_mu_);
  if (compute_rate_.samples == 0) return skip;
  for (size_t i = 0; i < tiers_.size(); ++i) {
    const Rate& r = tier_rates_[i];
    if (r.samples < 2 || r.bytes_per_s * 1.5 >= compute_rate_.bytes_per_s) continue;
    skip[i] = true;
    probe[i] = ++tier_batches_[i] % 16 == 0;
  }
  return skip;
}

BlockStore::LowerRead BlockStore::read_lower(const BlockKey& key, const std::vector<bool>& skip,
                                             const KVShape* expected) {
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (skip[t]) continue;
    std::optional<KVBlob> blob = tiers_[t]->get(key);
    if (!blob) continue;
    if (expected) {
      try {
        validate_entry_shape(blob->shape, *expected);
      } catch (const FormatError& e) {
        // The recomputed entry's write overwrites it in this tier.
        BA_WARN(tiers_[t]->name() << " cache: dropped entry " << key.hex() << ": " << e.what());
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.corrupt_dropped;
        continue;
      }
    }
    return {t, std::move(blob)};
  }
  return {};
}

std::vector<std::optional<BlockFetch>> BlockStore::load_lower_many(
    const std::vector<BlockKey>& keys, const std::vector<std::vector<bool>>& skips,
    const std::vector<const KVShape*>& expected) {
  using Clock = std::chrono::steady_clock;
  const size_t n = keys.size();
  std::vector<std::optional<BlockFetch>> out(n);
  bool any_tier = false;
  for (const std::vector<bool>& skip : skips)
    any_tier = any_tier || std::find(skip.begin(), skip.end(), false) != skip.end();
  if (!any_tier) return out;  // nothing to read: no tier, or every tier skipped
  const auto t0 = Clock::now();
  std::vector<LowerRead> reads(n);
  std::vector<double> tier_bytes(tiers_.size(), 0);
  // Key k's read to the device (asynchronous copy on the current stream).
  auto place = [&](size_t k) {
    if (!reads[k].blob) return;
    tier_bytes[reads[k].tier] += static_cast<double>(reads[k].blob->payload.size());
    out[k] = BlockFetch{from_blob(*reads[k].blob, device_), BlockSource::kLowerTier,
                        tiers_[reads[k].tier]->name()};
    reads[k].blob.reset();  // the host bytes go as soon as the copy is queued
  };
  // Readers claim keys in order and stay at most `window` keys ahead of the device copies, which
  // run on the calling thread (its current stream) in key order as the reads arrive: host memory
  // holds at most `window` entries, and the copies overlap the reads.
  const size_t readers = std::min(n, kLowerReadThreads);
  const size_t window = 2 * readers;
  std::mutex m;
  std::condition_variable cv;
  size_t next = 0, consumed = 0;
  bool abort = false;
  std::vector<char> ready(n, 0);
  std::vector<std::exception_ptr> errors(n);
  if (n == 1) {  // one key (fetch_or_compute): no thread to start
    reads[0] = read_lower(keys[0], skips[0], expected[0]);
    place(0);
  } else {
    run_workers(readers + 1, [&](size_t w) {
      if (w > 0) {  // a reader
        for (;;) {
          size_t k;
          {
            std::unique_lock<std::mutex> lock(m);
            cv.wait(lock, [&] { return abort || next >= n || next < consumed + window; });
            if (abort || next >= n) return;
            k = next++;
          }
          try {
            reads[k] = read_lower(keys[k], skips[k], expected[k]);
          } catch (...) {
            errors[k] = std::current_exception();
          }
          std::lock_guard<std::mutex> lock(m);
          ready[k] = 1;
          cv.notify_all();
        }
      }
      try {  // the consumer: device copies in key order
        for (size_t k = 0; k < n; ++k) {
          {
            std::unique_lock<std::mutex> lock(m);
            cv.wait(lock, [&] { return ready[k] != 0; });
          }
          if (errors[k]) std::rethrow_exception(errors[k]);
          place(k);
          std::lock_guard<std::mutex> lock(m);
          consumed = k + 1;
          cv.notify_all();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        abort = true;
        cv.notify_all();
        throw;
      }
    });
  }
  double total = 0;
  for (double b : tier_bytes) total += b;
  if (total == 0) return out;
  compat::synchronize(device_);  // an honest read time: the copies to the device are done
  // Each tier's share of the wall time is its share of the bytes: the rates stay the batch's
  // throughput, which is what load-or-compute weighs against computing.
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  {
    std::lock_guard<std::mutex> lock(rate_mu_);
    for (size_t t = 0; t < tiers_.size(); ++t)
      if (tier_bytes[t] > 0) tier_rates_[t].add(tier_bytes[t], seconds * tier_bytes[t] / total);
  }
  // Fill the faster tiers passed on the way down.
  for (size_t k = 0; k < n; ++k)
    if (out[k]) write_lower(keys[k], out[k]->kv, reads[k].tier);
  return out;
}

void BlockStore::write_lower(const BlockKey& key, const BlockKV& kv, size_t tier_count) {
  if (tier_count == 0) return;
  if (!write_behind_) {
    KVBlob blob = to_blob(kv);
    for (size_t i = 0; i < tier_count; ++i) tiers_[i]->put(key, blob);
    return;
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  // One entry larger than the whole queue still goes in when the queue is empty.
  if (write_queue_bytes_now_ > 0 && write_queue_bytes_now_ + kv.bytes() > write_queue_bytes_) {
    ++writes_dropped_;
    return;
  }
  write_queue_.push_back({key, kv, tier_count, compat::StreamMark::here(device_)});
  write_queue_bytes_now_ += kv.bytes();
  ++writes_queued_;
  write_cv_.notify_one();
}

void BlockStore::writer_loop() {
  compat::SideStreamGuard side_stream(device_);  // device-to-host copies off the compute stream
  std::unique_lock<std::mutex> lock(write_mu_);
  for (;;) {
    write_cv_.wait(lock, [&] { return stopping_ || !write_queue_.empty(); });
    if (write_queue_.empty()) return;  // stopping, and everything queued is written
    PendingWrite w = std::move(write_queue_.front());
    write_queue_.pop_front();
    ++writes_in_progress_;
    lock.unlock();
    const uint64_t bytes = w.kv.bytes();
    try {
      w.ready.wait_on_current_stream();
      KVBlob blob = to_blob(w.kv);
      for (size_t i = 0; i < w.tier_count; ++i) tiers_[i]->put(w.key, blob);
    } catch (const std::exception& e) {
      // Tiers report their own I/O failures; this is a failed device-to-host copy.
      BA_WARN("block cache: writing an entry to the lower tiers failed: " << e.what());
    }
    w.kv = BlockKV{};  // the tensors go before the queue's byte count does
    lock.lock();
    write_queue_bytes_now_ -= bytes;
    --writes_in_progress_;
    if (write_queue_.empty() && writes_in_progress_ == 0) write_idle_.notify_all();
  }
}

void BlockStore::flush() {
  std::unique_lock<std::mutex> lock(write_mu_);
  write_idle_.wait(lock, [&] { return write_queue_.empty() && writes_in_progress_ == 0; });
}

BlockFetch BlockStore::fetch_or_compute(const BlockKey& key,
                                        const std::function<BlockKV()>& compute,
                                        const std::optional<KVShape>& expected) {
  std::vector<KVShape> shapes;
  if (expected) shapes.push_back(*expected);
  return fetch_or_compute_many(
      {key}, [&](const std::vector<size_t>&) { return std::vector<BlockKV>{compute()}; },
      shapes)[0];
}

std::vector<BlockFetch> BlockStore::fetch_or_compute_many(const std::vector<BlockKey>& keys,
                                                          const ComputeMany& compute_many,
                                                          const std::vector<KVShape>& expected) {
  if (!expected.empty() && expected.size() != keys.size())
    throw Error("internal: fetch_or_compute_many needs one expected shape per key");
  const size_t n = keys.size();
  std::vector<BlockFetch> out(n);
  constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<size_t> repeat_of(n, kNone);  // an earlier index with the same key
  std::vector<size_t> mine;                 // keys this caller fetches or computes
  std::vector<std::shared_ptr<Flight>> my_flights;
  std::vector<std::pair<size_t, std::shared_ptr<Flight>>> waits;  // keys others are computing
  std::vector<size_t> host_hits;                                  // copied back below
  std::vector<std::pair<BlockKey, BlockKV>> evicted;              // for the host tier
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::unordered_map<BlockKey, size_t> first;
    for (size_t i = 0; i < n; ++i) {
      auto [it, inserted] = first.emplace(keys[i], i);
      if (!inserted) {
        repeat_of[i] = it->second;
      } else if (lru_.touch(keys[i])) {
        ++stats_.memory_hits;
        out[i] = {entries_.at(keys[i]), BlockSource::kMemory, "memory"};
      } else if (host_lru_.touch(keys[i])) {
        ++stats_.host_hits;
        host_hits.push_back(i);
        out[i] = {host_entries_.at(keys[i]), BlockSource::kLowerTier, "host"};
      } else if (auto f = flights_.find(keys[i]); f != flights_.end()) {
        waits.emplace_back(i, f->second);
      } else {
        auto flight = std::make_shared<Flight>();
        flights_.emplace(keys[i], flight);
        mine.push_back(i);
        my_flights.push_back(std::move(flight));
      }
    }
  }

  // Host-tier hits back to the device (and into the memory tier).
  if (!host_hits.empty()) {
    for (size_t i : host_hits) out[i].kv = to_device(out[i].kv);
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i : host_hits) remember_locked(keys[i], out[i].kv, evicted);
  }
  // Lower tiers next; everything still missing in one batched compute.
  std::vector<size_t> missing;
  try {
    std::vector<bool> probe;
    const std::vector<bool> skip = tiers_to_skip(probe);
    // The first key of the batch also reads the skipped tiers due for a probe (their rates stay
    // current); the other keys pass over every skipped tier.
    std::vector<std::vector<bool>> skips(mine.size(), skip);
    if (!mine.empty())
      for (size_t t = 0; t < skip.size(); ++t) skips[0][t] = skip[t] && !probe[t];
    std::vector<BlockKey> mine_keys;
    std::vector<const KVShape*> mine_expected;
    for (size_t i : mine) {
      mine_keys.push_back(keys[i]);
      mine_expected.push_back(expected.empty() ? nullptr : &expected[i]);
    }
    std::vector<std::optional<BlockFetch>> loaded =
        load_lower_many(mine_keys, skips, mine_expected);
    for (size_t j = 0; j < mine.size(); ++j) {
      const size_t i = mine[j];
      if (loaded[j]) {
        out[i] = std::move(*loaded[j]);
        continue;
      }
      missing.push_back(i);
      if (std::find(skips[j].begin(), skips[j].end(), true) != skips[j].end()) {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.tier_skips;
      }
    }
    if (!missing.empty()) {
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<BlockKV> kvs = compute_many(missing);
      if (!tiers_.empty()) {
        compat::synchronize(device_);  // an honest compute time, for load-or-compute
        double bytes = 0;
        for (const BlockKV& kv : kvs) bytes += static_cast<double>(kv.bytes());
        std::lock_guard<std::mutex> lock(rate_mu_);
        compute_rate_.add(
            bytes, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      if (kvs.size() != missing.size())
        throw Error("internal: compute_many returned " + std::to_string(kvs.size()) +
                    " entries for " + std::to_string(missing.size()) + " keys");
      for (size_t j = 0; j < missing.size(); ++j)
        out[missing[j]] = {std::move(kvs[j]), BlockSource::kComputed, ""};
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t j = 0; j < mine.size(); ++j) {
      my_flights[j]->done = my_flights[j]->failed = true;
      flights_.erase(keys[mine[j]]);
    }
    flight_done_.notify_all();
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t j = 0; j < mine.size(); ++j) {
      const size_t i = mine[j];
      (out[i].source == BlockSource::kComputed ? stats_.misses : stats_.lower_hits)++;
      remember_locked(keys[i], out[i].kv, evicted);
      my_flights[j]->result = out[i];
      my_flights[j]->done = true;
      flights_.erase(keys[i]);
    }
    flight_done_.notify_all();
  }
  for (size_t i : missing) write_lower(keys[i], out[i].kv, tiers_.size());
  demote(evicted);

  for (auto& [i, flight] : waits) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      flight_done_.wait(lock, [&] { return flight->done; });
      if (!flight->failed) {
        ++stats_.memory_hits;
        ++stats_.shared_computes;
        out[i] = {flight->result.kv, BlockSource::kMemory, "memory"};
        continue;
      }
    }
    // Their compute failed: fetch this one on our own (this caller may become its computer).
    const size_t index = i;
    std::vector<KVShape> shape;
    if (!expected.empty()) shape.push_back(expected[i]);
    out[i] = fetch_or_compute_many(
        {keys[i]}, [&](const std::vector<size_t>&) { return compute_many({index}); }, shape)[0];
  }
  for (size_t i = 0; i < n; ++i) {
    if (repeat_of[i] == kNone) continue;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.memory_hits;
    out[i] = {out[repeat_of[i]].kv, BlockSource::kMemory, "memory"};
  }
  return out;
}

bool BlockStore::forget(const BlockKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool in_host = host_lru_.erase(key);
  host_entries_.erase(key);
  if (!lru_.erase(key)) return in_host;
  entries_.erase(key);
  return true;
}

bool BlockStore::in_memory(const BlockKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.contains(key);
}

BlockStoreStats BlockStore::stats() const {
  BlockStoreStats s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = stats_;
    s.memory_bytes = lru_.bytes();
    s.memory_entries = lru_.size();
    s.host_bytes = host_lru_.bytes();
    s.host_entries = host_lru_.size();
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  s.writes_queued = writes_queued_;
  s.writes_dropped = writes_dropped_;
  s.writes_pending = write_queue_.size() + writes_in_progress_;
  return s;
}

}  // namespace blockattn
