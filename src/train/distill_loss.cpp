#include "train/distill_loss.h"

#include "blockattn/error.h"

namespace blockattn::train {

torch::Tensor kl_per_prediction(const torch::Tensor& teacher, const torch::Tensor& student,
                                double temperature) {
  if (!(temperature > 0)) throw InputError("distillation temperature must be positive");
  if (teacher.sizes() != student.sizes() || teacher.dim() != 2)
    throw InputError("teacher and student logits must both be [N, V]");
  torch::Tensor log_p =
      torch::log_softmax(teacher.detach().to(torch::kFloat32) / temperature, -1);  // [N, V]
  torch::Tensor log_q =
      torch::log_softmax(student.to(torch::kFloat32) / temperature, -1);         // [N, V]
  return (log_p.exp() * (log_p - log_q)).sum(-1) * (temperature * temperature);  // [N]
}

torch::Tensor sensitivity_weights(const torch::Tensor& sensitivity, const torch::Tensor& row,
                                  int64_t rows, double alpha, double cap) {
  torch::NoGradGuard no_grad;
  torch::Tensor d = sensitivity.detach().to(torch::kFloat32).clamp_min(0);  // [N]
  if (alpha == 0 || d.numel() == 0) return torch::ones_like(d);
  auto row_mean = [&](const torch::Tensor& v) {  // [N]: the mean of v over each prediction's row
    torch::Tensor sum = torch::zeros({rows}, v.options()).index_add_(0, row, v);  // [rows]
    torch::Tensor count =
        torch::zeros({rows}, v.options()).index_add_(0, row, torch::ones_like(v));  // [rows]
    return (sum / count.clamp_min(1)).index_select(0, row);
  };
  torch::Tensor mean_d = row_mean(d);  // [N]
  torch::Tensor relative =
      torch::where(mean_d > 0, d / mean_d.clamp_min(1e-30), torch::zeros_like(d));  // [N]
  torch::Tensor w = 1 + alpha * relative.clamp_max(cap);                            // [N]
  return w / row_mean(w);
}

}  // namespace blockattn::train
