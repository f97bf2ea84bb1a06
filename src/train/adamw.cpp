#include "train/adamw.h"

#include "blockattn/error.h"

#include <cmath>

namespace blockattn::train {

double lr_at(const TrainConfig& t, int64_t step) {
  if (step < t.warmup_steps) return t.lr * static_cast<double>(step + 1) / static_cast<double>(t.warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(t.total_steps - t.warmup_steps, 1);
  const double progress = std::min(1.0, static_cast<double>(step - t.warmup_steps) / decay_steps);
  return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1.0 + std::cos(M_PI * progress));
}

AdamW::AdamW(const TrainConfig& t, std::vector<std::pair<std::string, torch::Tensor*>> weights) : t_(t) {
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : weights) {
    Param p;
    p.name = name;
    p.model = tensor;
    tensor->requires_grad_(true);
    if (tensor->scalar_type() == torch::kFloat32) {
      p.master = *tensor;
    } else {
      separate_ = true;
      p.master = tensor->to(torch::kFloat32).clone();
      p.grad = torch::zeros_like(p.master);
    }
    p.exp_avg = torch::zeros_like(p.master);
    p.exp_avg_sq = torch::zeros_like(p.master);
    // 1-D tensors are norms and biases; the embedding is a lookup table whose rows a batch
    // rarely touches, so decaying it mostly shrinks unseen tokens (GPT-style recipes exempt it).
    p.decay = tensor->dim() >= 2 && name != "model.embed_tokens.weight";
    params_.push_back(std::move(p));
  }
}

torch::Tensor& AdamW::grad_of(Param& p) { return separate_ ? p.grad : p.model->mutable_grad(); }

void AdamW::accumulate_grads() {
  if (!separate_) return;  // fp32 weights: autograd already sums micro-batch gradients in fp32
  torch::NoGradGuard no_grad;
  for (Param& p : params_) {
    torch::Tensor& g = p.model->mutable_grad();
    if (g.defined()) {
      p.grad.add_(g.to(torch::kFloat32));
      g = torch::Tensor();
    }
  }
}

torch::Tensor AdamW::clip_grads() {
  torch::NoGradGuard no_grad;
  torch::Tensor sq = torch::zeros({}, params_.front().master.options());  // []
  for (Param& p : params_) {
    torch::Tensor& g = grad_of(p);
    if (g.defined()) sq = sq + g.pow(2).sum();
  }
  torch::Tensor norm = sq.sqrt();  // []
  if (t_.grad_clip > 0) {
    // Kept on the device (no .item()): the host never waits for the GPU here.
    torch::Tensor coef = torch::clamp_max(t_.grad_clip / (norm + 1e-6), 1.0);  // []
    for (Param& p : params_) {
      torch::Tensor& g = grad_of(p);
      if (g.defined()) g.mul_(coef);
    }
  }
  return norm;
}

void AdamW::step(int64_t step, double lr) {
  torch::NoGradGuard no_grad;
  const double t = static_cast<double>(step + 1);
  const double bc1 = 1.0 - std::pow(t_.beta1, t), bc2 = 1.0 - std::pow(t_.beta2, t);
  for (Param& p : params_) {
    torch::Tensor& g = grad_of(p);
    if (!g.defined()) continue;  // a weight the loss does not reach (none in a plain decoder)
    if (p.decay && t_.weight_decay > 0) p.master.mul_(1.0 - lr * t_.weight_decay);
    p.exp_avg.mul_(t_.beta1).add_(g, 1.0 - t_.beta1);
    p.exp_avg_sq.mul_(t_.beta2).addcmul_(g, g, 1.0 - t_.beta2);
    torch::Tensor denom = (p.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(t_.eps);  // [same shape]
    p.master.addcdiv_(p.exp_avg, denom, -lr / bc1);
    if (separate_) {
      p.model->copy_(p.master);
      g.zero_();
    } else {
      g = torch::Tensor();
    }
  }
}

std::vector<torch::Tensor> AdamW::gradients() {
  std::vector<torch::Tensor> out;
  for (Param& p : params_) {
    torch::Tensor& g = grad_of(p);
    if (!g.defined()) throw InputError("parameter " + p.name + " received no gradient");
    out.push_back(g);
  }
  return out;
}

void AdamW::sync_model() {
  if (!separate_) return;
  torch::NoGradGuard no_grad;
  for (Param& p : params_) p.model->copy_(p.master);
}

}  // namespace blockattn::train
