// Element types of stored tensors (safetensors files, cache entries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace blockattn {

// Values are part of the on-disk cache format: append, never renumber.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kBF16 = 2,
  kF64 = 3,
  kI64 = 4,
  kI32 = 5,
  kI16 = 6,
  kI8 = 7,
  kU8 = 8,
  kBool = 9,
  kU16 = 10,
  kU32 = 11,
  kU64 = 12,
};

// Bytes per element.
size_t dtype_size(DType t);
// safetensors spelling: "F32", "BF16", "I64", ...
std::string_view dtype_name(DType t);
// Inverse of dtype_name; throws UnsupportedError for an unknown name.
DType dtype_from_name(std::string_view name);

}  // namespace blockattn
