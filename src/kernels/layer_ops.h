// Fused CUDA kernels for the small per-layer operations of inference (torch-free interface, see
// kernels/rope_place.h). A decode step launches ~50 kernels per layer; RMSNorm (8 libtorch ops),
// RoPE (5 per tensor), the residual adds and SwiGLU's two were most of them, and in a replayed CUDA
// graph each costs ~2 µs of GPU time however little work it does.
#pragma once

#include <cstdint>

#include "kernels/rope_place.h"

namespace blockattn::kernels {

// HF's LlamaRMSNorm on rows of `hidden` elements: y = weight * T(x * rsqrt(mean(x²) + eps)),
// x upcast to fp32, the product rounded to T before the (T) multiplication by the weight.
// With `delta` (else nullptr, and sum_out nullptr too), the residual add before the norm is
// fused: sum_out = T(x + delta), y = RMSNorm(sum_out).
// x, delta, sum_out, out: [rows, hidden] contiguous; weight: [hidden].
const char* rms_norm(const void* x, const void* delta, const void* weight, void* sum_out, void* out,
                     int64_t rows, int64_t hidden, float eps, ElementType type, void* stream);

// The SwiGLU activation of a fused gate/up projection: gate_up [rows, 2 * inter] contiguous
// (gate columns first, then up), out [rows, inter] = T(T(silu(gate)) * up).
const char* silu_mul(const void* gate_up, void* out, int64_t rows, int64_t inter, ElementType type,
                     void* stream);

// RoPE of x [B, T, H, hd] (head_dim contiguous, heads adjacent, token b*T + t at offset
// (b*T + t) * x_token_stride: H * hd when contiguous, more when x is the q or k part of a fused
// QKV projection) into out [B, H, T, hd] (contiguous): out = x * cos + rotate_half(x) * sin
// with every product and the sum rounded to T, exactly as RotaryEmbedding::apply computes it
// in T. cos, sin: [T, hd] shared by the batch (cos_batch_stride = 0) or [B, 1, T, hd]
// (cos_batch_stride = T * hd), in T.
const char* rope(const void* x, const void* cos, const void* sin, void* out, int64_t B, int64_t T,
                 int64_t H, int64_t head_dim, int64_t x_token_stride, int64_t cos_batch_stride,
                 ElementType type, void* stream);

}  // namespace blockattn::kernels
