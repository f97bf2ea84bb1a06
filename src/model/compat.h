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
//   mask: optional bool (true = may attend), [Tq, Tk] broadcast over batch and heads, or
//         [B, 1, Tq, Tk] broadcast over heads
//   causal: top-left causal mask; only valid with Tq == Tk and no `mask`
// Returns [B, n_head, Tq, D] in q's dtype. libtorch 2.x dispatches to flash / memory-efficient
// kernels on CUDA (flash when causal and mask is absent); 1.13 has no fused SDPA, so the math
// path below runs, with softmax in fp32.
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const std::optional<torch::Tensor>& mask,
                               bool causal) {
  const int64_t n_rep = q.size(1) / k.size(1);
#if BLOCKATTN_TORCH_2
  c10::optional<torch::Tensor> m;
  if (mask) m = *mask;
  return at::scaled_dot_product_attention(q, k, v, m, /*dropout_p=*/0.0, causal,
                                          /*scale=*/c10::nullopt, /*enable_gqa=*/n_rep > 1);
#else
  // Grouped-query attention without copying K/V: the n_rep query heads that share a KV head are
  // folded into the query-length dimension. q's heads are kv-major (head h reads KV head h /
  // n_rep).
  const int64_t B = q.size(0), n_kv = k.size(1), Tq = q.size(2), Tk = k.size(2), D = q.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  torch::Tensor qf =
      q.to(torch::kFloat32).reshape({B, n_kv, n_rep * Tq, D});  // [B, n_kv, n_rep*Tq, D]
  torch::Tensor scores =
      torch::matmul(qf, k.to(torch::kFloat32).transpose(-2, -1)) *  // [B, n_kv, n_rep*Tq, Tk]
      scale;
  if (causal || mask) {
    torch::Tensor allowed =
        causal ? torch::ones({Tq, Tk}, q.options().dtype(torch::kBool)).tril() : *mask;
    if (allowed.dim() == 4) allowed = allowed.unsqueeze(1);  // [B, 1, 1, Tq, Tk] over (n_kv, n_rep)
    scores = scores.view({B, n_kv, n_rep, Tq, Tk})
                 .masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity())
                 .view({B, n_kv, n_rep * Tq, Tk});
  }
  torch::Tensor probs = torch::softmax(scores, -1);
  return torch::matmul(probs, v.to(torch::kFloat32))
      .view({B, n_kv * n_rep, Tq, D})
      .to(q.scalar_type());
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
