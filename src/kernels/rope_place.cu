#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/element.cuh"
#include "kernels/rope_place.h"

namespace blockattn::kernels {

namespace {

// grid: x = tiles of tokens, y = block, z = layer * n_kv + head.
// threads: `lanes` = half / N lanes per token of the tile; a lane moves N rotation pairs of the
// key and the 2N value elements at the same places.
constexpr int kThreads = 256;

template <class T, int N>
__global__ void place_kernel(RopePlaceArgs a) {
  using P = Pack<T, N>;
  const int64_t half = a.head_dim / 2;
  const int64_t lanes = half / N;
  const int64_t rows_per_cta = kThreads / lanes;
  const PlacedBlock blk = a.blocks[blockIdx.y];
  const int64_t t = blockIdx.x * rows_per_cta + threadIdx.x / lanes;
  const int64_t i = (threadIdx.x % lanes) * N;
  if (t >= blk.n_tok || threadIdx.x >= rows_per_cta * lanes) return;
  const int64_t layer_head = blockIdx.z;  // layer * n_kv + head
  const int64_t src_row = (layer_head * blk.n_tok + t) * a.head_dim;
  const int64_t dst_row = (layer_head * a.capacity + blk.dst_start + t) * a.head_dim;
  const T* k_src = reinterpret_cast<const T*>(blk.k_src) + src_row;
  const T* v_src = reinterpret_cast<const T*>(blk.v_src) + src_row;
  T* k_dst = reinterpret_cast<T*>(a.k_dst) + dst_row;
  T* v_dst = reinterpret_cast<T*>(a.v_dst) + dst_row;
  *reinterpret_cast<P*>(v_dst + i) = *reinterpret_cast<const P*>(v_src + i);
  *reinterpret_cast<P*>(v_dst + half + i) = *reinterpret_cast<const P*>(v_src + half + i);
  const P x1 = *reinterpret_cast<const P*>(k_src + i);
  const P x2 = *reinterpret_cast<const P*>(k_src + half + i);
  const float* c = a.angles + blk.angle_row * 2 * half + i;
  const float* s = c + half;
  P y1, y2;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const float a1 = to_f(x1.v[j]), a2 = to_f(x2.v[j]);
    // As x * cos + rotate_half(x) * sin, elementwise: products first, then one sum, no FMA.
    y1.v[j] = from_f<T>(__fadd_rn(__fmul_rn(a1, c[j]), __fmul_rn(-a2, s[j])));
    y2.v[j] = from_f<T>(__fadd_rn(__fmul_rn(a2, c[j]), __fmul_rn(a1, s[j])));
  }
  *reinterpret_cast<P*>(k_dst + i) = y1;
  *reinterpret_cast<P*>(k_dst + half + i) = y2;
}

bool aligned(int64_t address, int64_t bytes) { return address % bytes == 0; }

// Every address a 16-byte access would touch is 16-byte aligned when the bases are and a row
// and a half row are whole multiples of 16 bytes.
template <class T>
bool vectorizable(const RopePlaceArgs& a, const PlacedBlock* host_blocks) {
  constexpr int64_t kBytes = 16;
  const int64_t half_bytes = a.head_dim / 2 * static_cast<int64_t>(sizeof(T));
  if (half_bytes % kBytes != 0) return false;
  if (!aligned(reinterpret_cast<int64_t>(a.k_dst), kBytes) ||
      !aligned(reinterpret_cast<int64_t>(a.v_dst), kBytes))
    return false;
  for (int64_t b = 0; b < a.n_blocks; ++b)
    if (!aligned(host_blocks[b].k_src, kBytes) || !aligned(host_blocks[b].v_src, kBytes))
      return false;
  return true;
}

template <class T, int N>
const char* launch(const RopePlaceArgs& a, cudaStream_t stream) {
  const int64_t half = a.head_dim / 2;
  if (half <= 0 || half % N != 0 || half / N > kThreads)
    return "place_blocks_kv: head_dim out of range";
  const int64_t rows_per_cta = kThreads / (half / N);
  dim3 grid(static_cast<unsigned>((a.max_tok + rows_per_cta - 1) / rows_per_cta),
            static_cast<unsigned>(a.n_blocks), static_cast<unsigned>(a.n_layer * a.n_kv));
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return nullptr;
  if (a.n_blocks > 65535 || a.n_layer * a.n_kv > 65535) return "place_blocks_kv: grid too large";
  place_kernel<T, N><<<grid, kThreads, 0, stream>>>(a);
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

template <class T>
const char* dispatch(const RopePlaceArgs& a, const PlacedBlock* host_blocks, cudaStream_t s) {
  constexpr int kVec = static_cast<int>(16 / sizeof(T));
  return vectorizable<T>(a, host_blocks) ? launch<T, kVec>(a, s) : launch<T, 1>(a, s);
}

}  // namespace

const char* place_blocks_kv(const RopePlaceArgs& args, const PlacedBlock* host_blocks,
                            void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (args.type) {
    case ElementType::kFloat32:
      return dispatch<float>(args, host_blocks, s);
    case ElementType::kBFloat16:
      return dispatch<__nv_bfloat16>(args, host_blocks, s);
    case ElementType::kFloat16:
      return dispatch<__half>(args, host_blocks, s);
  }
  return "place_blocks_kv: unknown element type";
}

}  // namespace blockattn::kernels
