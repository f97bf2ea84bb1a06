#include "model/layer_checkpoint.h"

#include <optional>

#include "model/compat.h"

namespace blockattn {

torch::Tensor LayerCheckpoint::run(const Model& model, int64_t layer, const torch::Tensor& x,
                                   int64_t B, const torch::Tensor& cos, const torch::Tensor& sin,
                                   const Model::KVTarget& kv) {
  return apply(x, &model, layer, B, &cos, &sin, &kv);
}

torch::Tensor LayerCheckpoint::forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                                       const Model* model, int64_t layer, int64_t B,
                                       const torch::Tensor* cos, const torch::Tensor* sin,
                                       const Model::KVTarget* kv) {
  // Everything backward needs, by value: the caller's KVTarget and tensors are gone by then.
  auto& saved = ctx->saved_data;
  saved["model"] = reinterpret_cast<int64_t>(model);  // outlives the step that trains it
  saved["layer"] = layer;
  saved["B"] = B;
  saved["cos"] = *cos;
  saved["sin"] = *sin;
  saved["has_mask"] = kv->mask != nullptr;
  if (kv->mask) saved["mask"] = *kv->mask;
  saved["has_spans"] = kv->spans != nullptr;
  if (kv->spans) {
    saved["spans"] = kv->spans->spans;
    saved["key_index"] = kv->spans->key_index;
    saved["cu_q"] = kv->spans->cu_q;
    saved["cu_k"] = kv->spans->cu_k;
    saved["max_q"] = kv->spans->max_q;
    saved["max_k"] = kv->spans->max_k;
    saved["tokens"] = kv->spans->tokens;
  }
  const bool random = model->draws_random();
  saved["random"] = random;
  if (random) {
    at::Generator gen = compat::default_generator(x.device());
    std::lock_guard<std::mutex> lock(gen.mutex());
    saved["rng"] = gen.get_state();
  }
  ctx->save_for_backward({x});
  // Autograd stays on, as in the plain forward (dropout and the choice of kernels follow it);
  // the graph built here is dropped with `out` at return, so no activation outlives the layer.
  torch::AutoGradMode grad(true);
  Model::KVTarget target;
  target.mask = kv->mask;
  target.spans = kv->spans;
  torch::Tensor out = model->train_layer(layer, x.detach(), B, *cos, *sin, target);
  return out.detach();  // [B*T, hidden]
}

torch::autograd::variable_list LayerCheckpoint::backward(torch::autograd::AutogradContext* ctx,
                                                         torch::autograd::variable_list grad_out) {
  auto& saved = ctx->saved_data;
  const auto* model = reinterpret_cast<const Model*>(saved["model"].toInt());
  torch::Tensor x = ctx->get_saved_variables()[0];  // [B*T, hidden]
  torch::Tensor mask;
  SpanPlan plan;
  Model::KVTarget target;
  if (saved["has_mask"].toBool()) {
    mask = saved["mask"].toTensor();
    target.mask = &mask;
  }
  if (saved["has_spans"].toBool()) {
    plan.spans = saved["spans"].toTensor();
    plan.key_index = saved["key_index"].toTensor();
    plan.cu_q = saved["cu_q"].toTensor();
    plan.cu_k = saved["cu_k"].toTensor();
    plan.max_q = saved["max_q"].toInt();
    plan.max_k = saved["max_k"].toInt();
    plan.tokens = saved["tokens"].toInt();
    target.spans = &plan;
  }
  // Replay the forward's random draws, then give the generator back its own state.
  std::optional<torch::Tensor> outer_state;
  at::Generator gen = compat::default_generator(x.device());
  if (saved["random"].toBool()) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    outer_state = gen.get_state();
    gen.set_state(saved["rng"].toTensor());
  }
  torch::Tensor input = x.detach().requires_grad_(true);
  {
    torch::AutoGradMode grad(true);
    torch::Tensor out =
        model->train_layer(saved["layer"].toInt(), input, saved["B"].toInt(),
                           saved["cos"].toTensor(), saved["sin"].toTensor(), target);
    torch::autograd::backward({out}, {grad_out[0]});
  }
  if (outer_state) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(*outer_state);
  }
  // One gradient per argument of forward: x's, and none for the others.
  return {input.grad(), {}, {}, {}, {}, {}, {}};
}

}  // namespace blockattn
