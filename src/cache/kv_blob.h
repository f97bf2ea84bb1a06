// One block's K/V tensors as bytes, and the versioned, checksummed entry format that byte-level
// tiers (disk, later Redis) store them in.
//
// Entry layout, version 1. All integers little-endian; offsets in bytes.
//
//   off size field
//     0    8 magic            "BAKVBLOB"
//     8    4 u32 version      1 (kKVEntryVersion)
//    12    4 u32 header_size  80 for version 1; the payload starts here
//    16   16 key              BlockKey digest: u64 lo, then u64 hi
//    32    4 u32 dtype        blockattn::DType code
//    36    4 u32 n_layer
//    40    4 u32 n_kv_head
//    44    4 u32 n_tok
//    48    4 u32 head_dim
//    52    4 u32 reserved     0
//    56    8 u64 payload_bytes  == 2 * shape.tensor_bytes()
//    64    8 u64 payload_xxh3   XXH3-64 of the payload
//    72    8 u64 header_xxh3    XXH3-64 of bytes [0, header_size - 8)
//    80      payload          K bytes then V bytes, each [n_layer, n_kv_head, n_tok, head_dim]
//                             row-major in `dtype`; the entry ends exactly after it
//
// The header checksum sits in the last 8 header bytes so a later version may append header
// fields (growing header_size) without moving anything a version-1 reader looks at; a change a
// version-1 reader cannot ignore bumps `version`, and such entries are rejected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "blockattn/dtype.h"
#include "cache/block_key.h"

namespace blockattn {

inline constexpr uint32_t kKVEntryVersion = 1;
inline constexpr size_t kKVEntryHeaderSize = 80;

struct KVShape {
  DType dtype = DType::kBF16;
  uint32_t n_layer = 0, n_kv_head = 0, n_tok = 0, head_dim = 0;
  // Bytes of one of K or V. Callers build shapes from real tensors, so no overflow check here;
  // decode_entry validates untrusted shapes with a checked product before using them.
  uint64_t tensor_bytes() const;
  bool operator==(const KVShape& o) const {
    return dtype == o.dtype && n_layer == o.n_layer && n_kv_head == o.n_kv_head &&
           n_tok == o.n_tok && head_dim == o.head_dim;
  }
  bool operator!=(const KVShape& o) const { return !(*this == o); }
};

struct KVBlob {
  KVShape shape;
  std::string
      payload;  // K bytes then V bytes, each [n_layer, n_kv_head, n_tok, head_dim] row-major
  bool operator==(const KVBlob& o) const { return shape == o.shape && payload == o.payload; }
  bool operator!=(const KVBlob& o) const { return !(*this == o); }
};

// Serialises `blob` under `key`. Throws InputError if payload.size() != 2 * tensor_bytes()
// (a caller bug: the entry would be unreadable).
std::string encode_entry(const BlockKey& key, const KVBlob& blob);

// The total size an entry claims from its first kKVEntryHeaderSize bytes (header_size +
// payload_bytes), read before the rest so that a reader never reads or allocates more than the
// header allows. Not a verification: a file of that size may still fail decode_entry. Throws
// FormatError on a short prefix, bad magic, unknown version, bad header size or an overflow.
uint64_t entry_size_from_prefix(std::string_view prefix);

// Checks a decoded entry's shape and dtype against what the reader expects (the model's
// n_layer, n_kv_head, head_dim and KV dtype, and the block's token count). Valid checksums say
// only that the bytes are what a writer wrote, not that they fit this model: a mismatch throws
// FormatError naming every differing field, and the caller treats the entry as corrupt.
void validate_entry_shape(const KVShape& got, const KVShape& expected);

// The header size an entry's first kKVEntryHeaderSize bytes state (the payload starts there).
// Throws FormatError as entry_size_from_prefix does.
uint32_t entry_header_size(std::string_view prefix);

// Parses and fully verifies an entry. Throws FormatError naming the problem on: bad magic,
// unknown version, bad header size, truncation, header checksum mismatch, key != expected,
// unknown dtype, payload size != shape, trailing bytes, payload checksum mismatch.
KVBlob decode_entry(std::string_view bytes, const BlockKey& expected);
// The same for an entry read in two parts, its header (exactly entry_header_size bytes) and its
// payload, which becomes the blob's without a copy (readers that read the payload straight into
// its final buffer).
KVBlob decode_entry(std::string_view header, std::string payload, const BlockKey& expected);

}  // namespace blockattn
