// Fused CUDA versions of RMSNorm and RoPE for inference (kernels/layer_ops.h). Each returns an
// undefined tensor where it does not apply -- the CPU, a build without the kernels, autograd
// recording, an unsupported dtype or layout, or BLOCKATTN_FUSED_KERNELS=0 -- and the caller then
// runs its libtorch ops, which compute the same thing (tests/cuda compares them).
#pragma once

#include <torch/torch.h>

#include <utility>

namespace blockattn {

// x [..., hidden] contiguous, weight [hidden]: HF's RMSNorm in x's dtype.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// HF's residual add and RMSNorm in one pass: {x + delta, RMSNorm(x + delta) * weight}, each in
// x's dtype. x, delta [rows, hidden] contiguous. Both undefined where the kernel does not apply.
std::pair<torch::Tensor, torch::Tensor> fused_add_rms_norm(const torch::Tensor& x,
                                                           const torch::Tensor& delta,
                                                           const torch::Tensor& weight, double eps);

// SwiGLU of a fused gate/up projection: gate_up [rows, 2 * inter] contiguous, gate columns
// first; returns torch::silu(gate) * up, [rows, inter].
torch::Tensor fused_silu_mul(const torch::Tensor& gate_up);

// x [B, T, H, hd] with heads adjacent and head_dim contiguous, tokens at one stride (contiguous,
// or the q / k columns of a fused QKV projection); cos, sin [T, hd] or [B, 1, T, hd] contiguous,
// x's dtype. Returns RotaryEmbedding::apply(x.transpose(1, 2), cos, sin) as a contiguous [B, H, T,
// hd] tensor.
torch::Tensor fused_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin);

}  // namespace blockattn
