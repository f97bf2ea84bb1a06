// Content address of one block's KV cache.
//
// A block's K/V tensors depend on the model weights, the attention-sink setting, the KV dtype and
// the block's tokens -- not on where the block later sits in a prompt (block attention re-encodes
// positions on reuse). The key hashes exactly those inputs, so two requests share an entry iff
// they would have computed identical tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "blockattn/dtype.h"
#include "core/hash.h"

namespace blockattn {

// Bump when the meaning of a cached block changes (e.g. how sinks are prepended, RoPE handling):
// old entries then simply stop matching instead of being reused wrongly.
inline constexpr uint32_t kBlockKeyVersion = 1;

struct BlockKey {
  Hash128 h;
  std::string hex() const { return h.hex(); }  // 32 hex digits; also the disk file stem
  bool operator==(const BlockKey& o) const { return h == o.h; }
  bool operator!=(const BlockKey& o) const { return !(*this == o); }
};

struct BlockKeyInputs {
  std::string model_fingerprint;  // identifies the weights (and anything else that changes K/V)
  int32_t sink_tokens = 0;        // number of attention-sink tokens prepended to the block
  int32_t sink_token_id = 0;      // token used for the sinks
  DType kv_dtype = DType::kBF16;  // dtype the K/V tensors are stored in
  const int32_t* tokens = nullptr;
  size_t n_tokens = 0;
};

BlockKey make_block_key(const BlockKeyInputs& in);

}  // namespace blockattn

template <>
struct std::hash<blockattn::BlockKey> {
  // The digest is already uniformly distributed: any 64 bits of it make a good bucket hash.
  size_t operator()(const blockattn::BlockKey& k) const noexcept { return static_cast<size_t>(k.h.lo); }
};
