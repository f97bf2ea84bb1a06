// Block keys and the KV cache entry format (src/cache/block_key.h, kv_blob.h).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <unordered_set>
#include <vector>

#include "blockattn/error.h"
#include "cache/block_key.h"
#include "cache/kv_blob.h"
#include "core/hash.h"
#include "expect_error.h"

namespace blockattn {
namespace {

struct KeySpec {
  std::string fingerprint = "llama-3.2-1b@sha256:abc";
  int32_t sink_tokens = 4;
  int32_t sink_token_id = 128000;
  DType dtype = DType::kBF16;
  std::vector<int32_t> tokens = {1, 2, 3, 4, 5};
  BlockKey key() const {
    return make_block_key(
        {fingerprint, sink_tokens, sink_token_id, dtype, tokens.data(), tokens.size()});
  }
};

TEST(BlockKey, SameInputsGiveSameKey) {
  KeySpec a, b;
  EXPECT_EQ(a.key(), b.key());
  EXPECT_EQ(a.key().hex(), b.key().hex());
  EXPECT_EQ(a.key().hex().size(), 32u);
  EXPECT_EQ(std::hash<BlockKey>{}(a.key()), std::hash<BlockKey>{}(b.key()));
}

TEST(BlockKey, ChangingAnySingleInputChangesTheKey) {
  std::vector<KeySpec> specs(1);  // [0] is the baseline
  auto vary = [&](auto&& edit) {
    KeySpec s;
    edit(s);
    specs.push_back(s);
  };
  vary([](KeySpec& s) { s.fingerprint += "x"; });
  vary([](KeySpec& s) { s.fingerprint = ""; });
  vary([](KeySpec& s) { s.sink_tokens = 0; });
  vary([](KeySpec& s) { s.sink_tokens = 5; });
  vary([](KeySpec& s) { s.sink_token_id = 0; });
  vary([](KeySpec& s) { s.dtype = DType::kF16; });
  vary([](KeySpec& s) { s.dtype = DType::kF32; });
  vary([](KeySpec& s) { s.tokens[0] = 9; });
  vary([](KeySpec& s) { s.tokens.back() = 6; });
  vary([](KeySpec& s) { s.tokens.push_back(6); });
  vary([](KeySpec& s) { s.tokens.pop_back(); });
  vary([](KeySpec& s) { s.tokens.clear(); });
  vary([](KeySpec& s) { std::swap(s.tokens[0], s.tokens[1]); });
  std::unordered_set<BlockKey> keys;
  for (const KeySpec& s : specs) keys.insert(s.key());
  EXPECT_EQ(keys.size(), specs.size()) << "two different input sets share a key";
}

TEST(BlockKey, FieldsDoNotRunTogether) {
  // Fingerprint bytes must not be confusable with the integer fields after it.
  KeySpec a, b;
  a.fingerprint = "m";
  a.sink_tokens = 0x41414141;
  b.fingerprint = std::string("m") + "AAAA";
  b.sink_tokens = 0;
  EXPECT_NE(a.key(), b.key());
}

TEST(BlockKey, NullTokensWithNonZeroCountIsRejected) {
  EXPECT_THROW(make_block_key({"m", 0, 0, DType::kBF16, nullptr, 3}), InputError);
  EXPECT_NO_THROW(make_block_key({"m", 0, 0, DType::kBF16, nullptr, 0}));
}

KVBlob make_blob(KVShape shape, uint32_t seed) {
  KVBlob b;
  b.shape = shape;
  b.payload.resize(2 * shape.tensor_bytes());
  std::mt19937 rng(seed);
  for (char& c : b.payload) c = static_cast<char>(rng());
  return b;
}

const KVShape kShape{DType::kBF16, 2, 2, 3, 8};  // 2*2*3*8*2 = 192 bytes per tensor

BlockKey test_key(int32_t tok = 7) {
  int32_t t[] = {tok};
  return make_block_key({"fp", 0, 0, DType::kBF16, t, 1});
}

template <typename T>
T read_at(const std::string& s, size_t off) {
  T v;
  std::memcpy(&v, s.data() + off, sizeof v);
  return v;
}
template <typename T>
void write_at(std::string& s, size_t off, T v) {
  std::memcpy(s.data() + off, &v, sizeof v);
}
// Re-seals a hand-edited version-1 header so only the intended field is "wrong".
void reseal_header(std::string& e) { write_at<uint64_t>(e, 72, hash64(e.data(), 72)); }

void expect_format_error(std::string_view bytes, const BlockKey& key, const std::string& needle) {
  try {
    decode_entry(bytes, key);
    ADD_FAILURE() << "no FormatError, expected one mentioning \"" << needle << "\"";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(KVShape, TensorBytes) {
  EXPECT_EQ(kShape.tensor_bytes(), 192u);
  EXPECT_EQ((KVShape{DType::kF32, 32, 8, 4096, 128}.tensor_bytes()), 32ull * 8 * 4096 * 128 * 4);
}

TEST(KVEntry, RoundTrip) {
  const BlockKey key = test_key();
  const KVBlob blob = make_blob(kShape, 1);
  const std::string e = encode_entry(key, blob);
  EXPECT_EQ(e.size(), kKVEntryHeaderSize + blob.payload.size());
  EXPECT_EQ(decode_entry(e, key), blob);

  const KVBlob empty = make_blob(KVShape{DType::kF16, 2, 2, 0, 8}, 2);  // zero-token block
  EXPECT_EQ(decode_entry(encode_entry(key, empty), key), empty);
}

// Readers that read an entry's header and payload apart (the disk tier) decode the same blob,
// and every check still applies to the payload part.
TEST(KVEntry, DecodingInTwoPartsEqualsDecodingTheWhole) {
  const BlockKey key = test_key();
  const KVBlob blob = make_blob(kShape, 3);
  const std::string e = encode_entry(key, blob);
  const uint32_t h = entry_header_size(e);
  EXPECT_EQ(h, kKVEntryHeaderSize);
  EXPECT_EQ(decode_entry(std::string_view(e).substr(0, h), e.substr(h), key), blob);
  EXPECT_EQ(decode_entry(e, key), blob);
  std::string flipped = e.substr(h);
  flipped[5] ^= 1;
  EXPECT_CONTAINS(test::error_of<FormatError>(
                      [&] { decode_entry(std::string_view(e).substr(0, h), flipped, key); }),
                  "payload checksum mismatch");
  EXPECT_CONTAINS(test::error_of<FormatError>([&] {
                    decode_entry(std::string_view(e).substr(0, h), e.substr(h + 1), key);
                  }),
                  "truncated: payload has");
  EXPECT_CONTAINS(test::error_of<FormatError>([&] {
                    decode_entry(std::string_view(e).substr(0, h + 8), e.substr(h + 8), key);
                  }),
                  "header part has");
}

// Issue 13 items 4 and 5: what a reader checks besides the checksums.
TEST(KVEntry, ShapeIsCheckedAgainstTheExpectedOne) {
  EXPECT_NO_THROW(validate_entry_shape(kShape, kShape));
  for (int field = 0; field < 5; ++field) {
    KVShape other = kShape;
    if (field == 0) other.dtype = DType::kF32;
    if (field == 1) other.n_layer += 1;
    if (field == 2) other.n_kv_head += 1;
    if (field == 3) other.n_tok -= 1;
    if (field == 4) other.head_dim *= 2;
    static const char* const kNames[] = {"dtype", "n_layer", "n_kv_head", "n_tok", "head_dim"};
    try {
      validate_entry_shape(other, kShape);
      ADD_FAILURE() << "no FormatError for " << kNames[field];
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(kNames[field]), std::string::npos) << e.what();
    }
  }
}

TEST(KVEntry, SizeFromThePrefixIsWhatTheHeaderClaims) {
  const BlockKey key = test_key();
  const std::string e = encode_entry(key, make_blob(kShape, 1));
  EXPECT_EQ(entry_size_from_prefix(std::string_view(e).substr(0, kKVEntryHeaderSize)), e.size());
  EXPECT_THROW(entry_size_from_prefix(std::string_view(e).substr(0, 79)), FormatError);
  std::string huge = e;
  write_at<uint64_t>(huge, 56, ~0ull);  // payload_bytes overflowing with the header size
  EXPECT_THROW(entry_size_from_prefix(huge), FormatError);
  write_at<uint64_t>(huge, 56, 1ull << 40);  // a claim, not a verification
  EXPECT_EQ(entry_size_from_prefix(huge), kKVEntryHeaderSize + (1ull << 40));
}

TEST(KVEntry, HeaderLayoutMatchesTheDocumentation) {
  const BlockKey key = test_key();
  const KVBlob blob = make_blob(kShape, 1);
  const std::string e = encode_entry(key, blob);
  EXPECT_EQ(e.substr(0, 8), "BAKVBLOB");
  EXPECT_EQ(read_at<uint32_t>(e, 8), 1u);
  EXPECT_EQ(read_at<uint32_t>(e, 12), 80u);
  EXPECT_EQ(read_at<uint64_t>(e, 16), key.h.lo);
  EXPECT_EQ(read_at<uint64_t>(e, 24), key.h.hi);
  EXPECT_EQ(read_at<uint32_t>(e, 32), static_cast<uint32_t>(DType::kBF16));
  EXPECT_EQ(read_at<uint32_t>(e, 36), 2u);
  EXPECT_EQ(read_at<uint32_t>(e, 40), 2u);
  EXPECT_EQ(read_at<uint32_t>(e, 44), 3u);
  EXPECT_EQ(read_at<uint32_t>(e, 48), 8u);
  EXPECT_EQ(read_at<uint32_t>(e, 52), 0u);
  EXPECT_EQ(read_at<uint64_t>(e, 56), 384u);
  EXPECT_EQ(read_at<uint64_t>(e, 64), hash64(blob.payload.data(), blob.payload.size()));
  EXPECT_EQ(read_at<uint64_t>(e, 72), hash64(e.data(), 72));
  EXPECT_EQ(e.substr(80), blob.payload);
}

TEST(KVEntry, EncodeRejectsPayloadThatDoesNotMatchTheShape) {
  KVBlob blob = make_blob(kShape, 1);
  blob.payload.pop_back();
  EXPECT_THROW(encode_entry(test_key(), blob), InputError);
}

TEST(KVEntry, FlippingAnyHeaderByteIsDetected) {
  const BlockKey key = test_key();
  const std::string good = encode_entry(key, make_blob(kShape, 1));
  for (size_t i = 0; i < kKVEntryHeaderSize; ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string e = good;
      e[i] = static_cast<char>(e[i] ^ mask);
      EXPECT_THROW(decode_entry(e, key), FormatError) << "byte " << i << " mask " << int(mask);
    }
  }
  std::string e = good;
  e[0] ^= 1;
  expect_format_error(e, key, "bad magic");
  e = good;
  e[20] ^= 1;  // inside the key: caught by the header checksum
  expect_format_error(e, key, "header checksum");
  e = good;
  e[52] ^= 1;  // reserved field
  expect_format_error(e, key, "header checksum");
}

TEST(KVEntry, FlippingAPayloadByteIsDetected) {
  const BlockKey key = test_key();
  const std::string good = encode_entry(key, make_blob(kShape, 1));
  for (size_t i : {size_t{80}, size_t{81}, good.size() / 2, good.size() - 1}) {
    std::string e = good;
    e[i] = static_cast<char>(e[i] ^ 0x10);
    expect_format_error(e, key, "payload checksum");
  }
}

TEST(KVEntry, TruncationAtAnyLengthIsDetected) {
  const BlockKey key = test_key();
  const std::string good = encode_entry(key, make_blob(kShape, 1));
  for (size_t len : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{16}, size_t{71}, size_t{79},
                     size_t{80}, size_t{81}, size_t{80 + 192}, good.size() - 1})
    expect_format_error(std::string_view(good).substr(0, len), key, "truncated");
  for (size_t len = 0; len < good.size(); ++len)
    EXPECT_THROW(decode_entry(std::string_view(good).substr(0, len), key), FormatError) << len;
}

TEST(KVEntry, TrailingBytesAreDetected) {
  const BlockKey key = test_key();
  expect_format_error(encode_entry(key, make_blob(kShape, 1)) + "x", key, "trailing");
}

TEST(KVEntry, WrongKeyIsDetected) {
  const std::string e = encode_entry(test_key(1), make_blob(kShape, 1));
  expect_format_error(e, test_key(2), "key mismatch");
}

TEST(KVEntry, UnknownVersionIsRejected) {
  const BlockKey key = test_key();
  std::string e = encode_entry(key, make_blob(kShape, 1));
  for (uint32_t v : {0u, 2u, 0xffffffffu}) {
    write_at<uint32_t>(e, 8, v);
    reseal_header(e);  // a well-formed entry from another version, not a corrupt one
    expect_format_error(e, key, "unknown format version " + std::to_string(v));
  }
}

TEST(KVEntry, PayloadSizeThatDisagreesWithTheShapeIsRejected) {
  const BlockKey key = test_key();
  const std::string good = encode_entry(key, make_blob(kShape, 1));
  std::string e = good;
  write_at<uint64_t>(e, 56, 383);
  reseal_header(e);
  expect_format_error(e, key, "does not match the shape");

  e = good;
  write_at<uint32_t>(e, 44, 4);  // n_tok 3 -> 4 with the old payload size
  reseal_header(e);
  expect_format_error(e, key, "does not match the shape");

  e = good;
  for (size_t off : {36, 40, 44, 48}) write_at<uint32_t>(e, off, 0xffffffffu);
  reseal_header(e);
  expect_format_error(e, key, "overflows");
}

TEST(KVEntry, UnknownDtypeIsAFormatError) {
  const BlockKey key = test_key();
  std::string e = encode_entry(key, make_blob(kShape, 1));
  write_at<uint32_t>(e, 32, 999);
  reseal_header(e);
  expect_format_error(e, key, "dtype");
}

TEST(KVEntry, LongerHeaderFromAFutureRevisionIsAccepted) {
  // header_size lets a later writer append header fields; the checksum stays the last 8 bytes.
  const BlockKey key = test_key();
  const KVBlob blob = make_blob(kShape, 3);
  const std::string v1 = encode_entry(key, blob);
  std::string e = v1.substr(0, 72) + std::string(8, '\x5a') + std::string(8, '\0') + blob.payload;
  write_at<uint32_t>(e, 12, 88);
  write_at<uint64_t>(e, 80, hash64(e.data(), 80));
  EXPECT_EQ(decode_entry(e, key), blob);

  write_at<uint32_t>(e, 12, 84);  // not a multiple of 8
  EXPECT_THROW(decode_entry(e, key), FormatError);
}

}  // namespace
}  // namespace blockattn
