// Next-token choice from logits: greedy, or temperature / top-k / top-p sampling.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <random>

#include "blockattn/engine.h"

namespace blockattn {

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);  // InputError on out-of-range parameters
  // logits: [vocab] or [1, vocab], any device/dtype. Deterministic for a given seed on any device:
  // the draw happens on the host in float64.
  int32_t next(const torch::Tensor& logits);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace blockattn
