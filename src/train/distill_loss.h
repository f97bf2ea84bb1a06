// Losses of block distillation (docs/distillation.md).
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace blockattn::train {

// KL(p ‖ q) per prediction, p = softmax(teacher / τ), q = softmax(student / τ), scaled by τ² so
// gradient magnitudes do not shrink with τ. teacher, student: [N, V] logits (any float dtype);
// returns [N] float32. Gradients flow into `student` only.
torch::Tensor kl_per_prediction(const torch::Tensor& teacher, const torch::Tensor& student,
                                double temperature);

// Token-level loss weights from block sensitivity D ([N] ≥ 0, e.g. KL(teacher full ‖ teacher
// block)): w = 1 + α·min(D / mean_row(D), cap), then divided by its row mean so every row keeps
// weight 1 per prediction on average. The cap keeps a handful of extreme tokens from taking a
// row's whole gradient (D is heavy-tailed: a trial without it lost QA accuracy within 30 steps).
// `row` ([N] int64 in [0, rows)) groups predictions; rows whose D is all zero get w = 1. α = 0
// gives all ones. Returns [N] float32, no gradient.
torch::Tensor sensitivity_weights(const torch::Tensor& sensitivity, const torch::Tensor& row,
                                  int64_t rows, double alpha, double cap = 4.0);

}  // namespace blockattn::train
