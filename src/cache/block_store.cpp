#include "cache/block_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
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

torch::Tensor blob_to_host(const KVBlob& blob, bool pinned) {
  const KVShape& s = blob.shape;
  // K and V in one buffer, so that one copy moves both; pinned, the copy to a GPU runs at the
  // link's speed without the driver staging pageable memory.
  auto opts = torch::TensorOptions().dtype(to_torch(s.dtype)).pinned_memory(pinned);
  torch::Tensor kv = torch::empty(  // [2, n_layer, n_kv_head, n, head_dim]
      {2, s.n_layer, s.n_kv_head, s.n_tok, s.head_dim}, opts);
  std::memcpy(kv.data_ptr(), blob.payload.data(), 2 * s.tensor_bytes());
  return kv;
}

BlockKV from_blob(const KVBlob& blob, torch::Device device) {
  torch::Tensor kv = blob_to_host(blob, device.is_cuda());  // [2, n_layer, n_kv_head, n, head_dim]
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
      overlap_(config.load_or_compute &&
               (config.overlap == BlockStoreConfig::Overlap::kOn ||
                (config.overlap == BlockStoreConfig::Overlap::kAuto && device.is_cuda()))),
      write_queue_bytes_(config.write_queue_bytes),
      write_behind_(config.write_behind),
      tiers_(std::move(tiers)),
      device_(device) {
  const int64_t staging = config.staging_bytes >= 0
                              ? config.staging_bytes
                              : (device.is_cuda() && !tiers_.empty() ? int64_t{2} << 30 : 0);
  if (staging > 0) {
    const uint64_t bytes = static_cast<uint64_t>(staging);
    const uint64_t slab =
        std::max<uint64_t>(16, std::min<uint64_t>(64ull << 20, bytes / 4) / 16 * 16);
    staging_ = std::make_unique<PinnedStaging>(static_cast<size_t>((bytes + slab - 1) / slab), slab,
                                               device);
  }
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
    LowerRead read;
    read.tier = t;
    read.blob = std::move(blob);
    return read;
  }
  return {};
}

uint64_t BlockStore::staging_ticket() { return staging_ ? staging_->ticket() : 0; }

BlockStore::LowerRead BlockStore::read_and_stage(const BlockKey& key, const std::vector<bool>& skip,
                                                 const KVShape* expected, uint64_t ticket) {
  LowerRead read;
  std::exception_ptr error;
  try {
    read = read_lower(key, skip, expected);
  } catch (...) {
    error = std::current_exception();
    read = LowerRead{};
  }
  const uint64_t bytes = read.blob ? read.blob->payload.size() : 0;
  if (staging_) read.lease = staging_->acquire(ticket, bytes);  // the turn passes here
  if (error) std::rethrow_exception(error);
  if (!read.blob) return read;
  read.bytes = bytes;
  read.shape = read.blob->shape;
  if (!read.lease.empty())
    staging_->fill(read.lease, read.blob->payload.data());
  else
    read.staged = blob_to_host(*read.blob, device_.is_cuda());
  read.blob.reset();
  return read;
}

std::optional<BlockKV> BlockStore::place_read(LowerRead& read) {
  torch::Tensor kv;  // [2, n_layer, n_kv_head, n, head_dim]
  if (!read.lease.empty()) {
    const KVShape& s = read.shape;
    kv = torch::empty({2, s.n_layer, s.n_kv_head, s.n_tok, s.head_dim},
                      torch::TensorOptions().dtype(to_torch(s.dtype)).device(device_));
    staging_->copy_to_device(read.lease, kv);
  } else if (read.staged.defined()) {
    kv = read.staged;
    if (!device_.is_cpu()) kv = kv.to(device_, /*non_blocking=*/true);
    read.staged = torch::Tensor();  // the host copy goes as soon as the copy is queued
  } else {
    return std::nullopt;
  }
  return BlockKV{kv[0], kv[1]};
}

void BlockStore::drop_read(LowerRead& read) {
  if (staging_) staging_->release(read.lease);
  read.staged = torch::Tensor();
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
  // Key k's staged read to the device (asynchronous copy on the current stream). The reader
  // already checked, decoded and staged it: this thread only queues copies, in key order.
  auto place = [&](size_t k) {
    std::optional<BlockKV> kv = place_read(reads[k]);
    if (!kv) return;
    tier_bytes[reads[k].tier] += static_cast<double>(reads[k].bytes);
    out[k] = BlockFetch{std::move(*kv), BlockSource::kLowerTier, tiers_[reads[k].tier]->name()};
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
    reads[0] = read_and_stage(keys[0], skips[0], expected[0], staging_ticket());
    place(0);
  } else {
    try {
      run_workers(readers + 1, [&](size_t w) {
        if (w > 0) {  // a reader
          for (;;) {
            size_t k;
            uint64_t ticket;
            {
              std::unique_lock<std::mutex> lock(m);
              cv.wait(lock, [&] { return abort || next >= n || next < consumed + window; });
              if (abort || next >= n) return;
              k = next++;
              ticket = staging_ticket();  // slabs are granted in key order
            }
            LowerRead r;
            try {
              // The host copy on this thread, in parallel with the others.
              r = read_and_stage(keys[k], skips[k], expected[k], ticket);
            } catch (...) {
              errors[k] = std::current_exception();
            }
            std::lock_guard<std::mutex> lock(m);
            if (abort) drop_read(r);  // nobody copies it: its slabs back for the waiting readers
            reads[k] = std::move(r);
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
          // Slabs of finished reads back at once: a reader may be waiting for them.
          for (size_t k = consumed; k < n; ++k)
            if (ready[k]) drop_read(reads[k]);
          cv.notify_all();
          throw;
        }
      });
    } catch (...) {
      for (LowerRead& r : reads) drop_read(r);
      throw;
    }
  }
  double total = 0;
  for (double b : tier_bytes) total += b;
  if (total == 0) return out;
  compat::synchronize(device_);  // an honest read time: the copies to the device are done
  record_tier_rates(tier_bytes, std::chrono::duration<double>(Clock::now() - t0).count());
  // Fill the faster tiers passed on the way down.
  for (size_t k = 0; k < n; ++k)
    if (out[k]) write_lower(keys[k], out[k]->kv, reads[k].tier);
  return out;
}

std::vector<BlockKV> BlockStore::compute_timed(const std::vector<size_t>& which,
                                               const ComputeMany& compute_many) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<BlockKV> kvs = compute_many(which);
  if (kvs.size() != which.size())
    throw Error("internal: compute_many returned " + std::to_string(kvs.size()) + " entries for " +
                std::to_string(which.size()) + " keys");
  if (!tiers_.empty()) {
    compat::synchronize(device_);  // an honest compute time, for load-or-compute
    double bytes = 0;
    for (const BlockKV& kv : kvs) bytes += static_cast<double>(kv.bytes());
    std::lock_guard<std::mutex> lock(rate_mu_);
    compute_rate_.add(bytes,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return kvs;
}

void BlockStore::fetch_overlapped(const std::vector<BlockKey>& keys,
                                  const std::vector<size_t>& mine,
                                  const std::vector<std::vector<bool>>& skips,
                                  const std::vector<KVShape>& expected,
                                  const ComputeMany& compute_many, std::vector<BlockFetch>& out,
                                  std::vector<std::pair<size_t, size_t>>& computed) {
  using Clock = std::chrono::steady_clock;
  const size_t n = mine.size(), no_tier = tiers_.size();
  // Which keys a lower tier has (existence checks, no reads) and the first such tier. Those are
  // read or computed, whichever side reaches them first; the others are computed at once.
  std::vector<size_t> first_tier(n, no_tier);
  std::vector<double> weight(n, 1.0);  // each entry's bytes (1 each when shapes are not given)
  std::deque<size_t> queue;            // positions j in mine that a tier has, in key order
  std::vector<size_t> chunk;           // positions this thread computes next
  for (size_t j = 0; j < n; ++j) {
    const size_t i = mine[j];
    if (!expected.empty()) weight[j] = 2.0 * static_cast<double>(expected[i].tensor_bytes());
    for (size_t t = 0; t < tiers_.size() && first_tier[j] == no_tier; ++t)
      if (!skips[j][t] && tiers_[t]->contains(keys[i])) first_tier[j] = t;
    if (first_tier[j] == no_tier)
      chunk.push_back(j);
    else
      queue.push_back(j);
  }
  // The rates known before this call: they size the first chunk taken from the readers' queue;
  // later chunks use this call's own measurements.
  double known_compute = 0, known_tier = 0;
  {
    std::lock_guard<std::mutex> lock(rate_mu_);
    known_compute = compute_rate_.bytes_per_s;
    int rated = 0;
    for (const Rate& r : tier_rates_)
      if (r.samples > 0) known_tier += r.bytes_per_s, ++rated;
    if (rated > 0) known_tier /= rated;
  }
  std::vector<LowerRead> reads(n);
  std::vector<char> claimed(n, 0), ready(n, 0), placed(n, 0);
  std::vector<std::exception_ptr> errors(n);
  std::vector<size_t> reader_misses;  // claimed by a reader, found in no tier: computed last
  std::vector<double> tier_bytes(tiers_.size(), 0);
  std::mutex m;  // guards queue, claimed, ready, errors, reads' completion, the counters below
  std::condition_variable cv;
  size_t in_host = 0;  // entries claimed by readers and not yet copied to the device
  double read_bytes = 0;
  bool abort = false;
  const auto t0 = Clock::now();
  auto last_read = t0;
  const size_t readers = std::min(queue.size(), kLowerReadThreads);
  // Readers may run ahead of the device copies while this thread computes: host memory holds at
  // most `window` staged entries.
  const size_t window = 4 * std::max<size_t>(readers, 1);

  // Under m: a finished read waits for its copy to the device.
  auto any_unplaced = [&] {
    for (size_t j = 0; j < n; ++j)
      if (claimed[j] && ready[j] && !placed[j]) return true;
    return false;
  };
  // Copies every finished read to the device (this thread's stream, in completion order).
  auto place_ready = [&] {
    for (size_t j = 0; j < n; ++j) {
      {
        std::lock_guard<std::mutex> lock(m);
        if (!claimed[j] || !ready[j] || placed[j]) continue;
        placed[j] = 1;
      }
      if (errors[j]) std::rethrow_exception(errors[j]);
      LowerRead& r = reads[j];
      if (std::optional<BlockKV> kv = place_read(r)) {
        tier_bytes[r.tier] += static_cast<double>(r.bytes);
        out[mine[j]] = BlockFetch{std::move(*kv), BlockSource::kLowerTier, tiers_[r.tier]->name()};
      } else {
        reader_misses.push_back(j);
      }
      std::lock_guard<std::mutex> lock(m);
      --in_host;
      cv.notify_all();
    }
  };
  // Computes the positions in `which`; those a tier has are written only to the tiers above it.
  auto compute = [&](const std::vector<size_t>& which) {
    if (which.empty()) return;
    std::vector<size_t> idx;
    for (size_t j : which) idx.push_back(mine[j]);
    std::vector<BlockKV> kvs = compute_timed(idx, compute_many);
    for (size_t q = 0; q < which.size(); ++q) {
      const size_t j = which[q];
      out[mine[j]] = {std::move(kvs[q]), BlockSource::kComputed, ""};
      computed.emplace_back(mine[j], first_tier[j]);  // the tiers above the one that has it
      if (first_tier[j] != no_tier) {                 // a tier has it: computing was the faster way
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.tier_skips;
      }
    }
  };

  auto work = [&](size_t w) {
    if (w > 0) {  // a reader: keys from the front of the queue
      for (;;) {
        size_t j;
        uint64_t ticket;
        {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return abort || queue.empty() || in_host < window; });
          if (abort || queue.empty()) return;
          j = queue.front();
          queue.pop_front();
          claimed[j] = 1;
          ++in_host;
          ticket = staging_ticket();
        }
        LowerRead r;
        std::exception_ptr error;
        try {
          const size_t i = mine[j];
          // The host copy on this thread, in parallel with the others.
          r = read_and_stage(keys[i], skips[j], expected.empty() ? nullptr : &expected[i], ticket);
        } catch (...) {
          error = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(m);
        if (abort) drop_read(r);  // nobody copies it: its slabs back for the waiting readers
        reads[j] = std::move(r);
        errors[j] = error;
        ready[j] = 1;
        read_bytes += static_cast<double>(reads[j].bytes);
        last_read = Clock::now();
        cv.notify_all();
      }
    }
    try {  // this thread: computes from the back of the queue, copies finished reads
      double compute_bytes = 0, compute_s = 0;
      for (;;) {
        const auto c0 = Clock::now();
        compute(chunk);
        for (size_t j : chunk) compute_bytes += weight[j];
        if (!chunk.empty()) compute_s += std::chrono::duration<double>(Clock::now() - c0).count();
        chunk.clear();
        place_ready();
        std::unique_lock<std::mutex> lock(m);
        if (queue.empty()) break;
        // Take the share of what is queued that computing would finish when the readers finish
        // the rest: rate_c / (rate_c + rate_read), by the rates measured so far in this call.
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        const double rc = compute_s > 0 ? compute_bytes / compute_s : known_compute;
        const double rt = read_bytes > 0 && elapsed > 0 ? read_bytes / elapsed : known_tier;
        const double share = rc > 0 && rt > 0 ? rc / (rc + rt) : 0.5;
        double queued = 0;
        for (size_t j : queue) queued += weight[j];
        // At most half the staging pool per chunk: the readers fill the rest meanwhile, and the
        // finished reads are copied to the device between chunks.
        const double cap = staging_ && !expected.empty()
                               ? 0.5 * static_cast<double>(staging_->capacity_bytes())
                               : queued;
        const double target = std::min(share * queued, cap);
        double taken = 0;
        while (!queue.empty() && taken + 0.5 * weight[queue.back()] <= target) {
          taken += weight[queue.back()];
          chunk.push_back(queue.back());
          queue.pop_back();
        }
        std::reverse(chunk.begin(), chunk.end());  // key order within the batch
        // Nothing worth computing (the readers are far faster): wait for reads to copy.
        if (chunk.empty()) cv.wait(lock, [&] { return queue.empty() || any_unplaced(); });
      }
      // Every key is claimed: the readers' last reads, then what no tier had after all.
      for (;;) {
        place_ready();
        std::unique_lock<std::mutex> lock(m);
        bool all = true;
        for (size_t j = 0; j < n; ++j) all = all && (!claimed[j] || placed[j]);
        if (all) break;
        cv.wait(lock, any_unplaced);
      }
      std::sort(reader_misses.begin(), reader_misses.end());
      for (size_t j : reader_misses) first_tier[j] = no_tier;  // written to every tier
      compute(reader_misses);
    } catch (...) {
      std::lock_guard<std::mutex> lock(m);
      abort = true;
      // Slabs of finished reads back at once: a reader may be waiting for them.
      for (size_t j = 0; j < n; ++j)
        if (claimed[j] && ready[j] && !placed[j]) drop_read(reads[j]);
      cv.notify_all();
      throw;
    }
  };
  try {
    run_workers(readers + 1, work);
  } catch (...) {
    for (LowerRead& r : reads) drop_read(r);
    throw;
  }

  // The readers' throughput: their bytes over the time until the last read finished (the copies
  // to the device run on after it, in stream order, with nothing to wait for here).
  record_tier_rates(tier_bytes, std::chrono::duration<double>(last_read - t0).count());
  // Fill the faster tiers passed on the way down.
  for (size_t j = 0; j < n; ++j)
    if (out[mine[j]].source == BlockSource::kLowerTier)
      write_lower(keys[mine[j]], out[mine[j]].kv, reads[j].tier);
}

void BlockStore::record_tier_rates(const std::vector<double>& tier_bytes, double seconds) {
  double total = 0;
  for (double b : tier_bytes) total += b;
  if (total <= 0) return;
  // Each tier's share of the wall time is its share of the bytes: the rates stay the batch's
  // throughput, which is what load-or-compute weighs against computing.
  std::lock_guard<std::mutex> lock(rate_mu_);
  for (size_t t = 0; t < tiers_.size(); ++t)
    if (tier_bytes[t] > 0) tier_rates_[t].add(tier_bytes[t], seconds * tier_bytes[t] / total);
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
  // Lower tiers next; everything still missing in one batched compute (or, overlapped, computed
  // while the rest is read).
  std::vector<std::pair<size_t, size_t>> computed;  // (i, lower tiers that get the entry)
  try {
    std::vector<bool> probe;
    const std::vector<bool> skip = tiers_to_skip(probe);
    // The first key of the batch also reads the skipped tiers due for a probe (their rates stay
    // current); the other keys pass over every skipped tier.
    std::vector<std::vector<bool>> skips(mine.size(), skip);
    if (!mine.empty())
      for (size_t t = 0; t < skip.size(); ++t) skips[0][t] = skip[t] && !probe[t];
    if (overlap_ && mine.size() > 1 && !tiers_.empty()) {
      fetch_overlapped(keys, mine, skips, expected, compute_many, out, computed);
    } else {
      std::vector<BlockKey> mine_keys;
      std::vector<const KVShape*> mine_expected;
      for (size_t i : mine) {
        mine_keys.push_back(keys[i]);
        mine_expected.push_back(expected.empty() ? nullptr : &expected[i]);
      }
      std::vector<std::optional<BlockFetch>> loaded =
          load_lower_many(mine_keys, skips, mine_expected);
      std::vector<size_t> missing;
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
        std::vector<BlockKV> kvs = compute_timed(missing, compute_many);
        for (size_t j = 0; j < missing.size(); ++j) {
          out[missing[j]] = {std::move(kvs[j]), BlockSource::kComputed, ""};
          computed.emplace_back(missing[j], tiers_.size());
        }
      }
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
  for (auto [i, tier_count] : computed) write_lower(keys[i], out[i].kv, tier_count);
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
