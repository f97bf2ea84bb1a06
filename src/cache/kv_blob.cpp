#include "cache/kv_blob.h"

#include <cstring>

#include "blockattn/error.h"
#include "core/hash.h"

namespace blockattn {

// The format is little-endian; memcpy of fixed-width ints is only correct on such a host.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "cache entry codec assumes little-endian");

namespace {

constexpr char kMagic[8] = {'B', 'A', 'K', 'V', 'B', 'L', 'O', 'B'};
// Upper bound on header_size accepted from a (future-version-compatible) entry: generous, but
// keeps a corrupt length field from making us read far into the payload.
constexpr uint32_t kMaxHeaderSize = 4096;

// Field offsets; see the layout table in kv_blob.h.
constexpr size_t kOffVersion = 8, kOffHeaderSize = 12, kOffKeyLo = 16, kOffKeyHi = 24,
                 kOffDtype = 32, kOffNLayer = 36, kOffNKvHead = 40, kOffNTok = 44, kOffHeadDim = 48,
                 kOffReserved = 52, kOffPayloadBytes = 56, kOffPayloadSum = 64,
                 kOffHeaderSumV1 = 72;
static_assert(kOffHeaderSumV1 + 8 == kKVEntryHeaderSize);

template <typename T>
void put_le(std::string& out, size_t off, T v) {
  std::memcpy(out.data() + off, &v, sizeof v);
}
template <typename T>
T get_le(std::string_view in, size_t off) {
  T v;
  std::memcpy(&v, in.data() + off, sizeof v);
  return v;
}

// 2 * product of dims * element size, or false if it does not fit in 64 bits.
bool checked_payload_bytes(const KVShape& s, uint64_t* out) {
  uint64_t n = dtype_size(s.dtype);
  for (uint64_t d : {uint64_t{s.n_layer}, uint64_t{s.n_kv_head}, uint64_t{s.n_tok},
                     uint64_t{s.head_dim}, uint64_t{2}})
    if (__builtin_mul_overflow(n, d, &n)) return false;
  *out = n;
  return true;
}

[[noreturn]] void bad(const std::string& why) { throw FormatError("KV cache entry: " + why); }

}  // namespace

uint64_t KVShape::tensor_bytes() const {
  return uint64_t{dtype_size(dtype)} * n_layer * n_kv_head * n_tok * head_dim;
}

std::string encode_entry(const BlockKey& key, const KVBlob& blob) {
  const uint64_t want = 2 * blob.shape.tensor_bytes();
  if (blob.payload.size() != want)
    throw InputError("encode_entry: payload is " + std::to_string(blob.payload.size()) +
                     " bytes but the shape needs " + std::to_string(want));
  std::string out(kKVEntryHeaderSize, '\0');
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  put_le<uint32_t>(out, kOffVersion, kKVEntryVersion);
  put_le<uint32_t>(out, kOffHeaderSize, kKVEntryHeaderSize);
  put_le<uint64_t>(out, kOffKeyLo, key.h.lo);
  put_le<uint64_t>(out, kOffKeyHi, key.h.hi);
  put_le<uint32_t>(out, kOffDtype, static_cast<uint32_t>(blob.shape.dtype));
  put_le<uint32_t>(out, kOffNLayer, blob.shape.n_layer);
  put_le<uint32_t>(out, kOffNKvHead, blob.shape.n_kv_head);
  put_le<uint32_t>(out, kOffNTok, blob.shape.n_tok);
  put_le<uint32_t>(out, kOffHeadDim, blob.shape.head_dim);
  put_le<uint32_t>(out, kOffReserved, 0);
  put_le<uint64_t>(out, kOffPayloadBytes, blob.payload.size());
  put_le<uint64_t>(out, kOffPayloadSum, hash64(blob.payload.data(), blob.payload.size()));
  put_le<uint64_t>(out, kOffHeaderSumV1, hash64(out.data(), kOffHeaderSumV1));
  out.append(blob.payload);
  return out;
}

// The checks of an entry's first kKVEntryHeaderSize bytes that make its layout readable: length,
// magic, version, header size. Returns the header size.
static uint32_t check_header_prefix(std::string_view in) {
  if (in.size() < kKVEntryHeaderSize)
    bad("truncated: " + std::to_string(in.size()) + " bytes, shorter than the header");
  if (std::memcmp(in.data(), kMagic, sizeof kMagic) != 0)
    bad("bad magic (not a blockattn KV entry)");
  const uint32_t version = get_le<uint32_t>(in, kOffVersion);
  if (version != kKVEntryVersion)
    bad("unknown format version " + std::to_string(version) + " (this build reads " +
        std::to_string(kKVEntryVersion) + ")");
  const uint32_t header_size = get_le<uint32_t>(in, kOffHeaderSize);
  if (header_size < kKVEntryHeaderSize || header_size > kMaxHeaderSize || header_size % 8 != 0)
    bad("bad header size " + std::to_string(header_size));
  return header_size;
}

uint64_t entry_size_from_prefix(std::string_view in) {
  const uint32_t header_size = check_header_prefix(in);
  uint64_t total = 0;
  if (__builtin_add_overflow(uint64_t{header_size}, get_le<uint64_t>(in, kOffPayloadBytes), &total))
    bad("payload size overflows 64 bits");
  return total;
}

void validate_entry_shape(const KVShape& got, const KVShape& expected) {
  std::string diff;
  auto field = [&](const char* name, uint32_t g, uint32_t e) {
    if (g != e)
      diff += std::string(diff.empty() ? "" : ", ") + name + " " + std::to_string(g) +
              " (expected " + std::to_string(e) + ")";
  };
  if (got.dtype != expected.dtype)
    diff = std::string("dtype code ") + std::to_string(static_cast<uint32_t>(got.dtype)) +
           " (expected " + std::to_string(static_cast<uint32_t>(expected.dtype)) + ")";
  field("n_layer", got.n_layer, expected.n_layer);
  field("n_kv_head", got.n_kv_head, expected.n_kv_head);
  field("n_tok", got.n_tok, expected.n_tok);
  field("head_dim", got.head_dim, expected.head_dim);
  if (!diff.empty()) bad("shape does not match the model and block: " + diff);
}

namespace {

// The checks of decode_entry, on the header (`in`, at least its header_size bytes; the payload
// may follow or not) and the payload apart. Returns the entry's shape.
KVShape verify_entry(std::string_view in, std::string_view payload, const BlockKey& expected) {
  // Checks run in the order that makes each later read safe: length before any field, version
  // before trusting the layout, header checksum before trusting any header value.
  const uint32_t header_size = check_header_prefix(in);
  if (in.size() < header_size) bad("truncated inside the header");
  if (get_le<uint64_t>(in, header_size - 8) != hash64(in.data(), header_size - 8))
    bad("header checksum mismatch");

  const BlockKey stored{Hash128{get_le<uint64_t>(in, kOffKeyLo), get_le<uint64_t>(in, kOffKeyHi)}};
  if (stored != expected)
    bad("key mismatch: entry is for " + stored.hex() + ", expected " + expected.hex());

  KVShape shape;
  shape.dtype = static_cast<DType>(get_le<uint32_t>(in, kOffDtype));
  shape.n_layer = get_le<uint32_t>(in, kOffNLayer);
  shape.n_kv_head = get_le<uint32_t>(in, kOffNKvHead);
  shape.n_tok = get_le<uint32_t>(in, kOffNTok);
  shape.head_dim = get_le<uint32_t>(in, kOffHeadDim);
  uint64_t want = 0;
  try {
    if (!checked_payload_bytes(shape, &want)) bad("shape overflows 64 bits");
  } catch (const UnsupportedError& e) {
    bad(e.what());  // unknown dtype code
  }
  const uint64_t payload_bytes = get_le<uint64_t>(in, kOffPayloadBytes);
  if (payload_bytes != want)
    bad("payload size " + std::to_string(payload_bytes) + " does not match the shape (" +
        std::to_string(want) + " bytes)");
  const uint64_t have = payload.size();
  if (have < payload_bytes)
    bad("truncated: payload has " + std::to_string(have) + " of " + std::to_string(payload_bytes) +
        " bytes");
  if (have > payload_bytes)
    bad(std::to_string(have - payload_bytes) + " trailing bytes after the payload");
  if (get_le<uint64_t>(in, kOffPayloadSum) != hash64(payload.data(), payload.size()))
    bad("payload checksum mismatch");
  return shape;
}

}  // namespace

uint32_t entry_header_size(std::string_view prefix) { return check_header_prefix(prefix); }

KVBlob decode_entry(std::string_view in, const BlockKey& expected) {
  const uint32_t header_size = check_header_prefix(in);
  const std::string_view payload = in.size() < header_size ? "" : in.substr(header_size);
  KVBlob blob;
  blob.shape = verify_entry(in, payload, expected);
  blob.payload.assign(payload.data(), payload.size());
  return blob;
}

KVBlob decode_entry(std::string_view header, std::string payload, const BlockKey& expected) {
  if (header.size() >= kKVEntryHeaderSize && header.size() != check_header_prefix(header))
    bad("the header part has " + std::to_string(header.size()) + " bytes, not the " +
        std::to_string(check_header_prefix(header)) + " its header_size says");
  KVBlob blob;
  blob.shape = verify_entry(header, payload, expected);
  blob.payload = std::move(payload);
  return blob;
}

}  // namespace blockattn
