// CUDA kernels of the block cache, behind a torch-free interface (raw device pointers and a
// stream), so the .cu files compile without libtorch's headers. Built only where CMake finds a
// CUDA compiler (BLOCKATTN_WITH_KERNELS); src/model/compat.h falls back to libtorch ops elsewhere.
#pragma once

#include <cstdint>

namespace blockattn::kernels {

enum class ElementType { kFloat32, kBFloat16, kFloat16 };

// One block of a placement: its keys and where they go.
struct PlacedBlock {
  int64_t src = 0;        // device address of the block's keys, [n_layer, n_kv, n_tok, head_dim]
  int64_t n_tok = 0;      // tokens of the block
  int64_t dst_start = 0;  // first destination position in the cache
  int64_t angle_row = 0;  // row of `angles` for this block (its global offset's rotation)
};

struct RopePlaceArgs {
  const PlacedBlock* blocks = nullptr;  // [n_blocks] in device memory
  const float* angles = nullptr;        // [n_rows, 2, head_dim / 2] in device memory: cos, sin
  void* dst = nullptr;                  // cache keys, [n_layer, n_kv, capacity, head_dim]
  int64_t n_blocks = 0, max_tok = 0;
  int64_t n_layer = 0, n_kv = 0, capacity = 0, head_dim = 0;
  ElementType type = ElementType::kBFloat16;
};

// RoPE re-encoding fused with the copy into the cache: for every block b, position t, layer,
// head and i < head_dim / 2, with x the source key in fp32 and (c, s) its block's cos/sin,
//   dst[i]        = x[i] * c_i - x[i + half] * s_i
//   dst[i + half] = x[i + half] * c_i + x[i] * s_i
// rounded once to the element type: the same operations, in the same order and without fused
// multiply-adds, as RotaryEmbedding::shift_blocks, so the results are bitwise equal. Reads
// and writes each key once. `stream` is a cudaStream_t. Returns a CUDA error string or nullptr.
const char* rope_place_keys(const RopePlaceArgs& args, void* stream);

}  // namespace blockattn::kernels
