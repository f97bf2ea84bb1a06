// Cache entries as a byte tier stores them. Two uses of each input:
//  1. raw: the bytes as an entry file -- the header-first size check, the full decoder and the
//     shape check against the model's shape;
//  2. structured: a small shape and payload taken from the bytes are encoded, decoded back (must
//     be equal), then one byte chosen by the input is flipped: the decoder must refuse that
//     (checksums over header and payload), never return a different entry.
#include <cstdint>
#include <string>
#include <string_view>

#include "blockattn/error.h"
#include "cache/kv_blob.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const BlockKey key{Hash128{0x0123456789abcdefull, 0xfedcba9876543210ull}};
  try {
    (void)entry_size_from_prefix(bytes);
  } catch (const FormatError&) {
  }
  try {
    KVBlob blob = decode_entry(bytes, key);
    if (blob.payload.size() != 2 * blob.shape.tensor_bytes()) __builtin_trap();
    validate_entry_shape(blob.shape, KVShape{DType::kBF16, 2, 2, 3, 4});
  } catch (const FormatError&) {
  }

  if (size < 9) return 0;  // 8 option bytes and at least one payload byte
  KVBlob blob;
  blob.shape = KVShape{data[0] % 2 ? DType::kBF16 : DType::kF32, 1u + data[1] % 3, 1u + data[2] % 3,
                       1u + data[3] % 5, 1u + data[4] % 4};
  const uint64_t n = 2 * blob.shape.tensor_bytes();
  blob.payload.resize(n);
  for (uint64_t i = 0; i < n; ++i)
    blob.payload[i] = static_cast<char>(data[8 + i % (size - 8)] + i);
  std::string entry = encode_entry(key, blob);
  if (decode_entry(entry, key) != blob) __builtin_trap();
  const size_t at = (size_t{data[5]} << 8 | data[6]) % entry.size();
  entry[at] = static_cast<char>(entry[at] ^ (data[7] | 1));
  try {
    (void)decode_entry(entry, key);
    __builtin_trap();  // a flipped byte was accepted
  } catch (const FormatError&) {
  }
  return 0;
}
