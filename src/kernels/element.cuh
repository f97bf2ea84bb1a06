// Element conversions shared by the CUDA kernels: fp32 / bf16 / fp16 to and from fp32, and
// the elementwise product and sum of libtorch's kernels in a reduced type (computed in fp32,
// rounded to the type), so fused kernels round exactly where the libtorch ops they replace do.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace blockattn::kernels {

template <class T>
__device__ inline float to_f(T x);
template <>
__device__ inline float to_f<float>(float x) {
  return x;
}
template <>
__device__ inline float to_f<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
template <>
__device__ inline float to_f<__half>(__half x) {
  return __half2float(x);
}

template <class T>
__device__ inline T from_f(float x);
template <>
__device__ inline float from_f<float>(float x) {
  return x;
}
template <>
__device__ inline __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ inline __half from_f<__half>(float x) {
  return __float2half_rn(x);
}

// a * b and a + b in T: computed in fp32, rounded to T (what libtorch's elementwise kernels do).
template <class T>
__device__ inline float mul_t(float a, float b) {
  return to_f<T>(from_f<T>(__fmul_rn(a, b)));
}
template <class T>
__device__ inline float add_t(float a, float b) {
  return to_f<T>(from_f<T>(__fadd_rn(a, b)));
}

// N elements of T loaded or stored as one access (16 bytes for N * sizeof(T) == 16); the
// address must be aligned to sizeof(Pack).
template <class T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

}  // namespace blockattn::kernels
