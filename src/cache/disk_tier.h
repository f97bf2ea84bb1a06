// Local-disk byte tier: one file per entry, shared safely by several processes.
//
// Files are `<dir>/<key hex>.bakv` in the kv_blob.h entry format, written with
// write_file_atomic (temp file + fsync + rename), so concurrent writers of one key each produce a
// complete file and readers see the old or the new one, never a partial one. Readers verify
// every entry; a corrupt one is unlinked (only if the path still names the inode that was read,
// so a fresh file renamed in meanwhile is kept).
//
// Only regular files are entries: a path opened as an entry is opened with O_NOFOLLOW |
// O_NONBLOCK, so a symlink (e.g. to /dev/zero) or a FIFO is neither followed nor waited on; it is
// a corrupt entry (removed -- a directory only when empty -- and counted). A reader reads the
// 80-byte header first and then at most the size that header claims (and never more than the
// budget), so a corrupt size costs nothing to reject.
//
// Size: a hit refreshes the file's mtime, making mtime a cross-process LRU clock. The budget is
// held across processes: `<dir>/.usage` holds the directory's byte count, updated under
// flock(LOCK_EX) on that file by every put and removal of every process (exact scan at
// construction). When a put takes the count over the budget, one pass (under the same lock)
// scans the directory, deletes the oldest-mtime entries until the total is at most 90% of the
// budget (never the entry just written) and rewrites the count. The same pass removes temp files
// (`*.tmp.<pid>.*`) whose writer process is gone, or older than an hour (a writer on another
// host). Files another process deletes meanwhile are simply skipped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include <sys/stat.h>

#include "cache/byte_tier.h"

namespace blockattn {

struct DiskTierConfig {
  std::string dir;
  uint64_t budget_bytes = 20ull << 30;
  // TEST-ONLY seam for I/O failure. If set, it is called with the final entry path right before
  // each entry write; an IoError thrown from it makes that put fail exactly as a failing write
  // (e.g. ENOSPC) would. Production code leaves it empty.
  std::function<void(const std::string& path)> write_hook;
};

class DiskTier : public ByteTier {
 public:
  // Creates `dir` (mkdir -p) and probes that a file can be created in it; throws IoError
  // "cache directory <dir> is not usable: <reason>" otherwise. Then scans the directory to
  // initialise bytes_used (evicting if it is already over budget).
  explicit DiskTier(DiskTierConfig config);
  ~DiskTier() override;
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  std::optional<KVBlob> get(const BlockKey& key) override;
  bool put(const BlockKey& key, const KVBlob& blob) override;
  bool contains(const BlockKey& key) override;
  std::string describe() const override;
  std::string name() const override { return "disk"; }
  TierStats stats() const override;

  std::string entry_path(const BlockKey& key) const;  // "<dir>/<hex>.bakv"
  const std::string& dir() const { return config_.dir; }

 private:
  // Scans the directory: removes stale temp files, re-syncs bytes_used and, if over budget,
  // evicts LRU entries (sparing `keep_name`) down to 90% of the budget.
  void scan_and_evict(const std::string& keep_name);
  // Adds `delta` to the directory's shared byte count (under the lock file) and evicts when the
  // count is over budget, sparing `keep_name` (empty: never evicts, e.g. after a removal).
  void add_usage(int64_t delta, const std::string& keep_name);
  void drop_corrupt(const std::string& path, const struct stat& read_st, const std::string& why);

  DiskTierConfig config_;
  int usage_fd_ = -1;    // <dir>/.usage: the shared byte count, and the flock for updating it
  std::mutex evict_mu_;  // one eviction pass at a time per instance
  std::atomic<int64_t> bytes_used_{0};
  std::atomic<uint64_t> hits_{0}, misses_{0}, puts_{0}, put_failures_{0}, corrupt_dropped_{0},
      evictions_{0};
  // Each kind of trouble is warned about once per tier; repeats go to the debug log so a full
  // disk does not flood stderr on every block.
  std::atomic<bool> warned_put_{false}, warned_read_{false}, warned_corrupt_{false};
};

// "512 B", "1.5 KiB", "1.2 GiB", "20 GiB": one decimal, dropped when it is 0.
std::string format_bytes(uint64_t n);

}  // namespace blockattn
