// Activation checkpointing of one decoder layer (Model::TrainInputs::checkpoint_layers).
//
// The forward pass keeps only the layer's input; backward runs the layer again with autograd and
// back-propagates through that copy, the way PyTorch's reentrant checkpoint does: parameter
// gradients accumulate into their .grad as usual, and the input's gradient flows on to the layer
// below. The recomputation runs the same operations (Model::train_layer) on the same input, with
// the random generator restored where the layer draws (LoRA dropout), so the gradients equal
// those of the plain forward. Thread-local scopes are not carried into the recomputation, which
// runs on autograd's thread: a checkpointed forward inside a Model::BaseOnly scope would be
// recomputed with the adapter on (training never does this; the teacher pass is gradient-free).
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "model/model.h"

namespace blockattn {

class LayerCheckpoint : public torch::autograd::Function<LayerCheckpoint> {
 public:
  // train_layer(layer, x, ...) of `model`, checkpointed. x [B*T, hidden] requires grad; the
  // tensors `kv` points to (mask, span plan) are kept by the autograd graph until backward.
  static torch::Tensor run(const Model& model, int64_t layer, const torch::Tensor& x, int64_t B,
                           const torch::Tensor& cos, const torch::Tensor& sin,
                           const Model::KVTarget& kv);

  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               const Model* model, int64_t layer, int64_t B,
                               const torch::Tensor* cos, const torch::Tensor* sin,
                               const Model::KVTarget* kv);
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out);
};

}  // namespace blockattn
