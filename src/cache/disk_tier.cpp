#include "cache/disk_tier.h"

#include <dirent.h>
#include <fcntl.h>
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

namespace blockattn {

namespace {

constexpr const char* kEntrySuffix = ".bakv";
constexpr time_t kStaleTempSeconds = 3600;

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// write_file_atomic names its temp files "<path>.tmp.<pid>.<random>"; the probe file follows
// the same pattern so a crash mid-probe is cleaned up the same way.
bool is_temp_name(const std::string& s) { return s.find(".tmp.") != std::string::npos; }

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
  std::string probe = dir + "/.probe.tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) unusable(dir, std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

// Reads the whole open file. False (errno set) on a read error.
bool read_all(int fd, size_t size_hint, std::string* out) {
  out->clear();
  out->reserve(size_hint);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
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
  scan_and_evict("");
}

std::string DiskTier::entry_path(const BlockKey& key) const {
  return config_.dir + "/" + key.hex() + kEntrySuffix;
}

std::optional<KVBlob> DiskTier::get(const BlockKey& key) {
  const std::string path = entry_path(key);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  std::string bytes;
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !read_all(fd.get(), st.st_size, &bytes)) {
    // ENOENT is the ordinary miss; anything else is a tier problem, but still only a miss.
    if (errno != ENOENT) {
      if (!warned_read_.exchange(true))
        BA_WARN("disk cache: cannot read " << errno_message(path) << " (treated as a miss)");
      else
        BA_DEBUG("disk cache: cannot read " << errno_message(path));
    }
    misses_++;
    return std::nullopt;
  }
  try {
    KVBlob blob = decode_entry(bytes, key);
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

void DiskTier::drop_corrupt(const std::string& path, const struct stat& read_st, const std::string& why) {
  // A writer may have renamed a good file over the corrupt one since we opened it: only unlink
  // if the path still names the inode we read.
  struct stat now {};
  if (::stat(path.c_str(), &now) == 0 && now.st_dev == read_st.st_dev && now.st_ino == read_st.st_ino) {
    if (::unlink(path.c_str()) == 0) bytes_used_ -= read_st.st_size;
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
  const int64_t old_size = ::stat(path.c_str(), &old) == 0 ? old.st_size : 0;
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
  const int64_t used = bytes_used_ += static_cast<int64_t>(bytes.size()) - old_size;
  if (used > static_cast<int64_t>(config_.budget_bytes)) scan_and_evict(key.hex() + kEntrySuffix);
  return true;
}

bool DiskTier::contains(const BlockKey& key) {
  struct stat st {};
  return ::stat(entry_path(key).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void DiskTier::scan_and_evict(const std::string& keep_name) {
  std::lock_guard<std::mutex> lock(evict_mu_);
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
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    if (is_temp_name(name)) {
      if (st.st_mtime < stale_before) ::unlinkat(dfd, name.c_str(), 0);
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
