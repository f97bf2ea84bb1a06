#include "model/rope.h"

#include <cmath>

#include "blockattn/error.h"

namespace blockattn {

namespace {

// HF transformers' _compute_llama3_parameters, in double precision.
double llama3_scale(double inv_freq, const RopeConfig& rope) {
  const double old_ctx = static_cast<double>(rope.original_max_position_embeddings);
  const double low_freq_wavelen = old_ctx / rope.low_freq_factor;
  const double high_freq_wavelen = old_ctx / rope.high_freq_factor;
  const double wavelen = 2.0 * M_PI / inv_freq;
  if (wavelen < high_freq_wavelen) return inv_freq;
  if (wavelen > low_freq_wavelen) return inv_freq / rope.factor;
  const double smooth =
      (old_ctx / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
  return (1.0 - smooth) * inv_freq / rope.factor + smooth * inv_freq;
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config) : head_dim_(config.head_dim) {
  if (head_dim_ % 2 != 0) throw UnsupportedError("RoPE needs an even head_dim, got " + std::to_string(head_dim_));
  inv_freq_.resize(head_dim_ / 2);
  for (int64_t i = 0; i < head_dim_ / 2; ++i) {
    double f = 1.0 / std::pow(config.rope.theta, static_cast<double>(2 * i) / static_cast<double>(head_dim_));
    if (config.rope.type == "llama3") f = llama3_scale(f, config.rope);
    inv_freq_[i] = f;
  }
}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::cos_sin(const std::vector<int64_t>& positions,
                                                                 torch::TensorOptions options) const {
  const int64_t T = static_cast<int64_t>(positions.size());
  const int64_t half = head_dim_ / 2;
  torch::Tensor cos = torch::empty({T, head_dim_}, torch::kFloat64);  // [T, head_dim]
  torch::Tensor sin = torch::empty({T, head_dim_}, torch::kFloat64);  // [T, head_dim]
  double* c = cos.data_ptr<double>();
  double* s = sin.data_ptr<double>();
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(positions[t]) * inv_freq_[i];
      c[t * head_dim_ + i] = c[t * head_dim_ + i + half] = std::cos(a);
      s[t * head_dim_ + i] = s[t * head_dim_ + i + half] = std::sin(a);
    }
  }
  return {cos.to(options), sin.to(options)};
}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::cos_sin_range(int64_t start, int64_t count,
                                                                       torch::TensorOptions options) const {
  std::vector<int64_t> pos(count);
  for (int64_t i = 0; i < count; ++i) pos[i] = start + i;
  return cos_sin(pos, options);
}

torch::Tensor RotaryEmbedding::apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor x1 = x.narrow(-1, 0, half);
  torch::Tensor x2 = x.narrow(-1, half, half);
  torch::Tensor rotated = torch::cat({-x2, x1}, -1);  // rotate_half(x)
  return x * cos + rotated * sin;
}

torch::Tensor RotaryEmbedding::shift(const torch::Tensor& k, int64_t offset) const {
  if (offset == 0) return k;
  // Rotate in fp32 at least: a bf16 cos/sin table would add its own rounding to every key.
  auto compute_type = k.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto [cos, sin] = cos_sin({offset}, k.options().dtype(compute_type));  // [1, head_dim]
  return apply(k.to(compute_type), cos, sin).to(k.scalar_type());
}

torch::Tensor RotaryEmbedding::shift_blocks(const torch::Tensor& k, const std::vector<int64_t>& offsets,
                                           const std::vector<int64_t>& lengths) const {
  auto compute_type = k.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto [cos, sin] = cos_sin(offsets, k.options().dtype(compute_type));  // [n_blocks, head_dim] each
  // Expand per block to per position on the device: one small index upload, no per-block kernels.
  std::vector<int64_t> block_of_position;
  for (size_t b = 0; b < lengths.size(); ++b) block_of_position.insert(block_of_position.end(), lengths[b], b);
  torch::Tensor index = torch::tensor(block_of_position, torch::kInt64).to(k.device());  // [Σ lengths]
  return apply(k.to(compute_type), cos.index_select(0, index), sin.index_select(0, index)).to(k.scalar_type());
}

}  // namespace blockattn
