#include "kernels/rope_place.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace blockattn::kernels {

namespace {

template <class T>
__device__ float to_float(T x);
template <>
__device__ float to_float<float>(float x) {
  return x;
}
template <>
__device__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
template <>
__device__ float to_float<__half>(__half x) {
  return __half2float(x);
}

template <class T>
__device__ T from_float(float x);
template <>
__device__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

// grid: x = tiles of kThreads / half tokens, y = block, z = layer * n_kv + head.
// threads: one row of `half` lanes per token of the tile (each lane one rotation pair).
constexpr int kThreads = 256;

template <class T>
__global__ void rope_place_kernel(RopePlaceArgs a) {
  const int64_t half = a.head_dim / 2;
  const int64_t rows_per_cta = kThreads / half;
  const PlacedBlock blk = a.blocks[blockIdx.y];
  const int64_t t = blockIdx.x * rows_per_cta + threadIdx.x / half;
  const int64_t i = threadIdx.x % half;
  if (t >= blk.n_tok || threadIdx.x >= rows_per_cta * half) return;
  const int64_t layer_head = blockIdx.z;  // layer * n_kv + head
  const T* src = reinterpret_cast<const T*>(blk.src) + (layer_head * blk.n_tok + t) * a.head_dim;
  T* dst = reinterpret_cast<T*>(a.dst) + (layer_head * a.capacity + blk.dst_start + t) * a.head_dim;
  const float* row = a.angles + blk.angle_row * 2 * half;
  const float c = row[i], s = row[half + i];
  const float x1 = to_float(src[i]), x2 = to_float(src[i + half]);
  // As x * cos + rotate_half(x) * sin, elementwise: products first, then one sum, no FMA.
  dst[i] = from_float<T>(__fadd_rn(__fmul_rn(x1, c), __fmul_rn(-x2, s)));
  dst[i + half] = from_float<T>(__fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s)));
}

template <class T>
const char* launch(const RopePlaceArgs& a, cudaStream_t stream) {
  const int64_t half = a.head_dim / 2;
  if (half <= 0 || half > kThreads) return "rope_place_keys: head_dim out of range";
  const int64_t rows_per_cta = kThreads / half;
  dim3 grid(static_cast<unsigned>((a.max_tok + rows_per_cta - 1) / rows_per_cta),
            static_cast<unsigned>(a.n_blocks), static_cast<unsigned>(a.n_layer * a.n_kv));
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return nullptr;
  if (a.n_blocks > 65535 || a.n_layer * a.n_kv > 65535) return "rope_place_keys: grid too large";
  rope_place_kernel<T><<<grid, kThreads, 0, stream>>>(a);
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

}  // namespace

const char* rope_place_keys(const RopePlaceArgs& args, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (args.type) {
    case ElementType::kFloat32:
      return launch<float>(args, s);
    case ElementType::kBFloat16:
      return launch<__nv_bfloat16>(args, s);
    case ElementType::kFloat16:
      return launch<__half>(args, s);
  }
  return "rope_place_keys: unknown element type";
}

}  // namespace blockattn::kernels
