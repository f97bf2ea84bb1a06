#include "model/model.h"

#include "blockattn/error.h"
#include "model/compat.h"
#include "model/torch_dtype.h"

namespace blockattn {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device("cuda:0") : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw UnsupportedError("device \"" + name + "\" requested but this build/machine has no CUDA");
    return torch::Device(name == "cuda" ? "cuda:0" : name);
  }
  throw UnsupportedError("unknown device \"" + name + "\" (use auto, cpu, cuda or cuda:N)");
}

Model::Model(ModelConfig config, torch::Device device, torch::ScalarType dtype)
    : config_(std::move(config)), rope_(config_), device_(device), dtype_(dtype) {
  weights_.layers.resize(config_.num_layers);
}

torch::Tensor Model::rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  // As HF: normalise in fp32, cast back, then scale.
  torch::Tensor xf = x.to(torch::kFloat32);
  torch::Tensor var = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * torch::rsqrt(var + config_.rms_norm_eps)).to(x.scalar_type());
}

torch::Tensor Model::attention_block(const LayerWeights& w, int64_t layer, const torch::Tensor& x,
                                     const torch::Tensor& cos, const torch::Tensor& sin,
                                     KVCache& cache) const {
  const int64_t T = x.size(0);
  const int64_t hd = config_.head_dim;
  // x: [T, hidden]
  torch::Tensor q = torch::linear(x, w.q_proj, w.q_bias).view({T, config_.num_heads, hd});     // [T, n_head, hd]
  torch::Tensor k = torch::linear(x, w.k_proj, w.k_bias).view({T, config_.num_kv_heads, hd});  // [T, n_kv, hd]
  torch::Tensor v = torch::linear(x, w.v_proj, w.v_bias).view({T, config_.num_kv_heads, hd});  // [T, n_kv, hd]
  if (config_.qk_norm) {
    q = rms_norm(q, w.q_norm);
    k = rms_norm(k, w.k_norm);
  }
  q = RotaryEmbedding::apply(q.transpose(0, 1), cos, sin).unsqueeze(0);  // [1, n_head, T, hd]
  k = RotaryEmbedding::apply(k.transpose(0, 1), cos, sin).unsqueeze(0);  // [1, n_kv, T, hd]
  v = v.transpose(0, 1).unsqueeze(0);                                    // [1, n_kv, T, hd]

  const int64_t past = cache.size();
  cache.write(layer, k, v);
  torch::Tensor keys = cache.keys(layer, past + T);      // [1, n_kv, past+T, hd]
  torch::Tensor values = cache.values(layer, past + T);  // [1, n_kv, past+T, hd]
  torch::Tensor out;
  if (past == 0) {
    out = compat::attention(q, keys, values, std::nullopt, /*causal=*/T > 1);
  } else if (T == 1) {
    out = compat::attention(q, keys, values, std::nullopt, /*causal=*/false);
  } else {
    // Query i sits at position past + i: it sees all cached positions and new ones up to itself.
    torch::Tensor allowed = torch::ones({T, past + T}, torch::TensorOptions().dtype(torch::kBool).device(device_))
                                .tril(past);  // [T, past+T]
    out = compat::attention(q, keys, values, allowed, /*causal=*/false);
  }
  out = out[0].transpose(0, 1).reshape({T, config_.num_heads * hd});  // [T, n_head*hd]
  return torch::linear(out, w.o_proj, w.o_bias);
}

torch::Tensor Model::mlp_block(const LayerWeights& w, const torch::Tensor& x) const {
  torch::Tensor gate = torch::linear(x, w.gate_proj, w.gate_bias);  // [T, inter]
  torch::Tensor up = torch::linear(x, w.up_proj, w.up_bias);        // [T, inter]
  return torch::linear(torch::silu(gate) * up, w.down_proj, w.down_bias);
}

torch::Tensor Model::forward(const torch::Tensor& ids, KVCache& cache, LogitsFor logits) const {
  torch::NoGradGuard no_grad;
  const int64_t T = ids.size(0);
  if (T == 0) throw InputError("forward() needs at least one token");
  const int64_t start = cache.next_position();
  if (start + T > config_.max_position_embeddings)
    throw InputError("sequence of " + std::to_string(start + T) + " tokens exceeds the model's context of " +
                     std::to_string(config_.max_position_embeddings));
  auto [cos, sin] = rope_.cos_sin_range(start, T, options());  // [T, hd] each
  torch::Tensor x = weights_.embed.index_select(0, ids.to(device_, torch::kInt64));  // [T, hidden]
  for (int64_t l = 0; l < config_.num_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    x = x + attention_block(w, l, rms_norm(x, w.input_norm), cos, sin, cache);
    x = x + mlp_block(w, rms_norm(x, w.post_norm));
  }
  cache.commit(T);
  if (logits == LogitsFor::kNone) return {};
  if (logits == LogitsFor::kLast) x = x.narrow(0, T - 1, 1);
  return torch::linear(rms_norm(x, weights_.final_norm), weights_.lm_head).to(torch::kFloat32);
}

}  // namespace blockattn
