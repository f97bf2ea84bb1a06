#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <vector>

#include "blockattn/dtype.h"
#include "blockattn/error.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/utf8.h"
#include "test_util.h"

namespace blockattn {
namespace {

TEST(Utf8, FindsFirstInvalidByte) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("ab\xff"), 2u);
  EXPECT_EQ(find_invalid_utf8("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xed\xa0\x80"), 1u);     // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ok\xe2\x82"), 2u);        // truncated
  EXPECT_THROW(require_utf8("\xff", "block 1"), InputError);
}

TEST(Utf8, CompletePrefixStopsBeforeSplitCharacter) {
  std::string euro = "\xe2\x82\xac";
  EXPECT_EQ(complete_utf8_prefix("ab" + euro), 5u);
  EXPECT_EQ(complete_utf8_prefix("ab" + euro.substr(0, 2)), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab" + euro.substr(0, 1)), 2u);
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
}

TEST(Hash, FieldsAreLengthPrefixed) {
  Hasher128 a, b;
  a.update_field("ab");
  a.update_field("c");
  b.update_field("a");
  b.update_field("bc");
  EXPECT_NE(a.digest(), b.digest());
  EXPECT_EQ(hash128("x").hex().size(), 32u);
  EXPECT_EQ(hash128("x"), hash128("x"));
}

TEST(Io, AtomicWriteAndZstdRoundTrip) {
  test::TempDir dir;
  write_file_atomic(dir / "a.txt", "hello");
  EXPECT_EQ(read_file(dir / "a.txt"), "hello");
  write_file_atomic(dir / "a.txt", "replaced");
  EXPECT_EQ(read_file(dir / "a.txt"), "replaced");
  EXPECT_THROW(read_file(dir / "missing"), IoError);
  EXPECT_THROW(write_file_atomic(dir / "no/such/dir/x", "y"), IoError);
  EXPECT_THROW(zstd_decompress("not zstd", "x"), FormatError);
  std::string json = read_file_maybe_zstd(test::fixture("tokenizers/qwen3/tokenizer.json.zst"));
  EXPECT_EQ(json.substr(0, 1), "{");
}

int open_fd_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

int failing_fsync(int) {
  errno = EIO;
  return -1;
}

std::vector<bool> g_fsynced_dirs;
int recording_fsync(int fd) {
  struct stat st {};
  g_fsynced_dirs.push_back(::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
  return ::fsync(fd);
}

// Issue 13 item 9: a failing fsync used to skip close() (one descriptor leaked per failure).
TEST(Io, AtomicWriteClosesAndRemovesTheTempFileWhenFsyncFails) {
  test::TempDir dir;
  const int before = open_fd_count();
  set_fsync_for_testing(failing_fsync);
  for (int i = 0; i < 5; ++i) {
    try {
      write_file_atomic(dir / "a.txt", "data");
      ADD_FAILURE() << "no IoError";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot flush"), std::string::npos) << e.what();
    }
  }
  set_fsync_for_testing(nullptr);
  EXPECT_EQ(open_fd_count(), before);
  DIR* d = ::opendir(dir.path().c_str());
  ASSERT_NE(d, nullptr);
  int names = 0;
  while (::readdir(d) != nullptr) ++names;
  ::closedir(d);
  EXPECT_EQ(names, 2) << "only . and .. should remain";
}

// Issue 13 item 9: the rename is made durable by an fsync of the directory that holds it.
TEST(Io, AtomicWriteFsyncsTheFileThenItsDirectory) {
  test::TempDir dir;
  g_fsynced_dirs.clear();
  set_fsync_for_testing(recording_fsync);
  write_file_atomic(dir / "a.txt", "data");
  set_fsync_for_testing(nullptr);
  EXPECT_EQ(g_fsynced_dirs, (std::vector<bool>{false, true}));
  EXPECT_EQ(read_file(dir / "a.txt"), "data");
}

// Issue 13 item 3: a frame that declares 2^40 bytes is not believed (it used to be allocated).
TEST(Io, ZstdDeclaredSizeIsCheckedAgainstTheInputAndTheLimit) {
  // Magic, then a frame header descriptor with an 8-byte content size and single-segment set,
  // then the size 2^40, then one empty raw last block.
  std::string frame = {'\x28', '\xb5', '\x2f', '\xfd', '\xe0'};
  const uint64_t huge = 1ull << 40;
  frame.append(reinterpret_cast<const char*>(&huge), 8);
  frame.append({'\x01', '\x00', '\x00'});
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), huge);
  try {
    zstd_decompress(frame, "t.zst");
    ADD_FAILURE() << "no FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("t.zst: zstd frame declares 1099511627776 bytes"),
              std::string::npos)
        << e.what();
  }
  // Real data: 4 MiB of zeros compresses to a few hundred bytes; fine by default, refused under
  // a 1 MiB limit -- both with the size in the header and streamed without it.
  const std::string zeros(4 << 20, '\0');
  for (int with_size : {1, 0}) {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_size);
    std::string packed(ZSTD_compressBound(zeros.size()), '\0');
    const size_t n = ZSTD_compress2(cctx, packed.data(), packed.size(), zeros.data(), zeros.size());
    ZSTD_freeCCtx(cctx);
    ASSERT_FALSE(ZSTD_isError(n));
    packed.resize(n);
    EXPECT_EQ(zstd_decompress(packed, "z"), zeros) << with_size;
    EXPECT_THROW(zstd_decompress(packed, "z", 1 << 20), FormatError) << with_size;
  }
}

TEST(DType, NamesRoundTrip) {
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_from_name("BF16"), DType::kBF16);
  EXPECT_EQ(dtype_name(DType::kI64), "I64");
  EXPECT_THROW(dtype_from_name("Q4_K"), UnsupportedError);
}

}  // namespace
}  // namespace blockattn
