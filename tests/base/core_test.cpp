#include <gtest/gtest.h>

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

TEST(DType, NamesRoundTrip) {
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_from_name("BF16"), DType::kBF16);
  EXPECT_EQ(dtype_name(DType::kI64), "I64");
  EXPECT_THROW(dtype_from_name("Q4_K"), UnsupportedError);
}

}  // namespace
}  // namespace blockattn
