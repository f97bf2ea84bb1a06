#include "engine/sampler.h"

#include <algorithm>
#include <numeric>

#include "blockattn/error.h"

namespace blockattn {

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  if (!(params.temperature >= 0.0f)) throw InputError("temperature must be >= 0");
  if (params.top_k < 0) throw InputError("top_k must be >= 0");
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f)) throw InputError("top_p must be in (0, 1]");
}

int32_t Sampler::next(const torch::Tensor& logits) {
  torch::Tensor row = logits.reshape({-1});  // [vocab]
  if (params_.temperature == 0.0f) return static_cast<int32_t>(row.argmax().item<int64_t>());

  torch::Tensor scaled = row.to(torch::kCPU, torch::kFloat64) / static_cast<double>(params_.temperature);
  const int64_t vocab = scaled.size(0);
  const int64_t k = params_.top_k > 0 ? std::min<int64_t>(params_.top_k, vocab) : vocab;
  auto [top_vals, top_idx] = scaled.topk(k);  // sorted descending, [k] each
  torch::Tensor probs = torch::softmax(top_vals, 0).contiguous();  // [k]
  const double* p = probs.data_ptr<double>();
  const int64_t* idx = top_idx.contiguous().data_ptr<int64_t>();
  // Nucleus: the smallest prefix whose mass reaches top_p (at least one token).
  int64_t keep = k;
  if (params_.top_p < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < k; ++i) {
      mass += p[i];
      if (mass >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = std::accumulate(p, p + keep, 0.0);
  double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (int64_t i = 0; i < keep; ++i) {
    u -= p[i];
    if (u <= 0) return static_cast<int32_t>(idx[i]);
  }
  return static_cast<int32_t>(idx[keep - 1]);
}

}  // namespace blockattn
