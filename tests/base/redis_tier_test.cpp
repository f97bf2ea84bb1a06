// Redis byte tier (src/cache/redis_tier.h) against a real redis-server the test starts.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "blockattn/error.h"
#include "cache/redis_tier.h"
#include "redis_server.h"

namespace blockattn {
namespace {

using Ms = std::chrono::milliseconds;

BlockKey key_of(int32_t tok) { return make_block_key({"fp", 0, 0, DType::kBF16, &tok, 1}); }

KVBlob make_blob(uint32_t n_tok, uint32_t seed) {
  KVBlob b;
  b.shape = KVShape{DType::kBF16, 2, 2, n_tok, 16};
  b.payload.resize(2 * b.shape.tensor_bytes());
  std::mt19937 rng(seed);
  for (char& c : b.payload) c = static_cast<char>(rng());
  return b;
}

RedisTierConfig config(const test::RedisServer& s) {
  RedisTierConfig c;
  c.url = s.url();
  c.key_prefix = "test:";
  return c;
}

// The test's own view of Redis: raw commands on a separate connection.
class Raw {
 public:
  explicit Raw(const test::RedisServer& s) : c_(s.connect()) {}
  ~Raw() {
    if (c_ != nullptr) redisFree(c_);
  }
  bool ok() const { return c_ != nullptr; }
  // GET: the value, or nullopt when absent.
  std::optional<std::string> get(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(c_, "GET %b", key.data(), key.size()));
    std::optional<std::string> v;
    if (r != nullptr && r->type == REDIS_REPLY_STRING) v = std::string(r->str, r->len);
    if (r != nullptr) freeReplyObject(r);
    return v;
  }
  void set(const std::string& key, const std::string& value) {
    freeReplyObject(
        redisCommand(c_, "SET %b %b", key.data(), key.size(), value.data(), value.size()));
  }
  void del(const std::string& key) {
    freeReplyObject(redisCommand(c_, "DEL %b", key.data(), key.size()));
  }
  long long integer(const std::string& cmd, const std::string& key) {
    auto* r =
        static_cast<redisReply*>(redisCommand(c_, (cmd + " %b").c_str(), key.data(), key.size()));
    long long v = r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    if (r != nullptr) freeReplyObject(r);
    return v;
  }
  // KEYS pattern, sorted.
  std::vector<std::string> keys(const std::string& pattern) {
    auto* r = static_cast<redisReply*>(redisCommand(c_, "KEYS %s", pattern.c_str()));
    std::vector<std::string> out;
    if (r != nullptr && r->type == REDIS_REPLY_ARRAY)
      for (size_t i = 0; i < r->elements; ++i)
        out.emplace_back(r->element[i]->str, r->element[i]->len);
    if (r != nullptr) freeReplyObject(r);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  redisContext* c_;
};

#define REQUIRE_REDIS(server) ASSERT_TRUE((server).ok()) << (server).error()

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(RedisUrl, ParsesHostPortDbAndPassword) {
  RedisAddress a = parse_redis_url("redis://10.1.2.3:6380/2");
  EXPECT_EQ(a.host, "10.1.2.3");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 2);
  EXPECT_EQ(a.password, "");
  a = parse_redis_url("redis://cache.local");
  EXPECT_EQ(a.host, "cache.local");
  EXPECT_EQ(a.port, 6379);
  EXPECT_EQ(a.db, 0);
  a = parse_redis_url("localhost:7000");
  EXPECT_EQ(a.port, 7000);
  a = parse_redis_url("redis://:s%40cret@h:1/0");
  EXPECT_EQ(a.user, "");
  EXPECT_EQ(a.password, "s@cret");
  EXPECT_EQ(a.display(), "h:1/0");  // never the password
  a = parse_redis_url("REDIS://alice:pw@[::1]:6390/5");
  EXPECT_EQ(a.user, "alice");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.display(), "[::1]:6390/5");
}

TEST(RedisUrl, MalformedUrlsAreOneLineInputErrors) {
  for (const char* bad :
       {"", "redis://", "http://h:1/0", "rediss://h", "redis://h:0", "redis://h:65536",
        "redis://h:x", "redis://h:", "redis://h/-1", "redis://h/db", "redis://pw@h", "redis://:@h",
        "redis://h:1/0?timeout=1", "redis://::1", "redis://[::1"}) {
    try {
      parse_redis_url(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("bad Redis URL"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  RedisTierConfig c;
  c.url = "redis://127.0.0.1:1/0";
  c.command_timeout_ms = 0;
  EXPECT_THROW(RedisTier{c}, InputError);
}

TEST(RedisTier, RoundTripStoresExactlyTheEntryBytes) {
  test::RedisServer server;
  REQUIRE_REDIS(server);
  RedisTier tier(config(server));
  const BlockKey k = key_of(1);
  const KVBlob blob = make_blob(7, 1);
  EXPECT_FALSE(tier.contains(k));
  EXPECT_FALSE(tier.get(k).has_value());
  ASSERT_TRUE(tier.put(k, blob));
  EXPECT_TRUE(tier.contains(k));
  std::optional<KVBlob> got = tier.get(k);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, blob);
  Raw raw(server);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(tier.value_key(k), "test:" + k.hex());
  EXPECT_EQ(raw.get(tier.value_key(k)), encode_entry(k, blob));
  EXPECT_EQ(raw.integer("TTL", tier.value_key(k)), -1);  // no TTL configured: none set
  TierStats s = tier.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.puts, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.corrupt_dropped, 0u);
  EXPECT_EQ(tier.name(), "redis");
  EXPECT_EQ(tier.describe(), "redis 127.0.0.1:" + std::to_string(server.port()) +
                                 "/0 (prefix test:, ttl none, chunks of 16 MiB, up)");
}

TEST(RedisTier, DatabaseAndPasswordFromTheUrl) {
  test::RedisServer server({"--requirepass", "hunter2"});
  REQUIRE_REDIS(server);
  RedisTierConfig c = config(server);
  c.url = "redis://:hunter2@127.0.0.1:" + std::to_string(server.port()) + "/3";
  RedisTier tier(c);
  const BlockKey k = key_of(2);
  ASSERT_TRUE(tier.put(k, make_blob(3, 2)));
  EXPECT_TRUE(tier.get(k).has_value());
  EXPECT_EQ(tier.stats().errors, 0u);
  // The key is in database 3, not 0.
  redisContext* raw = server.connect();
  ASSERT_NE(raw, nullptr);
  freeReplyObject(redisCommand(raw, "AUTH hunter2"));
  auto* r = static_cast<redisReply*>(redisCommand(raw, "EXISTS %s", tier.value_key(k).c_str()));
  EXPECT_EQ(r->integer, 0);
  freeReplyObject(r);
  freeReplyObject(redisCommand(raw, "SELECT 3"));
  r = static_cast<redisReply*>(redisCommand(raw, "EXISTS %s", tier.value_key(k).c_str()));
  EXPECT_EQ(r->integer, 1);
  freeReplyObject(r);
  redisFree(raw);

  // A wrong password: the tier is unusable, which is a miss and a counted error, not a throw.
  c.url = "redis://:wrong@127.0.0.1:" + std::to_string(server.port()) + "/3";
  RedisTier bad(c);
  EXPECT_FALSE(bad.get(k).has_value());
  EXPECT_GE(bad.stats().errors, 1u);
}

TEST(RedisTier, LargeEntriesAreChunkedAndReassembledExactly) {
  test::RedisServer server;
  REQUIRE_REDIS(server);
  RedisTierConfig c = config(server);
  c.chunk_bytes = 4096;
  RedisTier tier(c);
  const BlockKey k = key_of(3);
  const KVBlob blob = make_blob(100, 3);  // 2 * 2*2*100*16*2 bytes = 25,600 + 80 header
  const std::string entry = encode_entry(k, blob);
  ASSERT_TRUE(tier.put(k, blob));
  Raw raw(server);
  std::vector<std::string> keys = raw.keys("test:*");
  const size_t n_chunks = (entry.size() + 4095) / 4096;
  ASSERT_EQ(keys.size(), n_chunks + 1);
  std::optional<std::string> manifest = raw.get(tier.value_key(k));
  ASSERT_TRUE(manifest.has_value());
  EXPECT_EQ(manifest->substr(0, 8), "BAKVCHNK");
  EXPECT_EQ(manifest->size(), 48u);
  // The chunks, concatenated in index order, are exactly the entry.
  std::string joined;
  for (size_t i = 0; i < n_chunks; ++i) {
    const std::string suffix = ":" + std::to_string(i);
    for (const std::string& key : keys)
      if (key != tier.value_key(k) && key.size() > suffix.size() &&
          key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)
        joined += raw.get(key).value_or("");
  }
  EXPECT_EQ(joined, entry);
  std::optional<KVBlob> got = tier.get(k);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, blob);
  // A second tier instance (another process, in effect) reads it too.
  RedisTier other(c);
  EXPECT_EQ(other.get(k), blob);
}

TEST(RedisTier, TruncatedCorruptWrongKeyAndMissingChunkAreCountedMisses) {
  test::RedisServer server;
  REQUIRE_REDIS(server);
  RedisTierConfig c = config(server);
  c.chunk_bytes = 4096;
  RedisTier tier(c);
  Raw raw(server);
  const KVBlob small = make_blob(4, 4);
  uint64_t dropped = 0;
  auto expect_dropped = [&](const BlockKey& k, const char* what) {
    EXPECT_FALSE(tier.get(k).has_value()) << what;
    EXPECT_EQ(tier.stats().corrupt_dropped, ++dropped) << what;
    EXPECT_FALSE(raw.get(tier.value_key(k)).has_value()) << what << ": not deleted";
    EXPECT_FALSE(tier.contains(k)) << what;
  };

  const BlockKey k1 = key_of(10);
  std::string entry = encode_entry(k1, small);
  raw.set(tier.value_key(k1), entry.substr(0, entry.size() - 5));
  expect_dropped(k1, "truncated");

  std::string flipped = entry;
  flipped[flipped.size() - 3] ^= 0x40;
  raw.set(tier.value_key(k1), flipped);
  expect_dropped(k1, "payload bit flip");

  const BlockKey k2 = key_of(11);
  raw.set(tier.value_key(k2), encode_entry(k1, small));  // a valid entry, of another key
  expect_dropped(k2, "wrong key");

  raw.set(tier.value_key(k2), "not an entry at all");
  expect_dropped(k2, "garbage");

  const BlockKey k3 = key_of(12);
  ASSERT_TRUE(tier.put(k3, make_blob(100, 5)));
  std::vector<std::string> keys = raw.keys("test:*");
  ASSERT_GT(keys.size(), 2u);
  for (const std::string& key : keys)
    if (key != tier.value_key(k3)) {
      raw.del(key);  // one chunk gone (as if evicted by maxmemory)
      break;
    }
  expect_dropped(k3, "missing chunk");
  EXPECT_TRUE(raw.keys("test:*").empty()) << "the remaining chunks are deleted with the manifest";

  ASSERT_TRUE(tier.put(k3, make_blob(100, 5)));
  std::string manifest = raw.get(tier.value_key(k3)).value();
  manifest[20] ^= 1;  // total size changed: checksum no longer matches
  raw.set(tier.value_key(k3), manifest);
  expect_dropped(k3, "bad manifest");

  // A plain absence is a miss but not corruption.
  EXPECT_FALSE(tier.get(key_of(99)).has_value());
  EXPECT_EQ(tier.stats().corrupt_dropped, dropped);
  EXPECT_EQ(tier.stats().errors, 0u);
  // And a good entry written afterwards is used.
  ASSERT_TRUE(tier.put(k1, small));
  EXPECT_EQ(tier.get(k1), small);
}

TEST(RedisTier, TtlIsSetOnTheValueAndEveryChunk) {
  test::RedisServer server;
  REQUIRE_REDIS(server);
  RedisTierConfig c = config(server);
  c.chunk_bytes = 4096;
  c.ttl_seconds = 100;
  RedisTier tier(c);
  ASSERT_TRUE(tier.put(key_of(20), make_blob(2, 1)));    // one value
  ASSERT_TRUE(tier.put(key_of(21), make_blob(100, 2)));  // chunked
  Raw raw(server);
  std::vector<std::string> keys = raw.keys("test:*");
  ASSERT_GT(keys.size(), 3u);
  for (const std::string& key : keys) {
    const long long ttl = raw.integer("TTL", key);
    EXPECT_GT(ttl, 90) << key;
    EXPECT_LE(ttl, 100) << key;
  }
  EXPECT_NE(tier.describe().find("ttl 100 s"), std::string::npos) << tier.describe();
}

// A stalled Redis (accepts connections, never answers) costs one command timeout; while the
// breaker is open every call returns at once; after SIGCONT and the cool-down it is used again.
TEST(RedisTier, StalledRedisCostsOneTimeoutThenTheBreakerAnswersAtOnce) {
  test::RedisServer server;
  REQUIRE_REDIS(server);
  RedisTierConfig c = config(server);
  c.command_timeout_ms = 400;
  c.cooldown_ms = 1500;
  RedisTier tier(c);
  const BlockKey k = key_of(30);
  ASSERT_TRUE(tier.put(k, make_blob(3, 3)));
  server.pause();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(tier.get(k).has_value());
  const double first = ms_since(t0);
  EXPECT_GE(first, 300) << "the first call waits for the command timeout";
  EXPECT_EQ(tier.stats().errors, 1u);
  EXPECT_NE(tier.describe().find("down"), std::string::npos);
  t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(tier.get(k).has_value());
  EXPECT_FALSE(tier.put(key_of(31), make_blob(3, 4)));
  EXPECT_FALSE(tier.contains(k));
  EXPECT_LT(ms_since(t0), 200) << "the open breaker does not touch the network";
  TierStats s = tier.stats();
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.put_failures, 1u);
  server.resume();
  std::this_thread::sleep_for(Ms(1600));
  EXPECT_EQ(tier.get(k), make_blob(3, 3));  // the probe succeeds: closed again
  EXPECT_NE(tier.describe().find("up"), std::string::npos);
  EXPECT_TRUE(tier.put(key_of(31), make_blob(3, 4)));
  EXPECT_EQ(tier.stats().errors, 1u);
}

// Redis killed mid-run: calls fail fast and are counted; restarted on the same port (empty, no
// persistence), the tier is used again once the cool-down has passed.
TEST(RedisTier, KilledRedisIsAMissAndARestartedOneComesBack) {
  test::RedisServer server;
  REQUIRE_REDIS(server);
  RedisTierConfig c = config(server);
  c.cooldown_ms = 1500;
  RedisTier tier(c);
  const BlockKey k = key_of(40);
  const KVBlob blob = make_blob(5, 5);
  ASSERT_TRUE(tier.put(k, blob));
  server.kill9();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(tier.get(k).has_value());  // the pooled connection is dead: a counted error
  EXPECT_FALSE(tier.put(k, blob));
  EXPECT_FALSE(tier.get(k).has_value());
  EXPECT_LT(ms_since(t0), 400);
  EXPECT_EQ(tier.stats().errors, 1u);
  EXPECT_EQ(tier.stats().put_failures, 1u);
  ASSERT_TRUE(server.start()) << server.error();
  // Still within the cool-down: no traffic yet, even though Redis is back.
  EXPECT_FALSE(tier.put(k, blob));
  std::this_thread::sleep_for(Ms(1600));
  ASSERT_TRUE(tier.put(k, blob));  // the probe: reconnects
  EXPECT_EQ(tier.get(k), blob);
  EXPECT_EQ(tier.stats().errors, 1u);

  // Down again, and this time the probe after the cool-down fails too: one more error, and the
  // breaker stays open without further waits.
  server.kill9();
  EXPECT_FALSE(tier.get(k).has_value());
  std::this_thread::sleep_for(Ms(1600));
  EXPECT_FALSE(tier.get(k).has_value());
  EXPECT_FALSE(tier.get(k).has_value());
  EXPECT_EQ(tier.stats().errors, 3u);
}

TEST(RedisTier, UnreachableAtStartIsNotAnError) {
  const int port = test::free_loopback_port();
  ASSERT_GT(port, 0);
  RedisTierConfig c;
  c.url = "redis://127.0.0.1:" + std::to_string(port);
  c.cooldown_ms = 60000;
  RedisTier tier(c);  // no throw
  EXPECT_EQ(tier.stats().errors, 1u);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(tier.get(key_of(i)).has_value());
  EXPECT_LT(ms_since(t0), 100);
  EXPECT_EQ(tier.stats().misses, 100u);
  EXPECT_EQ(tier.stats().errors, 1u);
}

TEST(RedisTier, ConcurrentPutsAndGetsFromSeveralThreads) {
  test::RedisServer server;
  REQUIRE_REDIS(server);
  RedisTierConfig c = config(server);
  c.chunk_bytes = 4096;  // half the entries are chunked
  RedisTier tier(c);
  constexpr int kThreads = 8, kKeys = 24;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        const int id = (i + t * 5) % kKeys;  // every key written by several threads
        const KVBlob blob = make_blob(id % 2 == 0 ? 100 : 3, static_cast<uint32_t>(id));
        if (!tier.put(key_of(id), blob)) failed++;
        std::optional<KVBlob> got = tier.get(key_of(id));
        if (!got || *got != blob) wrong++;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  TierStats s = tier.stats();
  EXPECT_EQ(s.puts, static_cast<uint64_t>(kThreads * kKeys));
  EXPECT_EQ(s.hits, static_cast<uint64_t>(kThreads * kKeys));
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.corrupt_dropped, 0u);
}

}  // namespace
}  // namespace blockattn
