// AdamW with decoupled weight decay over fp32 master weights, the LR schedule and gradient
// clipping. Written out (rather than torch::optim::AdamW) so its state is a plain list of
// named tensors that the checkpoint stores and restores bit for bit.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <string>
#include <vector>

#include "train/train_config.h"

namespace blockattn::train {

// Linear warm-up to lr over warmup_steps (step 0 runs at lr / warmup_steps), then cosine
// decay to min_lr at total_steps. `step` is 0-based.
double lr_at(const TrainConfig& t, int64_t step);

struct Param {
  std::string name;
  torch::Tensor* model;   // the weight the forward uses (bf16 on CUDA, fp32 on CPU); requires_grad
  torch::Tensor master;   // [same shape] fp32; the same tensor as *model when the model is fp32
  torch::Tensor grad;     // [same shape] fp32 accumulated gradient (separate masters only)
  torch::Tensor exp_avg, exp_avg_sq;  // [same shape] fp32 moments
  bool decay = true;
};

class AdamW {
 public:
  // Takes the model's weights (name, tensor) and sets requires_grad on them. Decay applies to
  // matrices except the token embedding (norm weights and biases never decay).
  AdamW(const TrainConfig& t, std::vector<std::pair<std::string, torch::Tensor*>> weights);

  std::vector<Param>& params() { return params_; }
  bool separate_masters() const { return separate_; }

  // After each micro-batch's backward: moves the model's gradients into the fp32 accumulators
  // (separate masters), so bf16 gradients are never summed in bf16.
  void accumulate_grads();
  // Clips the global gradient norm to grad_clip (when > 0); returns the pre-clip norm [] on device.
  torch::Tensor clip_grads();
  // One update at `lr`, then drops the gradients. `step` is the 0-based step being taken.
  void step(int64_t step, double lr);
  // Copies masters into the model weights (after a restore).
  void sync_model();
  // The fp32 gradient accumulators (after accumulate_grads), one per parameter in params()
  // order, for data-parallel all-reduce. InputError if a parameter received no gradient.
  std::vector<torch::Tensor> gradients();

 private:
  torch::Tensor& grad_of(Param& p);

  TrainConfig t_;
  std::vector<Param> params_;
  bool separate_ = false;
};

}  // namespace blockattn::train
