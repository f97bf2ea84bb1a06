// CUDA kernels of the block cache, behind a torch-free interface (raw device pointers and a
// stream), so the .cu files compile without libtorch's headers. Built only where CMake finds a
// CUDA compiler (BLOCKATTN_WITH_KERNELS); src/model/compat.h falls back to libtorch ops elsewhere.
#pragma once

#include <cstdint>

namespace blockattn::kernels {

enum class ElementType { kFloat32, kBFloat16, kFloat16 };

// One block of a placement: its keys and values and where they go.
struct PlacedBlock {
  int64_t k_src = 0;      // device address of the block's keys, [n_layer, n_kv, n_tok, head_dim]
  int64_t v_src = 0;      // device address of its values, same shape
  int64_t n_tok = 0;      // tokens of the block
  int64_t dst_start = 0;  // first destination position in the cache
  int64_t angle_row = 0;  // row of `angles` for this block (its global offset's rotation)
};

struct RopePlaceArgs {
  const PlacedBlock* blocks = nullptr;  // [n_blocks] in device memory
  const float* angles = nullptr;        // [n_rows, 2, head_dim / 2] in device memory: cos, sin
  void* k_dst = nullptr;                // cache keys, [n_layer, n_kv, capacity, head_dim]
  void* v_dst = nullptr;                // cache values, same shape
  int64_t n_blocks = 0, max_tok = 0;
  int64_t n_layer = 0, n_kv = 0, capacity = 0, head_dim = 0;
  ElementType type = ElementType::kBFloat16;
};

// Copies every block's values into the cache and re-encodes its keys with RoPE on the way: for
// every block b, position t, layer, head and i < head_dim / 2, with x the source key in fp32
// and (c, s) its block's cos/sin,
//   dst[i]        = x[i] * c_i - x[i + half] * s_i
//   dst[i + half] = x[i + half] * c_i + x[i] * s_i
// rounded once to the element type: the same operations, in the same order and without fused
// multiply-adds, as RotaryEmbedding::shift_blocks, so the results are bitwise equal. One launch
// reads every source key and value once and writes it once, 16 bytes per access where every
// address is 16-byte aligned (else element by element). `host_blocks` is the host copy of
// args.blocks (for the alignment check, without reading device memory). `stream` is a
// cudaStream_t. Returns a CUDA error string or nullptr.
const char* place_blocks_kv(const RopePlaceArgs& args, const PlacedBlock* host_blocks,
                            void* stream);

}  // namespace blockattn::kernels
