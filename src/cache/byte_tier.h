// Interface of a byte-level KV cache tier (local disk, Redis).
//
// The engine keeps decoded tensors in device memory (LruIndex) and falls back to an ordered list
// of ByteTier*s. Everything a tier-specific caller would need -- paths, connections, budgets --
// goes into the concrete tier's constructor, so adding a tier changes no caller.
//
// Contract for every implementation:
//   * A tier is a cache, never the source of truth: any failure degrades to a miss.
//   * get() verifies the entry (decode_entry) and never returns a corrupt one; a corrupt entry is
//     dropped, counted in corrupt_dropped, and get() returns nullopt.
//   * put() returns false on failure (storage full, I/O or network error, entry too large for the
//     tier), counts it in put_failures and warns through the log; it never throws for I/O.
//     (It may throw InputError for a blob whose payload does not match its shape: a caller bug.)
//   * All methods may be called concurrently from several threads, and several processes may
//     share the same backing store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cache/block_key.h"
#include "cache/kv_blob.h"

namespace blockattn {

struct TierStats {
  uint64_t hits = 0;             // get() returned an entry
  uint64_t misses = 0;           // get() returned nullopt (absent, unreadable or corrupt)
  uint64_t puts = 0;             // successful put()s
  uint64_t put_failures = 0;     // put() returned false
  uint64_t corrupt_dropped = 0;  // entries found corrupt and removed
  uint64_t evictions = 0;        // entries this instance removed to stay within budget
  uint64_t bytes_used = 0;       // approximate bytes held by the tier (0: not tracked)
  uint64_t errors = 0;           // backend failures (network, timeouts, error replies); each
                                 // also counts as a miss or a put failure
};

class ByteTier {
 public:
  virtual ~ByteTier() = default;
  virtual std::optional<KVBlob> get(const BlockKey& key) = 0;
  virtual bool put(const BlockKey& key, const KVBlob& blob) = 0;
  // Cheap existence check; does not verify the entry and does not count as a hit or miss.
  virtual bool contains(const BlockKey& key) = 0;
  // One line for logs and `--verbose`: "disk /path (1.2 GiB / 20 GiB)".
  virtual std::string describe() const = 0;
  // Short lower-case label for metrics and per-block reports: "disk", "redis".
  virtual std::string name() const = 0;
  virtual TierStats stats() const = 0;
};

}  // namespace blockattn
