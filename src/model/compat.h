// Every difference between the libtorch versions we build against lives here:
// Debian 12's libtorch 1.13 (CPU, this machine and CI) and PyTorch 2.11's libtorch (CUDA 13, H200).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <optional>

#define BLOCKATTN_TORCH_2 (TORCH_VERSION_MAJOR >= 2)

namespace blockattn::compat {

// Scaled dot-product attention with grouped-query attention.
//   q:    [B, n_head, Tq, D]
//   k, v: [B, n_kv_head, Tk, D]   (n_head % n_kv_head == 0)
//   mask: optional bool [Tq, Tk] (true = may attend); broadcast over batch and heads
//   causal: top-left causal mask; only valid with Tq == Tk and no `mask`
// Returns [B, n_head, Tq, D] in q's dtype. libtorch 2.x dispatches to flash / memory-efficient
// kernels on CUDA (flash when causal and mask is absent); 1.13 has no fused SDPA, so the math
// path below runs, with softmax in fp32.
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const std::optional<torch::Tensor>& mask, bool causal) {
  const int64_t n_rep = q.size(1) / k.size(1);
#if BLOCKATTN_TORCH_2
  c10::optional<torch::Tensor> m;
  if (mask) m = *mask;
  return at::scaled_dot_product_attention(q, k, v, m, /*dropout_p=*/0.0, causal,
                                          /*scale=*/c10::nullopt, /*enable_gqa=*/n_rep > 1);
#else
  torch::Tensor kk = n_rep > 1 ? k.repeat_interleave(n_rep, 1) : k;  // [B, n_head, Tk, D]
  torch::Tensor vv = n_rep > 1 ? v.repeat_interleave(n_rep, 1) : v;
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  torch::Tensor scores = torch::matmul(q.to(torch::kFloat32), kk.to(torch::kFloat32).transpose(-2, -1)) *
                         scale;  // [B, n_head, Tq, Tk]
  if (causal) {
    auto allowed = torch::ones({q.size(2), k.size(2)}, q.options().dtype(torch::kBool)).tril();
    scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  } else if (mask) {
    scores = scores.masked_fill(mask->logical_not(), -std::numeric_limits<float>::infinity());
  }
  torch::Tensor probs = torch::softmax(scores, -1);
  return torch::matmul(probs, vv.to(torch::kFloat32)).to(q.scalar_type());
#endif
}

inline const char* torch_version() { return TORCH_VERSION; }

}  // namespace blockattn::compat

namespace blockattn::compat {
// Waits for queued device work so wall-clock timings are honest.
inline void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}
}  // namespace blockattn::compat
