#include <algorithm>

#include <cuda_runtime.h>

#include "kernels/element.cuh"
#include "kernels/layer_ops.h"

namespace blockattn::kernels {

namespace {

constexpr int kNormThreads = 256;

// One row per CTA. With `delta`, the row is first replaced by x + delta (rounded to T, as
// libtorch's add) and that sum is written to `sum_out`; then RMSNorm of the row into `out`.
template <class T>
__global__ void rms_norm_kernel(const T* x, const T* delta, const T* w, T* sum_out, T* out,
                                int64_t hidden, float eps) {
  const T* row = x + blockIdx.x * hidden;
  T* dst = out + blockIdx.x * hidden;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < hidden; i += kNormThreads) {
    float v = to_f(row[i]);
    if (delta) {
      v = add_t<T>(v, to_f(delta[blockIdx.x * hidden + i]));
      sum_out[blockIdx.x * hidden + i] = from_f<T>(v);
    }
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
  // Each thread reads back only the sums it wrote itself (same indices), so no barrier is needed.
  const T* src = delta ? sum_out + blockIdx.x * hidden : row;
  for (int64_t i = threadIdx.x; i < hidden; i += kNormThreads) {
    const float normed = to_f(from_f<T>(__fmul_rn(to_f(src[i]), scale)));
    dst[i] = from_f<T>(__fmul_rn(to_f(w[i]), normed));
  }
}

// silu(gate) * up over rows of [gate | up] (the fused gate/up projection's output, row stride
// 2 * inter): silu rounded to T, then the product rounded to T, as libtorch computes
// torch::silu(gate) * up.
template <class T>
__global__ void silu_mul_kernel(const T* gate_up, T* out, int64_t rows, int64_t inter) {
  const int64_t n = rows * inter;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = idx / inter, j = idx % inter;
    const float g = to_f(gate_up[r * 2 * inter + j]);
    const float silu = to_f(from_f<T>(__fdiv_rn(g, __fadd_rn(1.f, expf(-g)))));
    out[idx] = from_f<T>(__fmul_rn(silu, to_f(gate_up[r * 2 * inter + inter + j])));
  }
}

template <class T>
__global__ void rope_kernel(const T* x, const T* cos, const T* sin, T* out, int64_t B, int64_t T_,
                            int64_t H, int64_t hd, int64_t x_token_stride, int64_t cos_bstride) {
  const int64_t half = hd / 2;
  const int64_t n = B * T_ * H * half;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = idx % half;
    const int64_t h = (idx / half) % H;
    const int64_t t = (idx / (half * H)) % T_;
    const int64_t b = idx / (half * H * T_);
    const T* src = x + (b * T_ + t) * x_token_stride + h * hd;
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

// Calls fn(T{}) with T the element type of `type`.
template <class Fn>
void with_type(ElementType type, Fn&& fn) {
  switch (type) {
    case ElementType::kFloat32:
      fn(float{});
      break;
    case ElementType::kBFloat16:
      fn(__nv_bfloat16{});
      break;
    case ElementType::kFloat16:
      fn(__half{});
      break;
  }
}

unsigned grid_for(int64_t n, int threads) {
  return static_cast<unsigned>(std::min<int64_t>((n + threads - 1) / threads, 65535));
}

}  // namespace

const char* rms_norm(const void* x, const void* delta, const void* weight, void* sum_out, void* out,
                     int64_t rows, int64_t hidden, float eps, ElementType type, void* stream) {
  if (rows <= 0) return nullptr;
  if (rows > 2147483647) return "rms_norm: too many rows";
  if ((delta == nullptr) != (sum_out == nullptr)) return "rms_norm: delta needs sum_out";
  with_type(type, [&](auto zero) {
    using T = decltype(zero);
    rms_norm_kernel<T>
        <<<static_cast<unsigned>(rows), kNormThreads, 0, static_cast<cudaStream_t>(stream)>>>(
            static_cast<const T*>(x), static_cast<const T*>(delta), static_cast<const T*>(weight),
            static_cast<T*>(sum_out), static_cast<T*>(out), hidden, eps);
  });
  return last_error();
}

const char* silu_mul(const void* gate_up, void* out, int64_t rows, int64_t inter, ElementType type,
                     void* stream) {
  const int64_t n = rows * inter;
  if (n <= 0) return nullptr;
  constexpr int kThreads = 256;
  with_type(type, [&](auto zero) {
    using T = decltype(zero);
    silu_mul_kernel<T><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(gate_up), static_cast<T*>(out), rows, inter);
  });
  return last_error();
}

const char* rope(const void* x, const void* cos, const void* sin, void* out, int64_t B, int64_t T,
                 int64_t H, int64_t head_dim, int64_t x_token_stride, int64_t cos_batch_stride,
                 ElementType type, void* stream) {
  const int64_t n = B * T * H * (head_dim / 2);
  if (n <= 0) return nullptr;
  constexpr int kThreads = 256;
  with_type(type, [&](auto zero) {
    using E = decltype(zero);
    rope_kernel<E><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const E*>(x), static_cast<const E*>(cos), static_cast<const E*>(sin),
        static_cast<E*>(out), B, T, H, head_dim, x_token_stride, cos_batch_stride);
  });
  return last_error();
}

}  // namespace blockattn::kernels
