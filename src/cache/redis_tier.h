// Redis byte tier: block KV entries in a Redis shared by several engines, servers and machines.
//
// Values. A block's value is exactly its kv_blob.h entry (encode_entry), stored under
// `<prefix><key hex>`. An entry larger than chunk_bytes (an 8B model's 500-token block is about
// 65 MB) is split: its bytes go to chunk keys `<prefix><key hex>:<generation>:<i>` and the main
// key holds a small manifest naming the generation, the chunk count and the total size (layout
// in redis_tier.cpp). put() writes every chunk first and the manifest last, so a manifest is
// never visible before its chunks; the generation is random per put, so two processes writing
// the same key at once never mix their chunks. The TTL (if any) is set on every part as it is
// written, so chunks expire just before their manifest; a manifest whose chunks expired or were
// evicted by Redis' maxmemory policy reads as a miss and is deleted. A manifest overwritten by a
// racing writer leaves the loser's chunks behind until their TTL (without a TTL: until Redis
// evicts them or the namespace is flushed) -- rare, since blocks are written once per content.
//
// Failure is a miss. get() verifies the reassembled entry with decode_entry; a missing, partial
// or corrupt value returns nullopt. A corrupt value (and, when chunked, its chunks) is deleted,
// only if the main key still holds the bytes that were read (compare-and-delete in one Lua
// script), so a good value written meanwhile by another process is kept.
//
// Network failures and the circuit breaker. Connection refused or lost, a timeout or an error
// reply makes get() a miss and put() false; each is counted in `errors` and opens the breaker:
// for cooldown_ms every call returns at once without touching the network. After the cool-down
// exactly one caller probes (reconnects); success closes the breaker, failure opens it for
// another cool-down. So a dead or blackholed Redis costs one timeout per cool-down, not one per
// block. The first failure of an outage is a warning, the recovery an info line; repeats go to
// the debug log.
//
// Timeouts. connect_timeout_ms bounds connecting (and AUTH/SELECT); command_timeout_ms bounds
// each socket read or write (SO_RCVTIMEO/SO_SNDTIMEO), not a whole transfer, so a 65 MB value
// on a slow but live link completes while a stalled one fails within the timeout.
//
// Threads. A small pool of connections: each call borrows one (connecting if none is idle) and
// returns it, so concurrent transfers run in parallel on their own sockets. At most
// `max_idle_connections` idle connections are kept; after a failure every idle connection is
// closed (they likely share the failure).
//
// Size. Redis enforces its own memory limit (maxmemory and its eviction policy); this tier does
// not track or evict bytes, so stats().bytes_used and evictions are 0.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cache/byte_tier.h"

struct redisContext;

namespace blockattn {

// A parsed "redis://[[user]:password@]host[:port][/db]" (or bare "host[:port]").
struct RedisAddress {
  std::string host;  // a name, an IPv4 address, or an IPv6 address (given in [brackets])
  int port = 6379;
  int db = 0;
  std::string user;             // empty: AUTH with the password only (Redis < 6 style)
  std::string password;         // empty: no AUTH
  std::string display() const;  // "host:port/db" -- never the password
};

// Throws InputError "bad Redis URL \"...\": <reason> (expected
// redis://[[user]:password@]host[:port][/db])".
RedisAddress parse_redis_url(const std::string& url);

struct RedisTierConfig {
  std::string url = "redis://127.0.0.1:6379/0";
  std::string key_prefix = "blockattn:";  // namespace of every key this tier writes
  uint32_t connect_timeout_ms = 200;      // > 0
  uint32_t command_timeout_ms = 1000;     // > 0; per socket read/write
  uint32_t ttl_seconds = 0;               // expiry of each written entry; 0 = none
  uint32_t cooldown_ms = 2000;            // breaker open time after a failure
  uint64_t chunk_bytes = 16ull << 20;     // >= 1024; larger entries are chunked
  uint32_t max_idle_connections = 8;      // connections kept open between calls
};

class RedisTier : public ByteTier {
 public:
  // Parses the URL (InputError on a bad one; also on a zero timeout or a chunk size < 1 KiB) and
  // tries one connection. An unreachable Redis is not an error: it is warned about, counted in
  // `errors`, and the breaker opens as after any failure.
  explicit RedisTier(RedisTierConfig config);
  ~RedisTier() override;
  RedisTier(const RedisTier&) = delete;
  RedisTier& operator=(const RedisTier&) = delete;

  std::optional<KVBlob> get(const BlockKey& key) override;
  bool put(const BlockKey& key, const KVBlob& blob) override;
  bool contains(const BlockKey& key) override;
  // "redis 127.0.0.1:6379/0 (prefix blockattn:, ttl none, up)"; "down" while the breaker is open.
  std::string describe() const override;
  std::string name() const override { return "redis"; }
  TierStats stats() const override;

  std::string value_key(const BlockKey& key) const;  // "<prefix><32 hex digits>"
  const RedisAddress& address() const { return address_; }

 private:
  class Lease;  // a borrowed connection, returned to the pool (or closed) at scope end

  // The breaker. admit(): kNo while open (the caller gives up at once); kYes when closed;
  // kProbe for the one caller that may try after the cool-down. A call that touched the network
  // reports succeeded(how) (Redis answered; closes the breaker after a probe) or failed(what).
  enum class Admit { kNo, kYes, kProbe };
  Admit admit();
  void succeeded(Admit how);
  void failed(const std::string& what);

  redisContext* connect(std::string* error);  // a new connection, AUTH and SELECT done
  redisContext* borrow(std::string* error);   // an idle connection or a new one
  void give_back(redisContext* c, bool healthy);
  void close_idle();

  // Reads and verifies the entry of `key` (single value, or manifest and chunks). main_value:
  // the main key's bytes as read (for compare-and-delete); why: what was wrong.
  enum class Read { kHit, kAbsent, kCorrupt, kReplyError, kNetwork };
  Read read_entry(redisContext* c, const BlockKey& key, KVBlob* out, std::string* main_value,
                  std::string* why);
  void drop_corrupt(redisContext* c, const BlockKey& key, const std::string& main_value,
                    const std::string& why);

  const RedisTierConfig config_;
  const RedisAddress address_;

  std::mutex pool_mu_;
  std::vector<redisContext*> idle_;

  // Breaker state. open_until_ns_ (steady clock): 0 when closed.
  std::atomic<int64_t> open_until_ns_{0};
  std::atomic<bool> probing_{false};
  std::atomic<bool> down_{false};  // an outage was warned about and not yet recovered from

  std::atomic<uint64_t> hits_{0}, misses_{0}, puts_{0}, put_failures_{0}, corrupt_dropped_{0},
      errors_{0};
  std::atomic<bool> warned_corrupt_{false}, warned_refused_{false};
};

}  // namespace blockattn
