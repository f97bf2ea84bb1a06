#include "cache/disk_tier.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "blockattn/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/strings.h"

namespace blockattn {

namespace {

constexpr const char* kEntrySuffix = ".bakv";
constexpr time_t kStaleTempSeconds = 3600;
// The directory's byte count shared by every process using it (8 bytes, little-endian int64),
// read and updated under flock(LOCK_EX) on the same file.
constexpr const char* kUsageFile = ".usage";

// write_file_atomic names its temp files "<path>.tmp.<pid>.<random>"; the probe file follows
// the same pattern so a crash mid-probe is cleaned up the same way.
bool is_temp_name(const std::string& s) { return s.find(".tmp.") != std::string::npos; }

// True if `name` is a temp file "<...>.tmp.<pid>.<random>" whose writer process no longer
// exists on this host. A name without a parsable pid is left to the age rule.
bool temp_writer_is_dead(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos) return false;
  const char* p = name.c_str() + at + 5;
  long long pid = 0;
  int digits = 0;
  for (; *p >= '0' && *p <= '9' && digits < 10; ++p, ++digits) pid = pid * 10 + (*p - '0');
  if (digits == 0 || *p != '.' || pid <= 0 || pid > 0x3fffffff) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// flock(LOCK_EX) held for the object's lifetime; a no-op on fd < 0.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    if (fd_ >= 0) {
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

// The shared count, or -1 when the file is new or unreadable (the caller then rescans).
int64_t read_usage(int fd) {
  int64_t v = -1;
  if (fd < 0 || ::pread(fd, &v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) return -1;
  return v;
}

void write_usage(int fd, int64_t v) {
  if (fd >= 0 && ::pwrite(fd, &v, sizeof v, 0) != static_cast<ssize_t>(sizeof v))
    BA_DEBUG("disk cache: cannot update the shared size file: " << std::strerror(errno));
}

// Reads exactly n bytes at the current offset into out (appending). False on error or EOF.
bool read_exact(int fd, size_t n, std::string* out) {
  char buf[1 << 16];
  while (n > 0) {
    ssize_t got = ::read(fd, buf, std::min(n, sizeof buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out->append(buf, static_cast<size_t>(got));
    n -= static_cast<size_t>(got);
  }
  return true;
}

// Reads exactly n bytes at `offset` into out, in large calls. False on error or EOF.
bool pread_exact(int fd, char* out, size_t n, off_t offset) {
  constexpr size_t kChunk = size_t{1} << 26;  // 64 MiB: one call for most entries
  while (n > 0) {
    ssize_t got = ::pread(fd, out, std::min(n, kChunk), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    offset += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void unusable(const std::string& dir, const std::string& why) {
  throw IoError("cache directory " + dir + " is not usable: " + why);
}

// mkdir -p. Throws the "not usable" IoError naming the directory and strerror.
void make_dirs(const std::string& dir) {
  for (size_t pos = 1;; ++pos) {
    pos = dir.find('/', pos);
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0) {
      int err = errno;
      if (err != EEXIST) unusable(dir, std::strerror(err));
      if (!is_directory(prefix)) unusable(dir, std::strerror(ENOTDIR));
    }
    if (pos == std::string::npos) return;
  }
}

// Creating and removing a file is the only reliable writability test (root ignores mode bits,
// read-only mounts, quotas...).
void probe_writable(const std::string& dir) {
  std::random_device rd;
  std::string probe =
      dir + "/.probe.tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) unusable(dir, std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace

std::string format_bytes(uint64_t n) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = static_cast<double>(n);
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", v);
    std::string s = buf;
    if (ends_with(s, ".0")) s.resize(s.size() - 2);
    return s + " " + kUnits[u];
  }
  return buf;
}

DiskTier::DiskTier(DiskTierConfig config) : config_(std::move(config)) {
  std::string& dir = config_.dir;
  if (dir.empty()) throw IoError("cache directory is not set (empty path)");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  make_dirs(dir);
  probe_writable(dir);
  const std::string usage = dir + "/" + kUsageFile;
  usage_fd_ = ::open(usage.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (usage_fd_ < 0)
    BA_WARN("disk cache: cannot open " << errno_message(usage)
                                       << "; the budget is then kept per process only");
  scan_and_evict("");
}

DiskTier::~DiskTier() {
  if (usage_fd_ >= 0) ::close(usage_fd_);
}

void DiskTier::add_usage(int64_t delta, const std::string& keep_name) {
  if (usage_fd_ < 0) {
    const int64_t used = bytes_used_ += delta;
    if (used > static_cast<int64_t>(config_.budget_bytes) && !keep_name.empty())
      scan_and_evict(keep_name);
    return;
  }
  bool over = false;
  {
    std::lock_guard<std::mutex> mu(evict_mu_);
    FileLock lock(usage_fd_);
    int64_t used = read_usage(usage_fd_);
    if (used < 0) {
      over = true;  // unknown: rescan
    } else {
      used = std::max<int64_t>(0, used + delta);
      write_usage(usage_fd_, used);
      bytes_used_ = used;
      over = used > static_cast<int64_t>(config_.budget_bytes);
    }
  }
  if (over && !keep_name.empty()) scan_and_evict(keep_name);
}

std::string DiskTier::entry_path(const BlockKey& key) const {
  return config_.dir + "/" + key.hex() + kEntrySuffix;
}

std::optional<KVBlob> DiskTier::get(const BlockKey& key) {
  const std::string path = entry_path(key);
  // O_NOFOLLOW: a symlink (say to /dev/zero) is not followed; O_NONBLOCK: a FIFO does not block
  // open() waiting for a writer. Both are then refused below as not-an-entry.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  struct stat st {};
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ELOOP) {
      struct stat lst {};
      if (::lstat(path.c_str(), &lst) == 0)
        drop_corrupt(path, lst, "a symbolic link, not an entry");
    } else if (err != ENOENT) {
      if (!warned_read_.exchange(true))
        BA_WARN("disk cache: cannot read " << errno_message(path) << " (treated as a miss)");
      else
        BA_DEBUG("disk cache: cannot read " << errno_message(path));
    }
    misses_++;
    return std::nullopt;
  }
  if (::fstat(fd.get(), &st) != 0) {
    BA_DEBUG("disk cache: cannot stat " << errno_message(path));
    misses_++;
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    drop_corrupt(path, st, std::string(file_kind(st.st_mode)) + ", not an entry");
    misses_++;
    return std::nullopt;
  }
  try {
    // Read the header, then at most what it and the budget allow: a corrupt size field or a huge
    // sparse file costs one 80-byte read, not an allocation of its claimed size.
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    std::string bytes;
    if (!read_exact(fd.get(), std::min<uint64_t>(file_size, kKVEntryHeaderSize), &bytes))
      throw FormatError("KV cache entry: cannot read the header (" +
                        std::string(std::strerror(errno)) + ")");
    const uint64_t claimed = entry_size_from_prefix(bytes);
    if (claimed != file_size)
      throw FormatError("KV cache entry: the file has " + std::to_string(file_size) +
                        " bytes but its header claims " + std::to_string(claimed));
    if (claimed > config_.budget_bytes)
      throw FormatError("KV cache entry: " + std::to_string(claimed) +
                        " bytes, more than the whole budget");
    // The rest of the header, then the payload straight into the blob's buffer: one copy from
    // the page cache, none through a staging buffer.
    const uint64_t header_size = entry_header_size(bytes);
    if (bytes.size() < header_size && !read_exact(fd.get(), header_size - bytes.size(), &bytes))
      throw FormatError("KV cache entry: truncated while reading the header");
    std::string payload(claimed - header_size, '\0');
    if (!pread_exact(fd.get(), payload.data(), payload.size(), static_cast<off_t>(header_size)))
      throw FormatError("KV cache entry: truncated while reading");
    KVBlob blob =
        decode_entry(std::string_view(bytes).substr(0, header_size), std::move(payload), key);
    // mtime is the cross-process LRU clock; failing to bump it only makes eviction less exact.
    ::futimens(fd.get(), nullptr);
    hits_++;
    return blob;
  } catch (const FormatError& e) {
    drop_corrupt(path, st, e.what());
    misses_++;
    return std::nullopt;
  }
}

void DiskTier::drop_corrupt(const std::string& path, const struct stat& read_st,
                            const std::string& why) {
  // A writer may have renamed a good file over the corrupt one since we opened it: only remove
  // the path if it still names the inode we looked at. A directory in an entry's place is
  // removed if empty (so the next put can write the entry); a non-empty one is left alone.
  struct stat now {};
  if (::lstat(path.c_str(), &now) == 0 && now.st_dev == read_st.st_dev &&
      now.st_ino == read_st.st_ino) {
    if (S_ISDIR(now.st_mode)) {
      if (::rmdir(path.c_str()) != 0)
        BA_DEBUG("disk cache: cannot remove directory " << errno_message(path));
    } else if (::unlink(path.c_str()) == 0 && S_ISREG(now.st_mode)) {
      add_usage(-static_cast<int64_t>(read_st.st_size), "");
    }
  }
  corrupt_dropped_++;
  if (!warned_corrupt_.exchange(true))
    BA_WARN("disk cache: dropped corrupt entry " << path << ": " << why);
  else
    BA_DEBUG("disk cache: dropped corrupt entry " << path << ": " << why);
}

bool DiskTier::put(const BlockKey& key, const KVBlob& blob) {
  const std::string bytes = encode_entry(key, blob);
  const std::string path = entry_path(key);
  if (bytes.size() > config_.budget_bytes) {
    // Not an error: the tier is just too small for this block.
    BA_DEBUG("disk cache: entry " << key.hex() << " (" << format_bytes(bytes.size())
                                  << ") exceeds the whole budget; not stored");
    put_failures_++;
    return false;
  }
  struct stat old {};
  const int64_t old_size =
      ::lstat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode) ? old.st_size : 0;
  try {
    if (config_.write_hook) config_.write_hook(path);
    write_file_atomic(path, bytes);
  } catch (const IoError& e) {
    put_failures_++;
    if (!warned_put_.exchange(true))
      BA_WARN("disk cache: cannot store block (" << e.what() << "); continuing without caching it");
    else
      BA_DEBUG("disk cache: cannot store block (" << e.what() << ")");
    return false;
  }
  puts_++;
  add_usage(static_cast<int64_t>(bytes.size()) - old_size, key.hex() + kEntrySuffix);
  return true;
}

bool DiskTier::contains(const BlockKey& key) {
  struct stat st {};
  return ::lstat(entry_path(key).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void DiskTier::scan_and_evict(const std::string& keep_name) {
  std::lock_guard<std::mutex> lock(evict_mu_);
  // One pass at a time across processes too, and the shared count is rewritten from the scan.
  FileLock shared(usage_fd_);
  DIR* d = ::opendir(config_.dir.c_str());
  if (d == nullptr) {
    BA_WARN("disk cache: cannot scan " << errno_message(config_.dir));
    return;
  }
  struct Entry {
    struct timespec mtime;
    int64_t size;
    std::string name;
  };
  std::vector<Entry> entries;
  int64_t total = 0;
  const time_t stale_before = ::time(nullptr) - kStaleTempSeconds;
  const int dfd = ::dirfd(d);
  while (struct dirent* de = ::readdir(d)) {
    std::string name = de->d_name;
    struct stat st {};
    // ENOENT here just means another process removed the file after readdir saw it.
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (is_temp_name(name)) {
      // Left by a crashed writer: its process is gone (same host), or it is an hour old.
      if (st.st_mtime < stale_before || temp_writer_is_dead(name)) ::unlinkat(dfd, name.c_str(), 0);
    } else if (ends_with(name, kEntrySuffix)) {
      entries.push_back({st.st_mtim, static_cast<int64_t>(st.st_size), std::move(name)});
      total += st.st_size;
    }
  }
  const int64_t budget = static_cast<int64_t>(config_.budget_bytes);
  if (total > budget) {
    const int64_t target = budget - budget / 10;
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec < b.mtime.tv_sec;
      if (a.mtime.tv_nsec != b.mtime.tv_nsec) return a.mtime.tv_nsec < b.mtime.tv_nsec;
      return a.name < b.name;  // deterministic order for equal mtimes
    });
    for (const Entry& e : entries) {
      if (total <= target) break;
      if (e.name == keep_name) continue;
      if (::unlinkat(dfd, e.name.c_str(), 0) == 0) {
        evictions_++;
        total -= e.size;
      } else if (errno == ENOENT) {
        total -= e.size;  // someone else evicted it
      }
    }
  }
  ::closedir(d);
  bytes_used_ = total;
  write_usage(usage_fd_, total);
}

std::string DiskTier::describe() const {
  return "disk " + config_.dir + " (" + format_bytes(stats().bytes_used) + " / " +
         format_bytes(config_.budget_bytes) + ")";
}

TierStats DiskTier::stats() const {
  TierStats s;
  s.hits = hits_;
  s.misses = misses_;
  s.puts = puts_;
  s.put_failures = put_failures_;
  s.corrupt_dropped = corrupt_dropped_;
  s.evictions = evictions_;
  s.bytes_used = static_cast<uint64_t>(std::max<int64_t>(0, bytes_used_.load()));
  return s;
}

}  // namespace blockattn
