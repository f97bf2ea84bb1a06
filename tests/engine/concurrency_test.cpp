// The engine under concurrency: one Engine shared by many threads, the block store's
// single-flight and byte budget, and batched decode (Engine::step_batch) against stepping each
// session alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "attention/block_prefill.h"
#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "cache/block_store.h"
#include "cache/byte_tier.h"
#include "cache/disk_tier.h"
#include "cache/pinned_staging.h"
#include "engine_test_util.h"

namespace blockattn {
namespace {

EngineConfig cpu_config(const std::string& arch) {
  EngineConfig c;
  c.model_dir = test::model_fixture(arch);
  c.device = "cpu";
  return c;
}

GenerateRequest request_n(int i, int max_new = 12) {
  GenerateRequest r;
  r.blocks = {"Shared preamble: the archive opens at nine.\n",
              "Block " + std::to_string(i % 3) + ": the code of vault " + std::to_string(i % 3) +
                  " is " + std::to_string(40000 + 17 * (i % 3)) + ".\n"};
  r.query = "What is the code of vault " + std::to_string(i % 3) + "?";
  r.max_new_tokens = max_new;
  r.ignore_eos = true;  // every request generates max_new tokens, so the comparison is long
  if (i % 2) {
    r.sampling.temperature = 0.8f;
    r.sampling.seed = 100 + i;
  }
  return r;
}

TEST(EngineThreads, ManyThreadsGiveTheSameTokensAsOneThread) {
  auto engine = Engine::create(cpu_config("llama"));
  constexpr int kRequests = 12;
  std::vector<std::vector<int32_t>> want(kRequests);
  {
    // The reference: a fresh engine, one request after another.
    auto serial = Engine::create(cpu_config("llama"));
    for (int i = 0; i < kRequests; ++i) want[i] = serial->generate(request_n(i)).tokens;
  }
  std::vector<std::vector<int32_t>> got(kRequests);
  std::vector<std::string> errors(kRequests);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kRequests; i += 6) {
        try {
          got[i] = engine->generate(request_n(i)).tokens;
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(errors[i], "") << "request " << i;
    EXPECT_EQ(got[i], want[i]) << "request " << i;
    EXPECT_EQ(got[i].size(), 12u);
  }
  // 4 distinct blocks (the preamble and 3 vault blocks), each computed once whatever the order.
  CacheStats s = engine->cache_stats();
  EXPECT_EQ(s.misses, 4u);
  EXPECT_EQ(s.memory_hits, 2u * kRequests - 4u);
}

TEST(EngineThreads, BatchedStepsGiveTheTokensOfSteppingAlone) {
  for (const std::string& arch : test::fixture_archs()) {
    auto engine = Engine::create(cpu_config(arch));
    constexpr int kSessions = 5;
    std::vector<std::vector<int32_t>> alone(kSessions);
    for (int i = 0; i < kSessions; ++i) alone[i] = engine->generate(request_n(i, 10 + i)).tokens;

    std::vector<std::unique_ptr<Session>> sessions;
    for (int i = 0; i < kSessions; ++i) {
      sessions.push_back(engine->start(request_n(i, 10 + i)));
      sessions.back()->prefill();
    }
    // Step all of them together; sessions leave the batch as they finish (different lengths).
    for (;;) {
      std::vector<Session*> live;
      for (auto& s : sessions)
        if (!s->finished()) live.push_back(s.get());
      if (live.empty()) break;
      std::vector<StepOutput> outs = engine->step_batch(live);
      ASSERT_EQ(outs.size(), live.size());
    }
    for (int i = 0; i < kSessions; ++i) {
      EXPECT_EQ(sessions[i]->result().tokens, alone[i]) << arch << " session " << i;
      EXPECT_EQ(sessions[i]->result().finish_reason, "length");
    }
  }
}

TEST(EngineThreads, BatchedDecodeLogitsMatchSingleForward) {
  // The fast path (one [B, hidden] forward) against the simple one (B forwards), on logits.
  auto model = Model::load(test::model_fixture("qwen3"), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  std::vector<KVCache> batch_caches, single_caches;
  std::vector<std::vector<int32_t>> prompts = {test::ids_range(3, 7, V), test::ids_range(11, 19, V),
                                               test::ids_range(5, 2, V)};
  for (const auto& p : prompts) {
    for (auto* caches : {&batch_caches, &single_caches}) {
      caches->push_back(model->new_cache(64));
      model->forward(token_tensor(*model, p), caches->back(), LogitsFor::kNone);
    }
  }
  std::vector<KVCache*> ptrs;
  for (auto& c : batch_caches) ptrs.push_back(&c);
  const std::vector<int32_t> next = {17, 42, 99};
  torch::Tensor ids = torch::tensor(std::vector<int64_t>(next.begin(), next.end()), torch::kInt64);
  torch::Tensor batched = model->forward_decode_batch(ids, ptrs);  // [3, vocab]
  for (size_t b = 0; b < next.size(); ++b) {
    torch::Tensor one =
        model->forward(token_tensor(*model, {next[b]}), single_caches[b], LogitsFor::kLast);
    EXPECT_LE(test::max_abs_diff(batched.narrow(0, static_cast<int64_t>(b), 1), one), 1e-4)
        << "row " << b;
    EXPECT_EQ(batch_caches[b].size(), single_caches[b].size());
  }
  // Negative control: rows are not interchangeable, so the comparison can fail.
  torch::Tensor other = batched.narrow(0, 1, 1);
  torch::Tensor first =
      model->forward(token_tensor(*model, {next[1]}), single_caches[0], LogitsFor::kLast);
  EXPECT_GT(test::max_abs_diff(other, first), 1e-3);
}

BlockKV fake_kv(int n_tok, float value) {
  return {torch::full({2, 1, n_tok, 4}, value), torch::full({2, 1, n_tok, 4}, -value)};
}

BlockKey key_of(int i) {
  BlockKey k;
  k.h.lo = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull + 1;
  k.h.hi = static_cast<uint64_t>(i);
  return k;
}

TEST(BlockStoreThreads, ContestedBlockIsComputedExactlyOnce) {
  BlockStore store(1 << 20, {}, torch::kCPU);
  std::atomic<int> computes{0};
  std::atomic<bool> go{false};
  constexpr int kThreads = 8;
  std::vector<BlockFetch> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      results[t] = store.fetch_or_compute(key_of(7), [&] {
        ++computes;
        std::this_thread::sleep_for(
            std::chrono::milliseconds(100));  // long enough for all to pile up
        return fake_kv(3, 1.5f);
      });
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(computes.load(), 1);
  int computed = 0;
  for (const BlockFetch& f : results) {
    computed += f.source == BlockSource::kComputed;
    EXPECT_EQ(f.kv.k.size(2), 3);
    EXPECT_FLOAT_EQ(f.kv.k.flatten()[0].item<float>(), 1.5f);
  }
  EXPECT_EQ(computed, 1);
  BlockStoreStats s = store.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.memory_hits, kThreads - 1u);
}

TEST(BlockStoreThreads, FailedComputeIsRetriedByAWaiter) {
  BlockStore store(1 << 20, {}, torch::kCPU);
  std::atomic<int> calls{0};
  std::atomic<int> failures{0}, successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      try {
        store.fetch_or_compute(key_of(1), [&]() -> BlockKV {
          if (calls++ == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            throw InputError("first compute fails");
          }
          return fake_kv(2, 2.0f);
        });
        ++successes;
      } catch (const InputError&) {
        ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 1);  // only the caller whose own compute threw
  EXPECT_EQ(successes.load(), 3);
  EXPECT_EQ(calls.load(), 2);  // one retry served the other waiters
}

TEST(BlockStoreThreads, ByteBudgetHoldsUnderConcurrentInserts) {
  const BlockKV probe = fake_kv(4, 0.0f);
  const uint64_t entry = probe.bytes();
  const uint64_t budget = 10 * entry + entry / 2;  // room for 10 entries
  BlockStore store(budget, {}, torch::kCPU);
  std::vector<std::thread> threads;
  std::atomic<uint64_t> worst{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        store.fetch_or_compute(key_of(t * 1000 + i % 37),
                               [&] { return fake_kv(4, static_cast<float>(i)); });
        const uint64_t now = store.stats().memory_bytes;
        uint64_t w = worst.load();
        while (now > w && !worst.compare_exchange_weak(w, now)) {
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  BlockStoreStats s = store.stats();
  EXPECT_LE(worst.load(), budget);
  EXPECT_LE(s.memory_bytes, budget);
  EXPECT_EQ(s.memory_entries, 10u);
  EXPECT_EQ(s.memory_bytes, 10 * entry);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(s.misses + s.memory_hits, 6u * 200u);
}

// fetch_or_compute_many: one compute call for everything missing, in the caller's order; a key
// repeated in the batch is computed once; present keys are memory hits.
TEST(BlockStoreBatch, MissingKeysAreComputedInOneCall) {
  BlockStore store(1 << 20, {}, torch::kCPU);
  store.fetch_or_compute(key_of(2), [] { return fake_kv(2, 2.0f); });
  std::vector<std::vector<size_t>> calls;
  auto fetched = store.fetch_or_compute_many(
      {key_of(1), key_of(2), key_of(3), key_of(1)}, [&](const std::vector<size_t>& missing) {
        calls.push_back(missing);
        std::vector<BlockKV> out;
        for (size_t i : missing) out.push_back(fake_kv(3, 10.0f + static_cast<float>(i)));
        return out;
      });
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (std::vector<size_t>{0, 2}));
  ASSERT_EQ(fetched.size(), 4u);
  EXPECT_EQ(fetched[0].source, BlockSource::kComputed);
  EXPECT_EQ(fetched[1].source, BlockSource::kMemory);
  EXPECT_EQ(fetched[2].source, BlockSource::kComputed);
  EXPECT_EQ(fetched[3].source, BlockSource::kMemory);  // the repeat reuses index 0
  EXPECT_FLOAT_EQ(fetched[0].kv.k.flatten()[0].item<float>(), 10.0f);
  EXPECT_FLOAT_EQ(fetched[1].kv.k.flatten()[0].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(fetched[2].kv.k.flatten()[0].item<float>(), 12.0f);
  EXPECT_FLOAT_EQ(fetched[3].kv.k.flatten()[0].item<float>(), 10.0f);
  EXPECT_EQ(store.stats().misses, 3u);  // key 2 earlier, keys 1 and 3 now
}

// A batch that meets a key another caller is computing waits for it instead of computing it.
TEST(BlockStoreBatch, KeyInFlightElsewhereIsWaitedFor) {
  BlockStore store(1 << 20, {}, torch::kCPU);
  std::atomic<bool> started{false};
  std::thread other([&] {
    store.fetch_or_compute(key_of(5), [&] {
      started = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      return fake_kv(2, 5.0f);
    });
  });
  while (!started) std::this_thread::yield();
  std::vector<size_t> computed;
  auto fetched = store.fetch_or_compute_many({key_of(5), key_of(6)}, [&](const auto& missing) {
    computed = missing;
    return std::vector<BlockKV>{fake_kv(2, 6.0f)};
  });
  other.join();
  EXPECT_EQ(computed, (std::vector<size_t>{1}));
  EXPECT_EQ(fetched[0].source, BlockSource::kMemory);
  EXPECT_FLOAT_EQ(fetched[0].kv.k.flatten()[0].item<float>(), 5.0f);
  EXPECT_EQ(store.stats().shared_computes, 1u);
}

// Host tier: the memory tier's evictions are demoted (copied) into it, its own budget evicts the
// oldest, a hit there comes back exact and is promoted to memory, and forget() drops both copies.
// (On CUDA the host copies are pinned; the bookkeeping is the same.)
TEST(BlockStoreHostTier, DemotionEvictionAndPromotion) {
  const uint64_t entry = fake_kv(4, 0.0f).bytes();
  BlockStoreConfig config;
  config.memory_budget_bytes = 2 * entry;  // two entries on the "device"
  config.host_budget_bytes = 3 * entry;    // three in host memory
  BlockStore store(config, {}, torch::kCPU);
  int computes = 0;
  for (int i = 0; i < 6; ++i)
    store.fetch_or_compute(key_of(i), [&] {
      ++computes;
      return fake_kv(4, static_cast<float>(i));
    });
  BlockStoreStats s = store.stats();
  EXPECT_EQ(s.memory_entries, 2u);  // 4, 5
  EXPECT_EQ(s.evictions, 4u);       // 0..3 left the device tier ...
  EXPECT_EQ(s.demotions, 4u);       // ... into the host tier
  EXPECT_EQ(s.host_entries, 3u);    // 1, 2, 3 (0 evicted from the host tier)
  EXPECT_EQ(s.host_evictions, 1u);
  EXPECT_EQ(s.host_bytes, 3 * entry);
  EXPECT_TRUE(store.in_memory(key_of(5)));
  EXPECT_FALSE(store.in_memory(key_of(1)));

  // Key 1 from the host tier: exact, not recomputed, promoted (which demotes key 4).
  BlockFetch f = store.fetch_or_compute(key_of(1), [&] {
    ++computes;
    return fake_kv(4, -1.0f);
  });
  EXPECT_EQ(f.source, BlockSource::kLowerTier);
  EXPECT_EQ(f.tier, "host");
  EXPECT_TRUE(torch::equal(f.kv.k, fake_kv(4, 1.0f).k));
  EXPECT_TRUE(torch::equal(f.kv.v, fake_kv(4, 1.0f).v));
  EXPECT_TRUE(store.in_memory(key_of(1)));
  // Key 0 is gone from every tier: computed again.
  EXPECT_EQ(store
                .fetch_or_compute(key_of(0),
                                  [&] {
                                    ++computes;
                                    return fake_kv(4, 0.0f);
                                  })
                .source,
            BlockSource::kComputed);
  EXPECT_EQ(computes, 7);
  s = store.stats();
  EXPECT_EQ(s.host_hits, 1u);
  EXPECT_LE(s.host_bytes, 3 * entry);
  EXPECT_LE(s.memory_bytes, 2 * entry);

  EXPECT_TRUE(store.forget(key_of(1)));
  EXPECT_FALSE(store.in_memory(key_of(1)));
  EXPECT_EQ(store
                .fetch_or_compute(key_of(1),
                                  [&] {
                                    ++computes;
                                    return fake_kv(4, 1.0f);
                                  })
                .source,
            BlockSource::kComputed);
}

// A lower tier that holds entries but answers slowly (a remote or cold disk).
class SlowTier : public ByteTier {
 public:
  std::optional<KVBlob> get(const BlockKey& key) override {
    ++gets;
    auto it = entries.find(key);
    if (it == entries.end()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    return it->second;
  }
  bool put(const BlockKey& key, const KVBlob& blob) override {
    ++puts;
    entries[key] = blob;
    return true;
  }
  bool contains(const BlockKey& key) override { return entries.count(key) > 0; }
  std::string describe() const override { return "slow"; }
  std::string name() const override { return "slow"; }
  TierStats stats() const override { return {}; }
  std::unordered_map<BlockKey, KVBlob> entries;
  std::atomic<int> gets{0}, puts{0};
};

// A store over one lower tier, writing to it synchronously (no write-behind thread); `config`
// gives the other settings.
std::unique_ptr<BlockStore> store_over(std::unique_ptr<ByteTier> tier, bool load_or_compute,
                                       BlockStoreConfig config = {}) {
  std::vector<std::unique_ptr<ByteTier>> tiers;
  tiers.push_back(std::move(tier));
  config.memory_budget_bytes = 1 << 20;
  config.write_behind = false;
  config.load_or_compute = load_or_compute;
  return std::make_unique<BlockStore>(config, std::move(tiers), torch::kCPU);
}

// Load-or-compute: once a tier is measured much slower than computing, its entries are computed
// instead (counted), with one probe read every 16 batches; switched off, the tier is always read.
TEST(BlockStoreLoadOrCompute, ASlowTierIsSkippedOnceMeasured) {
  for (bool enabled : {true, false}) {
    auto tier = std::make_unique<SlowTier>();
    SlowTier* slow = tier.get();
    auto owned = store_over(std::move(tier), enabled);
    BlockStore& store = *owned;
    auto fetch = [&](int k) {
      BlockFetch f = store.fetch_or_compute(key_of(k), [&] { return fake_kv(64, 1.0f * k); });
      store.forget(key_of(k));  // the next fetch of k goes below the memory tier again
      return f;
    };
    EXPECT_EQ(fetch(1).source, BlockSource::kComputed);  // a compute measurement, and a put
    EXPECT_EQ(fetch(2).source, BlockSource::kComputed);
    EXPECT_EQ(fetch(1).tier, "slow");  // two read measurements
    EXPECT_EQ(fetch(2).tier, "slow");
    int read = 0, computed = 0;
    for (int i = 0; i < 32; ++i) {
      BlockFetch f = fetch(1 + i % 2);
      (f.source == BlockSource::kComputed ? computed : read)++;
    }
    if (enabled) {
      EXPECT_EQ(read, 2) << "one probe every 16 batches";
      EXPECT_EQ(computed, 30);
      EXPECT_EQ(store.stats().tier_skips, 30u);
    } else {
      EXPECT_EQ(read, 32);
      EXPECT_EQ(store.stats().tier_skips, 0u);
    }
    EXPECT_GE(slow->gets, 4);
  }
}

// Overlapped load-or-compute: while readers take the tier's keys from the front, the caller
// computes from the back (first the key no tier has), so a request uses both; every result is its
// own key's entry, no key is both read and computed, and entries computed although the tier has
// them are not written back to it. A compute that throws ends the call (readers stopped, no hang)
// and leaves the store usable. Overlap off: every key the tier has is read.
TEST(BlockStoreLoadOrCompute, OverlappedReadsAndComputeMeetInTheMiddle) {
  const int64_t entry = static_cast<int64_t>(fake_kv(4, 0.0f).bytes());
  for (auto [overlap, staging] :
       {std::pair{BlockStoreConfig::Overlap::kOn, int64_t{0}},
        std::pair{BlockStoreConfig::Overlap::kOn, 5 * entry},  // entries across 2 slabs
        std::pair{BlockStoreConfig::Overlap::kOff, 5 * entry},
        std::pair{BlockStoreConfig::Overlap::kOff, int64_t{0}}}) {
    SCOPED_TRACE("staging " + std::to_string(staging));
    auto tier = std::make_unique<SlowTier>();  // 30 ms per read
    SlowTier* slow = tier.get();
    std::vector<BlockKey> keys;
    for (int k = 0; k < 24; ++k) {
      keys.push_back(key_of(k));
      if (k != 5) slow->entries[key_of(k)] = to_blob(fake_kv(4, 1.0f * k));
    }
    BlockStoreConfig config;
    config.overlap = overlap;
    config.staging_bytes = staging;
    auto owned = store_over(std::move(tier), /*load_or_compute=*/true, config);
    BlockStore& store = *owned;
    std::vector<std::vector<size_t>> chunks;
    auto compute = [&](const std::vector<size_t>& which) {
      chunks.push_back(which);
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * which.size()));
      std::vector<BlockKV> kvs;
      for (size_t i : which) kvs.push_back(fake_kv(4, 1.0f * static_cast<float>(i)));
      return kvs;
    };
    std::vector<BlockFetch> fetched = store.fetch_or_compute_many(keys, compute);
    ASSERT_EQ(fetched.size(), keys.size());
    ASSERT_FALSE(chunks.empty());
    EXPECT_EQ(chunks[0], (std::vector<size_t>{5})) << "the key no tier has comes first";
    std::vector<int> times_computed(keys.size(), 0);
    for (const auto& chunk : chunks) {
      EXPECT_TRUE(std::is_sorted(chunk.begin(), chunk.end()));
      for (size_t i : chunk) ++times_computed[i];
    }
    int read = 0, computed = 0;
    for (size_t k = 0; k < keys.size(); ++k) {
      EXPECT_FLOAT_EQ(fetched[k].kv.k.flatten()[0].item<float>(), 1.0f * k) << k;
      const bool was_computed = fetched[k].source == BlockSource::kComputed;
      EXPECT_EQ(times_computed[k], was_computed ? 1 : 0) << k;
      (was_computed ? computed : read)++;
    }
    BlockStoreStats s = store.stats();
    EXPECT_EQ(s.lower_hits, static_cast<uint64_t>(read));
    EXPECT_EQ(s.misses, static_cast<uint64_t>(computed));
    EXPECT_EQ(slow->puts, 1) << "only the entry no tier had is written";
    if (overlap == BlockStoreConfig::Overlap::kOn) {
      EXPECT_GE(read, 1) << "the readers took part";
      EXPECT_GE(computed, 2) << "the caller took keys the tier has";
      EXPECT_EQ(s.tier_skips, static_cast<uint64_t>(computed - 1));
      // A compute that throws: the error reaches the caller, the store keeps working.
      for (int k = 0; k < 24; ++k) store.forget(key_of(k));
      auto failing = [&](const std::vector<size_t>& which) -> std::vector<BlockKV> {
        (void)which;
        throw Error("compute failed");
      };
      EXPECT_THROW(store.fetch_or_compute_many(keys, failing), Error);
      EXPECT_EQ(store.fetch_or_compute_many(keys, compute).size(), keys.size());
    } else {
      EXPECT_EQ(chunks, (std::vector<std::vector<size_t>>{{5}}));
      EXPECT_EQ(read, 23);
    }
  }
}

// The staging pool: bytes come back exactly (an entry over several slabs), slabs are granted in
// ticket order and only when free, an entry larger than the pool passes its turn unstaged.
TEST(PinnedStagingPool, GrantsInTicketOrderAndCopiesExactly) {
  PinnedStaging pool(3, 32, torch::kCPU);  // 3 slabs of 32 bytes
  EXPECT_EQ(pool.capacity_bytes(), 96u);
  std::vector<float> src(20);  // 80 bytes: 3 slabs
  for (size_t i = 0; i < src.size(); ++i) src[i] = 0.5f * static_cast<float>(i);
  PinnedStaging::Lease a = pool.acquire(pool.ticket(), 80);
  ASSERT_EQ(a.slabs.size(), 3u);
  pool.fill(a, reinterpret_cast<const char*>(src.data()));
  // The pool is empty: a second entry waits until the first one's slabs are back.
  const uint64_t t1 = pool.ticket(), t2 = pool.ticket();
  std::atomic<int> order{0};
  int got1 = 0, got2 = 0;
  // Ticket t2 asks first, but must wait for t1. Both need 2 of the 3 slabs, so t2's grant can
  // only follow t1's release: the order of the two counts below is the order of the grants.
  std::thread second([&] {
    PinnedStaging::Lease l = pool.acquire(t2, 40);
    got2 = ++order;
    pool.release(l);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(order, 0) << "granted with no free slab, or out of turn";
  std::thread first([&] {
    PinnedStaging::Lease l = pool.acquire(t1, 40);  // 2 slabs
    got1 = ++order;
    pool.release(l);
  });
  torch::Tensor dst = torch::zeros({20}, torch::kFloat32);  // [20]
  pool.copy_to_device(a, dst);                              // gives the slabs back
  first.join();
  second.join();
  EXPECT_EQ(got1, 1);
  EXPECT_EQ(got2, 2);
  for (size_t i = 0; i < src.size(); ++i) EXPECT_FLOAT_EQ(dst[i].item<float>(), src[i]) << i;
  EXPECT_TRUE(a.empty());
  PinnedStaging::Lease big = pool.acquire(pool.ticket(), 97);  // more than the pool
  EXPECT_TRUE(big.empty());
  PinnedStaging::Lease after = pool.acquire(pool.ticket(), 96);  // the turn passed
  EXPECT_EQ(after.slabs.size(), 3u);
  pool.release(after);
}

// A lower tier whose reads, once armed, wait (up to a second) until another read is in progress
// too, and that records how many ran at once.
class OverlapTier : public SlowTier {
 public:
  std::optional<KVBlob> get(const BlockKey& key) override {
    std::unique_lock<std::mutex> lock(mu);
    ++inside;
    most_inside = std::max(most_inside, inside);
    cv.notify_all();
    if (armed) cv.wait_for(lock, std::chrono::seconds(1), [&] { return inside >= 2; });
    auto it = entries.find(key);
    std::optional<KVBlob> blob;
    if (it != entries.end()) blob = it->second;
    --inside;
    return blob;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool armed = false;  // false while the test fills the tier
  int inside = 0, most_inside = 0;
};

// The keys of a batch are read from a lower tier side by side (not one after another), and each
// result is its own key's entry, in the caller's order; a key no tier has is computed.
TEST(BlockStoreBatch, LowerTierReadsOverlap) {
  auto tier = std::make_unique<OverlapTier>();
  OverlapTier* overlap = tier.get();
  auto owned = store_over(std::move(tier), /*load_or_compute=*/false);
  BlockStore& store = *owned;
  std::vector<BlockKey> keys;
  for (int k = 0; k < 12; ++k) {
    keys.push_back(key_of(k));
    if (k == 7) continue;  // never computed: not in the tier
    store.fetch_or_compute(key_of(k), [&] { return fake_kv(4, 1.0f * k); });
    store.forget(key_of(k));
  }
  overlap->most_inside = 0;
  overlap->armed = true;
  std::vector<std::vector<size_t>> computed;
  auto fetched = store.fetch_or_compute_many(keys, [&](const std::vector<size_t>& missing) {
    computed.push_back(missing);
    return std::vector<BlockKV>{fake_kv(4, 70.0f)};
  });
  EXPECT_GE(overlap->most_inside, 2) << "the reads ran one at a time";
  ASSERT_EQ(computed, (std::vector<std::vector<size_t>>{{7}}));
  ASSERT_EQ(fetched.size(), keys.size());
  for (int k = 0; k < 12; ++k) {
    EXPECT_EQ(fetched[k].source, k == 7 ? BlockSource::kComputed : BlockSource::kLowerTier) << k;
    EXPECT_FLOAT_EQ(fetched[k].kv.k.flatten()[0].item<float>(), k == 7 ? 70.0f : 1.0f * k) << k;
  }
  EXPECT_EQ(store.stats().lower_hits, 11u);
}

// Write-behind: a computed entry is returned before the (slow) disk write finishes; flush()
// waits for it; the entry is then on disk, complete. A full write queue drops (and counts)
// instead of blocking; the destructor writes what is still queued.
TEST(BlockStoreWriteBehind, DiskWritesDoNotDelayTheCaller) {
  test::TempDir dir;
  std::atomic<int> writes_started{0};
  auto make_store = [&](uint64_t queue_bytes, int write_ms) {
    DiskTierConfig disk;
    disk.dir = dir.path();
    disk.write_hook = [&, write_ms](const std::string&) {
      ++writes_started;
      std::this_thread::sleep_for(std::chrono::milliseconds(write_ms));
    };
    std::vector<std::unique_ptr<ByteTier>> tiers;
    tiers.push_back(std::make_unique<DiskTier>(disk));
    BlockStoreConfig config;
    config.memory_budget_bytes = 1 << 20;
    config.write_queue_bytes = queue_bytes;
    return std::make_unique<BlockStore>(config, std::move(tiers), torch::kCPU);
  };
  {
    auto store = make_store(1 << 20, 300);
    const auto t0 = std::chrono::steady_clock::now();
    store->fetch_or_compute(key_of(1), [] { return fake_kv(3, 1.0f); });
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(ms, 250.0) << "the caller waited for the disk write";
    store->flush();
    EXPECT_EQ(store->stats().writes_pending, 0u);
    EXPECT_EQ(store->tiers()[0]->stats().puts, 1u);
    EXPECT_TRUE(store->tiers()[0]->get(key_of(1)).has_value());
  }
  {
    // A queue of two entries (the one being written counts): while the first write sleeps, the
    // second entry is queued and the third finds the queue full.
    const uint64_t entry = fake_kv(3, 0.0f).bytes();
    auto store = make_store(2 * entry, 200);
    writes_started = 0;
    store->fetch_or_compute(key_of(10), [] { return fake_kv(3, 1.0f); });
    while (writes_started == 0) std::this_thread::yield();  // the writer holds entry 10
    store->fetch_or_compute(key_of(11), [] { return fake_kv(3, 2.0f); });  // queued
    store->fetch_or_compute(key_of(12), [] { return fake_kv(3, 3.0f); });  // dropped
    BlockStoreStats s = store->stats();
    EXPECT_EQ(s.writes_queued, 2u);
    EXPECT_EQ(s.writes_dropped, 1u);
  }  // the destructor writes entry 11
  DiskTierConfig plain;
  plain.dir = dir.path();
  DiskTier reader(plain);
  EXPECT_TRUE(reader.get(key_of(10)).has_value());
  EXPECT_TRUE(reader.get(key_of(11)).has_value());
  EXPECT_FALSE(reader.get(key_of(12)).has_value());
}

}  // namespace
}  // namespace blockattn
