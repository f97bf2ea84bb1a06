#include "cache/block_key.h"

#include <string_view>

#include "blockattn/error.h"

namespace blockattn {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "block keys hash integers in host byte order, which must be little-endian");

BlockKey make_block_key(const BlockKeyInputs& in) {
  // Every field goes through update_field (length-prefixed), so no two different input tuples
  // can produce the same byte stream. The leading domain tag keeps block keys apart from any
  // other Hasher128 use in the project.
  if (in.tokens == nullptr && in.n_tokens != 0)
    throw InputError("make_block_key: n_tokens is " + std::to_string(in.n_tokens) + " but tokens is null");
  auto pod_field = [](Hasher128& h, const auto& v) {
    h.update_field(std::string_view(reinterpret_cast<const char*>(&v), sizeof v));
  };
  Hasher128 h;
  h.update_field("blockattn.block_key");
  pod_field(h, kBlockKeyVersion);
  h.update_field(in.model_fingerprint);
  pod_field(h, in.sink_tokens);
  pod_field(h, in.sink_token_id);
  pod_field(h, static_cast<uint32_t>(in.kv_dtype));
  h.update_field(std::string_view(reinterpret_cast<const char*>(in.tokens),
                                  in.n_tokens * sizeof(int32_t)));
  return BlockKey{h.digest()};
}

}  // namespace blockattn
