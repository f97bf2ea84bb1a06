// Local-disk byte tier (src/cache/disk_tier.h).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "cache/disk_tier.h"
#include "core/io.h"
#include "test_util.h"

namespace blockattn {
namespace {

namespace fs = std::filesystem;

BlockKey key_of(int32_t tok) { return make_block_key({"fp", 0, 0, DType::kBF16, &tok, 1}); }

KVBlob make_blob(uint32_t n_tok, uint32_t seed) {
  KVBlob b;
  b.shape = KVShape{DType::kBF16, 2, 2, n_tok, 16};
  b.payload.resize(2 * b.shape.tensor_bytes());
  std::mt19937 rng(seed);
  for (char& c : b.payload) c = static_cast<char>(rng());
  return b;
}

DiskTierConfig config(std::string dir, uint64_t budget = 20ull << 30) {
  DiskTierConfig c;
  c.dir = std::move(dir);
  c.budget_bytes = budget;
  return c;
}

uint64_t entry_size(const KVBlob& b) { return kKVEntryHeaderSize + b.payload.size(); }

// The directory's files other than the shared size file ".usage".
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != ".usage") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void set_mtime(const std::string& path, time_t sec) {
  struct timespec ts[2] = {{sec, 0}, {sec, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, 0), 0) << path;
}

time_t mtime_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mtime;
}

TEST(DiskTier, PutGetRoundTrip) {
  test::TempDir tmp;
  DiskTier tier(config(tmp / "cache"));
  const KVBlob blob = make_blob(5, 1);
  EXPECT_FALSE(tier.get(key_of(1)).has_value());
  EXPECT_FALSE(tier.contains(key_of(1)));
  ASSERT_TRUE(tier.put(key_of(1), blob));
  EXPECT_TRUE(tier.contains(key_of(1)));
  EXPECT_EQ(tier.entry_path(key_of(1)), tmp / "cache/" + key_of(1).hex() + ".bakv");
  EXPECT_EQ(list_dir(tmp / "cache"), std::vector<std::string>{key_of(1).hex() + ".bakv"});
  std::optional<KVBlob> got = tier.get(key_of(1));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, blob);
  TierStats s = tier.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.puts, 1u);
  EXPECT_EQ(s.put_failures, 0u);
  EXPECT_EQ(s.bytes_used, entry_size(blob));

  // Overwriting a key does not double-count its bytes.
  ASSERT_TRUE(tier.put(key_of(1), blob));
  EXPECT_EQ(tier.stats().bytes_used, entry_size(blob));
  EXPECT_EQ(tier.describe().rfind("disk " + tmp / "cache" + " (", 0), 0u) << tier.describe();
  EXPECT_NE(tier.describe().find(" / 20 GiB)"), std::string::npos) << tier.describe();
}

TEST(DiskTier, PersistsAcrossInstances) {
  test::TempDir tmp;
  const KVBlob a = make_blob(3, 1), b = make_blob(4, 2);
  {
    DiskTier first(config(tmp.path()));
    ASSERT_TRUE(first.put(key_of(1), a));
    ASSERT_TRUE(first.put(key_of(2), b));
  }
  DiskTier second(config(tmp.path() + "/"));
  EXPECT_EQ(second.stats().bytes_used, entry_size(a) + entry_size(b));  // scanned at startup
  EXPECT_EQ(second.get(key_of(1)), a);
  EXPECT_EQ(second.get(key_of(2)), b);
  EXPECT_FALSE(second.get(key_of(3)).has_value());
}

TEST(DiskTier, HitRefreshesMtime) {
  test::TempDir tmp;
  DiskTier tier(config(tmp.path()));
  ASSERT_TRUE(tier.put(key_of(1), make_blob(2, 1)));
  const std::string path = tier.entry_path(key_of(1));
  set_mtime(path, 1000);
  ASSERT_TRUE(tier.get(key_of(1)).has_value());
  EXPECT_GT(mtime_of(path), ::time(nullptr) - 60);
}

TEST(DiskTier, CorruptFileIsDroppedAndTheKeyIsUsableAgain) {
  test::TempDir tmp;
  DiskTier tier(config(tmp.path()));
  const KVBlob blob = make_blob(5, 1);
  ASSERT_TRUE(tier.put(key_of(1), blob));
  const std::string path = tier.entry_path(key_of(1));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(kKVEntryHeaderSize + 10));
    f.put('\x7f' ^ blob.payload[10]);
  }
  EXPECT_FALSE(tier.get(key_of(1)).has_value());
  EXPECT_FALSE(file_exists(path));
  TierStats s = tier.stats();
  EXPECT_EQ(s.corrupt_dropped, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.bytes_used, 0u);

  ASSERT_TRUE(tier.put(key_of(1), blob));
  EXPECT_EQ(tier.get(key_of(1)), blob);

  // A file that is not an entry at all, and one holding another key's entry, are dropped too.
  write_file_atomic(tier.entry_path(key_of(2)), "garbage");
  EXPECT_FALSE(tier.get(key_of(2)).has_value());
  write_file_atomic(tier.entry_path(key_of(3)), encode_entry(key_of(4), blob));
  EXPECT_FALSE(tier.get(key_of(3)).has_value());
  EXPECT_FALSE(file_exists(tier.entry_path(key_of(2))));
  EXPECT_FALSE(file_exists(tier.entry_path(key_of(3))));
  EXPECT_EQ(tier.stats().corrupt_dropped, 3u);
}

TEST(DiskTier, EvictsLeastRecentlyUsedByMtime) {
  test::TempDir tmp;
  const KVBlob blob = make_blob(8, 1);
  const uint64_t s = entry_size(blob);
  // Four entries fit; a fifth takes it over budget and the pass trims to <= 90% (3.78 entries).
  DiskTier tier(config(tmp.path(), 42 * s / 10));
  for (int k : {1, 2, 3, 4}) ASSERT_TRUE(tier.put(key_of(k), make_blob(8, k)));
  EXPECT_EQ(tier.stats().evictions, 0u);
  EXPECT_EQ(tier.stats().bytes_used, 4 * s);
  set_mtime(tier.entry_path(key_of(1)), 1000);
  set_mtime(tier.entry_path(key_of(2)), 4000);
  set_mtime(tier.entry_path(key_of(3)), 2000);
  set_mtime(tier.entry_path(key_of(4)), 3000);
  ASSERT_TRUE(tier.get(key_of(1)).has_value());  // 1 becomes the most recent
  ASSERT_TRUE(tier.put(key_of(5), make_blob(8, 5)));
  // Oldest first: 3 (t=2000), then 4 (t=3000); 2 (t=4000) survives because 3 entries fit.
  EXPECT_FALSE(tier.contains(key_of(3)));
  EXPECT_FALSE(tier.contains(key_of(4)));
  EXPECT_TRUE(tier.contains(key_of(1)));
  EXPECT_TRUE(tier.contains(key_of(2)));
  EXPECT_TRUE(tier.contains(key_of(5)));
  TierStats st = tier.stats();
  EXPECT_EQ(st.evictions, 2u);
  EXPECT_EQ(st.bytes_used, 3 * s);
  EXPECT_EQ(list_dir(tmp.path()).size(), 3u);
}

TEST(DiskTier, NewEntryIsNeverEvictedByItsOwnPut) {
  test::TempDir tmp;
  const KVBlob small = make_blob(1, 1), big = make_blob(16, 2);
  // big alone is > 90% of the budget but fits in it.
  DiskTier tier(config(tmp.path(), entry_size(big) + entry_size(big) / 20));
  ASSERT_TRUE(tier.put(key_of(1), small));
  ASSERT_TRUE(tier.put(key_of(2), big));
  EXPECT_FALSE(tier.contains(key_of(1)));
  EXPECT_EQ(tier.get(key_of(2)), big);
}

TEST(DiskTier, StartupOverBudgetEvicts) {
  test::TempDir tmp;
  const uint64_t s = entry_size(make_blob(8, 0));
  {
    DiskTier big(config(tmp.path()));
    for (int k : {1, 2, 3}) ASSERT_TRUE(big.put(key_of(k), make_blob(8, k)));
    for (int k : {1, 2, 3}) set_mtime(big.entry_path(key_of(k)), 1000 * k);
  }
  DiskTier small(config(tmp.path(), 2 * s));
  EXPECT_EQ(small.stats().bytes_used, s);  // trimmed to <= 1.8 entries
  EXPECT_TRUE(small.contains(key_of(3)));
}

TEST(DiskTier, EntryLargerThanTheBudgetIsNotStored) {
  test::TempDir tmp;
  const KVBlob blob = make_blob(8, 1);
  DiskTier tier(config(tmp.path(), entry_size(blob) - 1));
  EXPECT_FALSE(tier.put(key_of(1), blob));
  EXPECT_EQ(tier.stats().put_failures, 1u);
  EXPECT_EQ(tier.stats().puts, 0u);
  EXPECT_TRUE(list_dir(tmp.path()).empty());
}

TEST(DiskTier, StaleTempFilesAreCleanedFreshOnesKept) {
  test::TempDir tmp;
  const std::string stale = tmp / (key_of(1).hex() + ".bakv.tmp.123.456");
  // A live writer's (this process's) temp file is kept however it is named after.
  const std::string fresh =
      tmp / (key_of(2).hex() + ".bakv.tmp." + std::to_string(::getpid()) + ".789");
  write_file_atomic(stale, "partial");
  write_file_atomic(fresh, "in progress");
  set_mtime(stale, ::time(nullptr) - 2 * 3600);
  DiskTier tier(config(tmp.path()));
  EXPECT_FALSE(file_exists(stale));
  EXPECT_TRUE(file_exists(fresh));
  EXPECT_EQ(tier.stats().bytes_used, 0u);  // temp files are not entries
}

TEST(DiskTier, CreatesMissingParents) {
  test::TempDir tmp;
  DiskTier tier(config(tmp / "a/b/c"));
  EXPECT_TRUE(is_directory(tmp / "a/b/c"));
  EXPECT_TRUE(list_dir(tmp / "a/b/c").empty());  // the writability probe left nothing behind
}

TEST(DiskTier, UnusableDirectoryIsAClearIoError) {
  test::TempDir tmp;
  write_file_atomic(tmp / "file", "x");
  for (const std::string& dir : {tmp / "file/cache", tmp / "file"}) {
    try {
      DiskTier tier(config(dir));
      ADD_FAILURE() << "no IoError for " << dir;
    } catch (const IoError& e) {
      EXPECT_EQ(std::string(e.what()),
                "cache directory " + dir + " is not usable: Not a directory");
    }
  }
  EXPECT_THROW(DiskTier(config("")), IoError);
}

TEST(DiskTier, WriteFailureThroughTheSeamIsAFalsePut) {
  test::TempDir tmp;
  DiskTierConfig cfg = config(tmp.path());
  int calls = 0;
  cfg.write_hook = [&](const std::string& path) {
    ++calls;
    throw IoError("cannot write " + path + ": No space left on device");
  };
  DiskTier tier(cfg);
  bool ok = true;
  EXPECT_NO_THROW(ok = tier.put(key_of(1), make_blob(4, 1)));
  EXPECT_FALSE(ok);
  EXPECT_FALSE(tier.put(key_of(2), make_blob(4, 2)));
  EXPECT_EQ(calls, 2);
  TierStats s = tier.stats();
  EXPECT_EQ(s.put_failures, 2u);
  EXPECT_EQ(s.puts, 0u);
  EXPECT_EQ(s.bytes_used, 0u);
  EXPECT_TRUE(list_dir(tmp.path()).empty());
  EXPECT_FALSE(tier.get(key_of(1)).has_value());
}

// A real mid-write failure from the kernel, as root and without mounting anything: a file-size
// rlimit makes write(2) fail with EFBIG part-way through the temp file, exercising the same path
// as ENOSPC (write error -> temp file removed -> IoError -> put false). Done in a child process
// so the limit cannot leak into other tests.
TEST(DiskTier, RealWriteFailureLeavesNoTempFile) {
  test::TempDir tmp;
  DiskTier tier(config(tmp.path()));
  const KVBlob blob = make_blob(64, 1);  // 16 KiB payload, well over the limit below
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl {};
    ::getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 4096;
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(10);
    try {
      if (tier.put(key_of(1), blob))
        code = 11;
      else if (tier.stats().put_failures != 1)
        code = 12;
      else if (!list_dir(tmp.path()).empty())
        code = 13;
    } catch (...) {
      code = 14;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 setrlimit, 11 put succeeded, 12 not counted, 13 files left, 14 threw";
  EXPECT_TRUE(list_dir(tmp.path()).empty());
}

// Two processes rewrite one key 200 times each while this process reads it: every read is a
// complete entry equal to one that was written, and the directory ends with one file.
TEST(DiskTier, TwoProcessesWritingOneKeyNeverExposePartialEntries) {
  test::TempDir tmp;
  const std::string dir = tmp / "shared";
  DiskTier reader(config(dir));
  const BlockKey key = key_of(42);
  // Different sizes, so a torn read would also show up as a length mismatch.
  const std::vector<KVBlob> blobs = {make_blob(200, 1), make_blob(201, 2), make_blob(202, 3),
                                     make_blob(203, 4)};
  constexpr int kPuts = 200;
  std::vector<pid_t> pids;
  for (int w = 0; w < 2; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      try {
        DiskTier writer(config(dir));
        for (int i = 0; i < kPuts; ++i)
          if (!writer.put(key, blobs[2 * w + i % 2])) ++failures;
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    pids.push_back(pid);
  }
  int reads = 0, found = 0, wrong = 0;
  auto check = [&](const std::optional<KVBlob>& got) {
    ++reads;
    if (!got) return;
    ++found;
    if (std::find(blobs.begin(), blobs.end(), *got) == blobs.end()) ++wrong;
  };
  size_t running = pids.size();
  std::vector<int> statuses(pids.size(), -1);
  while (running > 0) {
    check(reader.get(key));
    for (size_t i = 0; i < pids.size(); ++i) {
      if (statuses[i] != -1) continue;
      int st = 0;
      if (::waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        statuses[i] = st;
        --running;
      }
    }
  }
  for (int st : statuses) {
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "writer status " << st;
  }
  std::optional<KVBlob> last = reader.get(key);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(*last == blobs[1] || *last == blobs[3]) << "final entry is not a writer's last put";
  EXPECT_EQ(wrong, 0) << "of " << found << " successful reads";
  EXPECT_GT(found, 0) << "reader never saw the entry in " << reads << " reads";
  EXPECT_EQ(reader.stats().corrupt_dropped, 0u);
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{key.hex() + ".bakv"});
  std::printf("[          ] %d reads during the writes, %d found the entry\n", reads, found);
}

// Runs `body` in a child process with an alarm, so a hang (or a crash) is a failed test rather
// than a stuck suite. Returns the child's exit code, or 100 + signal number.
template <typename F>
int in_child(F body, unsigned seconds = 20) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::alarm(seconds);
    int code = 99;
    try {
      code = body();
    } catch (...) {
      code = 98;
    }
    ::_exit(code);
  }
  int st = 0;
  if (::waitpid(pid, &st, 0) != pid) return -2;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

uint64_t entries_bytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".bakv") total += e.file_size();
  return total;
}

// Issue 13 item 5: a FIFO named like an entry used to block open() forever.
TEST(DiskTier, FifoInPlaceOfAnEntryIsAMissNotAHang) {
  test::TempDir tmp;
  DiskTier tier(config(tmp.path()));
  const std::string path = tier.entry_path(key_of(1));
  ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
  EXPECT_EQ(in_child([&] {
              if (tier.get(key_of(1)).has_value()) return 1;
              if (tier.stats().corrupt_dropped != 1 || tier.stats().misses != 1) return 2;
              struct stat st {};
              if (::lstat(path.c_str(), &st) == 0) return 3;  // the FIFO was removed
              return tier.put(key_of(1), make_blob(3, 1)) && tier.get(key_of(1)).has_value() ? 0
                                                                                             : 4;
            }),
            0)
      << "1 hit, 2 not counted, 3 FIFO kept, 4 no repair, 114 hung (alarm)";
}

// Issue 13 item 5: a symlink to /dev/zero used to be followed and read without limit.
TEST(DiskTier, SymlinkInPlaceOfAnEntryIsNotFollowed) {
  test::TempDir tmp;
  DiskTier tier(config(tmp.path()));
  const std::string path = tier.entry_path(key_of(1));
  ASSERT_EQ(::symlink("/dev/zero", path.c_str()), 0);
  EXPECT_FALSE(tier.contains(key_of(1)));
  EXPECT_EQ(in_child([&] {
              if (tier.get(key_of(1)).has_value()) return 1;
              if (tier.stats().corrupt_dropped != 1) return 2;
              struct stat st {};
              if (::lstat(path.c_str(), &st) == 0) return 3;
              return 0;
            }),
            0)
      << "1 hit, 2 not counted, 3 link kept, 114 hung (alarm), 106 abort (bad_alloc)";
  // A symlink to a valid entry is refused too: only regular files in the directory are entries.
  const std::string real = tmp / "elsewhere.bakv.src";
  write_file_atomic(real, encode_entry(key_of(2), make_blob(3, 2)));
  ASSERT_EQ(::symlink(real.c_str(), tier.entry_path(key_of(2)).c_str()), 0);
  EXPECT_FALSE(tier.get(key_of(2)).has_value());
  EXPECT_TRUE(file_exists(real));
  EXPECT_EQ(tier.stats().corrupt_dropped, 1u);  // the child's count stayed in the child
}

// Issue 13 item 5: a directory in an entry's place was recomputed around but never repaired.
TEST(DiskTier, DirectoryInPlaceOfAnEntryIsRemovedSoThePutCanWrite) {
  test::TempDir tmp;
  DiskTier tier(config(tmp.path()));
  const std::string path = tier.entry_path(key_of(1));
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
  const KVBlob blob = make_blob(4, 1);
  EXPECT_FALSE(tier.get(key_of(1)).has_value());
  EXPECT_EQ(tier.stats().corrupt_dropped, 1u);
  EXPECT_FALSE(is_directory(path));
  ASSERT_TRUE(tier.put(key_of(1), blob));
  EXPECT_EQ(tier.get(key_of(1)), blob);
  // A non-empty directory is not ours to delete: still a miss, counted, left in place.
  const std::string other = tier.entry_path(key_of(2));
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  write_file_atomic(other + "/user-file", "x");
  EXPECT_FALSE(tier.get(key_of(2)).has_value());
  EXPECT_EQ(tier.stats().corrupt_dropped, 2u);
  EXPECT_TRUE(file_exists(other + "/user-file"));
}

// Issue 13 item 5: an entry file is read only as far as its header allows. A valid entry
// extended to a 1 GiB sparse file used to be read (and held) whole before being rejected.
TEST(DiskTier, OversizedFileIsRejectedFromItsHeaderWithoutReadingIt) {
  test::TempDir tmp;
  DiskTier tier(config(tmp.path()));
  ASSERT_TRUE(tier.put(key_of(1), make_blob(4, 1)));
  const std::string path = tier.entry_path(key_of(1));
  ASSERT_EQ(::truncate(path.c_str(), 1ll << 30), 0);
  EXPECT_EQ(in_child([&] {
              struct rusage before {
              }, after{};
              ::getrusage(RUSAGE_SELF, &before);
              if (tier.get(key_of(1)).has_value()) return 1;
              ::getrusage(RUSAGE_SELF, &after);
              if (tier.stats().corrupt_dropped != 1) return 2;
              if (after.ru_maxrss - before.ru_maxrss > 64 * 1024) return 3;  // KiB
              return file_exists(path) ? 4 : 0;
            }),
            0)
      << "1 hit, 2 not counted, 3 read the whole file, 4 not removed";
}

// Issue 13 item 6: a killed writer's temp file used to stay for an hour.
TEST(DiskTier, TempFilesOfDeadWritersAreRemovedAtStartup) {
  test::TempDir tmp;
  pid_t dead = ::fork();
  ASSERT_GE(dead, 0);
  if (dead == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  const std::string orphan = tmp / (key_of(1).hex() + ".bakv.tmp." + std::to_string(dead) + ".42");
  const std::string live =
      tmp / (key_of(2).hex() + ".bakv.tmp." + std::to_string(::getpid()) + ".42");
  write_file_atomic(orphan, std::string(1 << 20, 'x'));
  write_file_atomic(live, "in progress");
  DiskTier tier(config(tmp.path()));
  EXPECT_FALSE(file_exists(orphan));
  EXPECT_TRUE(file_exists(live));
}

// Issue 13 item 6: four writers used to take a 60 MiB directory to 174 MB, each process counting
// only its own puts. Four processes each put 9 distinct entries into a 10-entry budget: the
// directory ends within the budget plus one entry, and every entry left is valid.
TEST(DiskTier, BudgetIsHeldAcrossProcesses) {
  test::TempDir tmp;
  const std::string dir = tmp / "shared";
  const uint64_t s = entry_size(make_blob(16, 0));
  const uint64_t budget = 10 * s;
  { DiskTier init(config(dir, budget)); }
  std::vector<pid_t> pids;
  for (int w = 0; w < 4; ++w) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int bad = 0;
      try {
        DiskTier writer(config(dir, budget));
        for (int i = 0; i < 9; ++i)
          if (!writer.put(key_of(100 * w + i), make_blob(16, 100 * w + i))) ++bad;
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(bad == 0 ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "writer status " << st;
  }
  const uint64_t used = entries_bytes(dir);
  EXPECT_LE(used, budget + s) << used / s << " entries of a " << budget / s << "-entry budget";
  DiskTier reader(config(dir, budget));
  int valid = 0;
  for (int w = 0; w < 4; ++w)
    for (int i = 0; i < 9; ++i)
      if (std::optional<KVBlob> b = reader.get(key_of(100 * w + i))) {
        EXPECT_EQ(*b, make_blob(16, 100 * w + i));
        ++valid;
      }
  EXPECT_EQ(reader.stats().corrupt_dropped, 0u);
  EXPECT_EQ(static_cast<uint64_t>(valid) * s, used);
  EXPECT_GT(valid, 0);
}

// Crash safety (issue 13): writers killed with SIGKILL at random moments, 25 times, while they
// put and evict entries of a small shared directory. Afterwards every entry is absent or exactly
// what was written for its key (none is corrupt), the killed writers' temp files are gone once a
// tier is opened, and the shared size count agrees with the directory.
TEST(DiskTier, KillNineDuringWritesLeavesOnlyValidEntries) {
  test::TempDir tmp;
  const std::string dir = tmp / "cache";
  auto blob_for = [](int k) { return make_blob(32 + k % 7, 1000 + k); };
  const uint64_t budget = 24 * entry_size(blob_for(6));
  { DiskTier init(config(dir, budget)); }
  std::mt19937 rng(13);
  int kills = 0;
  for (int round = 0; round < 25; ++round) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      DiskTier w(config(dir, budget));
      for (int i = round;; ++i) w.put(key_of(i % 48), blob_for(i % 48));
    }
    ::usleep(std::uniform_int_distribution<int>(1000, 40000)(rng));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) ++kills;
  }
  EXPECT_GE(kills, 20);
  DiskTier reader(config(dir, budget));
  for (const std::string& name : list_dir(dir))
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << "left behind: " << name;
  int present = 0;
  for (int k = 0; k < 48; ++k)
    if (std::optional<KVBlob> b = reader.get(key_of(k))) {
      EXPECT_EQ(*b, blob_for(k)) << "key " << k;
      ++present;
    }
  EXPECT_EQ(reader.stats().corrupt_dropped, 0u);
  EXPECT_GT(present, 0);
  EXPECT_LE(entries_bytes(dir), budget + entry_size(blob_for(6)));
  std::printf("[          ] %d kills, %d of 48 entries present afterwards\n", kills, present);
}

TEST(DiskTier, FormatBytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1024), "1 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(20ull << 30), "20 GiB");
  EXPECT_EQ(format_bytes(static_cast<uint64_t>(1.2 * (1ull << 30))), "1.2 GiB");
}

}  // namespace
}  // namespace blockattn
