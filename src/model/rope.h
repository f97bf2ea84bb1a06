// Rotary position embedding (RoPE), HF's rotate-half convention, with llama3 frequency scaling.
//
// Angles are computed in double precision and only then rounded to the model dtype, so a K
// rotated at position p and later re-rotated by an offset o (block placement) matches a K rotated
// at p + o directly to within one rounding of the final values.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "blockattn/model_config.h"

namespace blockattn {

class RotaryEmbedding {
 public:
  RotaryEmbedding(const ModelConfig& config);

  int64_t head_dim() const { return head_dim_; }
  const std::vector<double>& inv_freq() const { return inv_freq_; }  // [head_dim / 2]

  // cos and sin for integer positions, each [T, head_dim], dtype/device as requested.
  std::pair<torch::Tensor, torch::Tensor> cos_sin(const std::vector<int64_t>& positions,
                                                  torch::TensorOptions options) const;
  // Same for the contiguous range [start, start + count).
  std::pair<torch::Tensor, torch::Tensor> cos_sin_range(int64_t start, int64_t count,
                                                        torch::TensorOptions options) const;

  // x: [..., T, head_dim]; cos, sin: [T, head_dim]. Returns x rotated.
  static torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

  // Rotates every position of k ([..., T, head_dim]) by the same extra `offset`:
  // the RoPE re-encoding that moves a block's keys from local positions to global ones.
  torch::Tensor shift(const torch::Tensor& k, int64_t offset) const;

  // Several blocks at once: k ([..., Σ lengths, head_dim]) holds blocks back to back, block i
  // being lengths[i] positions long and moved by offsets[i]. One rotation for the whole range.
  torch::Tensor shift_blocks(const torch::Tensor& k, const std::vector<int64_t>& offsets,
                             const std::vector<int64_t>& lengths) const;

 private:
  int64_t head_dim_;
  std::vector<double> inv_freq_;
};

}  // namespace blockattn
