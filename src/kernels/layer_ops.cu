#include <algorithm>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/layer_ops.h"

namespace blockattn::kernels {

namespace {

template <class T>
__device__ float to_f(T x);
template <>
__device__ float to_f<float>(float x) {
  return x;
}
template <>
__device__ float to_f<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
template <>
__device__ float to_f<__half>(__half x) {
  return __half2float(x);
}
template <class T>
__device__ T from_f(float x);
template <>
__device__ float from_f<float>(float x) {
  return x;
}
template <>
__device__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __half from_f<__half>(float x) {
  return __float2half_rn(x);
}
// a * b and a + b in T: computed in fp32, rounded to T (what libtorch's elementwise kernels do).
template <class T>
__device__ float mul_t(float a, float b) {
  return to_f<T>(from_f<T>(__fmul_rn(a, b)));
}
template <class T>
__device__ float add_t(float a, float b) {
  return to_f<T>(from_f<T>(__fadd_rn(a, b)));
}

constexpr int kNormThreads = 256;

template <class T>
__global__ void rms_norm_kernel(const T* x, const T* w, T* out, int64_t hidden, float eps) {
  const T* row = x + blockIdx.x * hidden;
  T* dst = out + blockIdx.x * hidden;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < hidden; i += kNormThreads) {
    const float v = to_f(row[i]);
    sum = __fadd_rn(sum, __fmul_rn(v, v));
  }
  __shared__ float partial[kNormThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = sum;
  __syncthreads();
  __shared__ float scale;
  if (threadIdx.x == 0) {
    float total = 0.f;
    for (int i = 0; i < kNormThreads / 32; ++i) total += partial[i];
    scale = rsqrtf(__fadd_rn(__fdiv_rn(total, static_cast<float>(hidden)), eps));
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < hidden; i += kNormThreads) {
    const float normed = to_f(from_f<T>(__fmul_rn(to_f(row[i]), scale)));
    dst[i] = from_f<T>(__fmul_rn(to_f(w[i]), normed));
  }
}

template <class T>
__global__ void rope_kernel(const T* x, const T* cos, const T* sin, T* out, int64_t B, int64_t T_,
                            int64_t H, int64_t hd, int64_t cos_bstride) {
  const int64_t half = hd / 2;
  const int64_t n = B * T_ * H * half;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = idx % half;
    const int64_t h = (idx / half) % H;
    const int64_t t = (idx / (half * H)) % T_;
    const int64_t b = idx / (half * H * T_);
    const T* src = x + ((b * T_ + t) * H + h) * hd;
    T* dst = out + ((b * H + h) * T_ + t) * hd;
    const T* c = cos + b * cos_bstride + t * hd;
    const T* s = sin + b * cos_bstride + t * hd;
    const float x1 = to_f(src[i]), x2 = to_f(src[i + half]);
    // x * cos + cat(-x2, x1) * sin, each product and the sum rounded to T as in libtorch.
    dst[i] = from_f<T>(__fadd_rn(mul_t<T>(x1, to_f(c[i])), mul_t<T>(-x2, to_f(s[i]))));
    dst[i + half] =
        from_f<T>(__fadd_rn(mul_t<T>(x2, to_f(c[i + half])), mul_t<T>(x1, to_f(s[i + half]))));
  }
}

const char* last_error() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

}  // namespace

const char* rms_norm(const void* x, const void* weight, void* out, int64_t rows, int64_t hidden,
                     float eps, ElementType type, void* stream) {
  if (rows <= 0) return nullptr;
  if (rows > 2147483647) return "rms_norm: too many rows";
  auto s = static_cast<cudaStream_t>(stream);
  const dim3 grid(static_cast<unsigned>(rows));
  switch (type) {
    case ElementType::kFloat32:
      rms_norm_kernel<float><<<grid, kNormThreads, 0, s>>>(static_cast<const float*>(x),
                                                           static_cast<const float*>(weight),
                                                           static_cast<float*>(out), hidden, eps);
      break;
    case ElementType::kBFloat16:
      rms_norm_kernel<__nv_bfloat16><<<grid, kNormThreads, 0, s>>>(
          static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(weight),
          static_cast<__nv_bfloat16*>(out), hidden, eps);
      break;
    case ElementType::kFloat16:
      rms_norm_kernel<__half><<<grid, kNormThreads, 0, s>>>(static_cast<const __half*>(x),
                                                            static_cast<const __half*>(weight),
                                                            static_cast<__half*>(out), hidden, eps);
      break;
  }
  return last_error();
}

const char* rope(const void* x, const void* cos, const void* sin, void* out, int64_t B, int64_t T,
                 int64_t H, int64_t head_dim, int64_t cos_batch_stride, ElementType type,
                 void* stream) {
  const int64_t n = B * T * H * (head_dim / 2);
  if (n <= 0) return nullptr;
  auto s = static_cast<cudaStream_t>(stream);
  const int threads = 256;
  const unsigned blocks =
      static_cast<unsigned>(std::min<int64_t>((n + threads - 1) / threads, 65535));
  switch (type) {
    case ElementType::kFloat32:
      rope_kernel<float>
          <<<blocks, threads, 0, s>>>(static_cast<const float*>(x), static_cast<const float*>(cos),
                                      static_cast<const float*>(sin), static_cast<float*>(out), B,
                                      T, H, head_dim, cos_batch_stride);
      break;
    case ElementType::kBFloat16:
      rope_kernel<__nv_bfloat16><<<blocks, threads, 0, s>>>(
          static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(cos),
          static_cast<const __nv_bfloat16*>(sin), static_cast<__nv_bfloat16*>(out), B, T, H,
          head_dim, cos_batch_stride);
      break;
    case ElementType::kFloat16:
      rope_kernel<__half><<<blocks, threads, 0, s>>>(
          static_cast<const __half*>(x), static_cast<const __half*>(cos),
          static_cast<const __half*>(sin), static_cast<__half*>(out), B, T, H, head_dim,
          cos_batch_stride);
      break;
  }
  return last_error();
}

}  // namespace blockattn::kernels
