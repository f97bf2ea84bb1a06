#include "model/model.h"

#include "blockattn/error.h"
#include "checkpoint/safetensors.h"
#include "model/cached_attention.h"
#include "model/compat.h"
#include "model/fused_ops.h"
#include "model/layer_checkpoint.h"
#include "model/torch_dtype.h"

namespace blockattn {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto")
    return torch::cuda::is_available() ? torch::Device("cuda:0") : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw UnsupportedError("device \"" + name +
                             "\" requested but this build/machine has no CUDA");
    return torch::Device(name == "cuda" ? "cuda:0" : name);
  }
  throw UnsupportedError("unknown device \"" + name + "\" (use auto, cpu, cuda or cuda:N)");
}

Model::Model(ModelConfig config, torch::Device device, torch::ScalarType dtype)
    : config_(std::move(config)), rope_(config_), device_(device), dtype_(dtype) {
  weights_.layers.resize(config_.num_layers);
  if (device_.is_cuda()) compat::configure_attention_backends();
  if (DecodeGraphs::available(*this)) decode_graphs_ = std::make_unique<DecodeGraphs>(*this);
}

torch::Tensor Model::rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  // As HF: normalise in fp32, cast back, then scale (one fused kernel on CUDA at inference).
  if (torch::Tensor y = fused_rms_norm(x, weight, config_.rms_norm_eps); y.defined()) return y;
  torch::Tensor xf = x.to(torch::kFloat32);
  torch::Tensor var = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * torch::rsqrt(var + config_.rms_norm_eps)).to(x.scalar_type());
}

Model::QKV Model::project_qkv(const LayerWeights& w, const torch::Tensor& x, int64_t B,
                              const torch::Tensor& cos, const torch::Tensor& sin) const {
  // x: [B*T, hidden]. The projections stay 2-D matmuls (as they always were for inference) so
  // inference results do not depend on whether a batch dimension exists.
  const int64_t T = x.size(0) / B;
  const int64_t hd = config_.head_dim;
  const int64_t nq = config_.num_heads * hd, nkv = config_.num_kv_heads * hd;
  torch::Tensor q, k, v;
  if (fused_projections(w)) {
    torch::Tensor qkv = torch::linear(x, w.qkv_proj, w.qkv_bias);  // [B*T, nq + 2 nkv]
    q = qkv.narrow(1, 0, nq).view({B, T, config_.num_heads, hd});  // [B, T, n_head, hd], strided
    k = qkv.narrow(1, nq, nkv).view({B, T, config_.num_kv_heads, hd});        // [B, T, n_kv, hd]
    v = qkv.narrow(1, nq + nkv, nkv).view({B, T, config_.num_kv_heads, hd});  // [B, T, n_kv, hd]
  } else {
    q = with_lora(torch::linear(x, w.q_proj, w.q_bias), w, LoraTarget::kQ, x)
            .view({B, T, config_.num_heads, hd});
    k = with_lora(torch::linear(x, w.k_proj, w.k_bias), w, LoraTarget::kK, x)
            .view({B, T, config_.num_kv_heads, hd});
    v = with_lora(torch::linear(x, w.v_proj, w.v_bias), w, LoraTarget::kV, x)
            .view({B, T, config_.num_kv_heads, hd});
  }
  if (config_.qk_norm) {
    q = rms_norm(q, w.q_norm);
    k = rms_norm(k, w.k_norm);
  }
  auto rotate = [&](const torch::Tensor& x) {  // [B, T, heads, hd] -> [B, heads, T, hd]
    torch::Tensor fused = fused_rope(x, cos, sin);
    return fused.defined() ? fused : RotaryEmbedding::apply(x.transpose(1, 2), cos, sin);
  };
  return {rotate(q), rotate(k), v.transpose(1, 2)};
}

torch::Tensor Model::output_projection(const LayerWeights& w, const torch::Tensor& out) const {
  // out: [B, n_head, T, hd] -> [B*T, hidden]
  const int64_t B = out.size(0), T = out.size(2);
  torch::Tensor flat =  // [B*T, n_head*hd]
      out.transpose(1, 2).reshape({B * T, config_.num_heads * config_.head_dim});
  return with_lora(torch::linear(flat, w.o_proj, w.o_bias), w, LoraTarget::kO, flat);
}

namespace {
thread_local int base_only_depth = 0;  // Model::BaseOnly scopes open on this thread
}  // namespace

Model::BaseOnly::BaseOnly() { ++base_only_depth; }
Model::BaseOnly::~BaseOnly() { --base_only_depth; }

bool Model::lora_active(const LayerWeights& w, LoraTarget t) {
  return base_only_depth == 0 && w.lora[static_cast<int>(t)].defined();
}

torch::Tensor Model::with_lora(torch::Tensor y, const LayerWeights& w, LoraTarget t,
                               const torch::Tensor& x) const {
  if (!lora_active(w, t)) return y;
  const LoraPair& p = w.lora[static_cast<int>(t)];
  // As PEFT: the input in the adapter's dtype, dropout on the adapter's input only.
  torch::Tensor in = x.to(p.a.scalar_type());  // [M, in]
  const double dropout = adapter_->config.dropout;
  if (dropout > 0 && torch::GradMode::is_enabled()) in = torch::dropout(in, dropout, true);
  torch::Tensor delta = torch::linear(torch::linear(in, p.a), p.b);  // [M, out]
  return y + (delta * adapter_->config.scale()).to(y.scalar_type());
}

void Model::attach_adapter(std::shared_ptr<LoraAdapter> adapter) {
  if (!adapter) throw InputError("no adapter given");
  if (static_cast<int64_t>(adapter->layers.size()) != config_.num_layers)
    throw InputError("the adapter has " + std::to_string(adapter->layers.size()) +
                     " layers, the model " + std::to_string(config_.num_layers));
  for (int64_t l = 0; l < config_.num_layers; ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const LoraPair& p = adapter->layers[static_cast<size_t>(l)][t];
      if (!p.defined()) continue;
      auto [in, out] = lora_target_dims(config_, static_cast<LoraTarget>(t));
      const int64_t r = adapter->config.rank;
      auto check = [&](const torch::Tensor& m, std::vector<int64_t> want, bool b) {
        if (m.sizes().vec() != want)
          throw InputError("adapter tensor " + peft_tensor_name(l, static_cast<LoraTarget>(t), b) +
                           " has shape " + shape_string(m.sizes().vec()) + ", this model needs " +
                           shape_string(want));
        if (m.device() != device_)
          throw InputError("adapter tensor " + peft_tensor_name(l, static_cast<LoraTarget>(t), b) +
                           " is on " + m.device().str() + ", the model on " + device_.str());
      };
      check(p.a, {r, in}, false);
      check(p.b, {out, r}, true);
    }
  for (int64_t l = 0; l < config_.num_layers; ++l)
    weights_.layers[static_cast<size_t>(l)].lora = adapter->layers[static_cast<size_t>(l)];
  adapter_ = std::move(adapter);
}

void Model::detach_adapter() {
  for (LayerWeights& w : weights_.layers) w.lora = {};
  adapter_.reset();
}

torch::Tensor Model::attention_block(const LayerWeights& w, int64_t layer, const torch::Tensor& x,
                                     int64_t B, const torch::Tensor& cos, const torch::Tensor& sin,
                                     const KVTarget& kv) const {
  auto [q, k, v] = project_qkv(w, x, B, cos, sin);
  return output_projection(w, attend(layer, q, k, v, kv));
}

namespace {

// T new queries over the positions [0, past + T) of one layer of a cache that already holds
// their keys, query i seeing [0, past + i]: the split-KV kernel where it applies, else flash
// (one query: folded heads; several: causal aligned bottom-right). Undefined where neither
// applies (the caller has slower paths that compute the same).
torch::Tensor attend_over_cache(const torch::Tensor& q, const torch::Tensor& keys,
                                const torch::Tensor& values) {
  torch::Tensor out = cached_attention(q, keys, values);  // [1, n_head, T, hd]
  if (out.defined()) return out;
  if (q.size(2) == 1) return compat::attention_decode(q, keys, values);
  return compat::attention_causal_suffix(q, keys, values);
}

}  // namespace

torch::Tensor Model::attend(int64_t layer, const torch::Tensor& q, const torch::Tensor& k,
                            const torch::Tensor& v, const KVTarget& kv) const {
  const int64_t B = q.size(0), T = q.size(2);
  torch::Tensor out;  // [B, n_head, T, hd]
  KVCache* cache = kv.cache;
  if (kv.rows) {
    // Batched decode: one new token per row, each row over its own cache.
    std::vector<torch::Tensor> rows;
    rows.reserve(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
      KVCache& c = *(*kv.rows)[static_cast<size_t>(b)];
      const int64_t past = c.size();
      c.write(layer, k.narrow(0, b, 1), v.narrow(0, b, 1));
      rows.push_back(attend_over_cache(q.narrow(0, b, 1), c.keys(layer, past + 1),
                                       c.values(layer, past + 1)));  // [1, n_head, 1, hd]
    }
    out = torch::cat(rows, 0);
  } else if (kv.packed) {
    cache->write(layer, k, v);  // packed index == buffer index: the cache started empty
    out = compat::attention_packed_causal(q, k, v, *kv.packed);
  } else if (kv.spans) {
    out = span_attention(q, k, v, *kv.spans);
  } else if (kv.mask) {
    out = compat::attention(q, k, v, *kv.mask, /*causal=*/false);
  } else if (!cache) {
    out = compat::attention(q, k, v, std::nullopt, /*causal=*/T > 1);
  } else {
    const int64_t past = cache->size();
    cache->write(layer, k, v);
    torch::Tensor keys = cache->keys(layer, past + T);      // [1, n_kv, past+T, hd]
    torch::Tensor values = cache->values(layer, past + T);  // [1, n_kv, past+T, hd]
    if (past == 0) {
      out = compat::attention(q, keys, values, std::nullopt, /*causal=*/T > 1);
    } else {
      // Query i sits at position past + i: it sees all cached positions and new ones up to itself.
      out = attend_over_cache(q, keys, values);
      if (!out.defined())
        out = compat::attention_after_prefix(q, cache->keys(layer, past),
                                             cache->values(layer, past), k, v);
    }
    if (!out.defined() && past > 0 && T > 1) {
      torch::Tensor allowed =
          torch::ones({T, past + T}, torch::TensorOptions().dtype(torch::kBool).device(device_))
              .tril(past);  // [T, past+T]
      out = compat::attention(q, keys, values, allowed, /*causal=*/false);
    }
  }
  return out;
}

torch::Tensor Model::mlp_block(const LayerWeights& w, const torch::Tensor& x) const {
  if (fused_projections(w)) {
    torch::Tensor gate_up = torch::linear(x, w.gate_up_proj, w.gate_up_bias);  // [T, 2 inter]
    torch::Tensor act = fused_silu_mul(gate_up);                               // [T, inter]
    if (!act.defined()) {
      const int64_t inter = gate_up.size(1) / 2;
      act = torch::silu(gate_up.narrow(1, 0, inter)) * gate_up.narrow(1, inter, inter);
    }
    return with_lora(torch::linear(act, w.down_proj, w.down_bias), w, LoraTarget::kDown, act);
  }
  torch::Tensor gate =  // [T, inter]
      with_lora(torch::linear(x, w.gate_proj, w.gate_bias), w, LoraTarget::kGate, x);
  torch::Tensor up = with_lora(torch::linear(x, w.up_proj, w.up_bias), w, LoraTarget::kUp, x);
  torch::Tensor act = torch::silu(gate) * up;  // [T, inter]
  return with_lora(torch::linear(act, w.down_proj, w.down_bias), w, LoraTarget::kDown, act);
}

std::pair<torch::Tensor, torch::Tensor> Model::add_rms_norm(const torch::Tensor& x,
                                                            const torch::Tensor& delta,
                                                            const torch::Tensor& weight) const {
  auto fused = fused_add_rms_norm(x, delta, weight, config_.rms_norm_eps);
  if (fused.first.defined()) return fused;
  torch::Tensor sum = x + delta;
  return {sum, rms_norm(sum, weight)};
}

bool Model::fused_projections(const LayerWeights& w) {
  for (LoraTarget t :
       {LoraTarget::kQ, LoraTarget::kK, LoraTarget::kV, LoraTarget::kGate, LoraTarget::kUp})
    if (lora_active(w, t)) return false;
  return w.qkv_proj.defined() && !torch::GradMode::is_enabled() &&
         w.q_proj.data_ptr() == w.qkv_proj.data_ptr() &&
         w.gate_proj.data_ptr() == w.gate_up_proj.data_ptr();
}

void Model::fuse_projections() {
  torch::NoGradGuard no_grad;
  // Row views of `fused` in the order of `parts` (each part's rows, contiguous).
  auto fuse = [](std::initializer_list<torch::Tensor*> parts) {
    std::vector<torch::Tensor> tensors;
    for (torch::Tensor* p : parts) tensors.push_back(*p);
    torch::Tensor fused = torch::cat(tensors, 0);
    int64_t at = 0;
    for (torch::Tensor* p : parts) {
      const int64_t rows = p->size(0);
      *p = fused.narrow(0, at, rows);
      at += rows;
    }
    return fused;
  };
  for (LayerWeights& w : weights_.layers) {
    if (fused_projections(w)) continue;
    w.qkv_proj = fuse({&w.q_proj, &w.k_proj, &w.v_proj});
    if (w.q_bias.defined()) w.qkv_bias = fuse({&w.q_bias, &w.k_bias, &w.v_bias});
    w.gate_up_proj = fuse({&w.gate_proj, &w.up_proj});
    if (w.gate_bias.defined()) w.gate_up_bias = fuse({&w.gate_bias, &w.up_bias});
  }
}

torch::Tensor Model::run_layers(torch::Tensor x, int64_t B, const torch::Tensor& cos,
                                const torch::Tensor& sin, const KVTarget& kv,
                                LogitsFor rows) const {
  // Each residual add is fused with the norm that follows it.
  const int64_t L = config_.num_layers;
  if (kv.checkpoint && torch::GradMode::is_enabled()) {
    // The backward pass needs a path to every layer's recomputation: from x itself when nothing
    // before the first layer is trained (a frozen embedding, as with LoRA).
    if (!x.requires_grad()) x = x.detach().requires_grad_(true);
    for (int64_t l = 0; l < L; ++l) x = LayerCheckpoint::run(*this, l, x, B, cos, sin, kv);
    return x;  // [B*T, hidden]
  }
  torch::Tensor h = rms_norm(x, weights_.layers[0].input_norm);  // [B*T, hidden]
  const bool trim_last =
      rows != LogitsFor::kAll && kv.cache && !kv.rows && !kv.mask && B == 1 && x.size(0) > 1;
  for (int64_t l = 0; l < L; ++l) {
    const LayerWeights& w = weights_.layers[l];
    if (trim_last && l == L - 1) return last_layer_for_last_row(w, l, x, h, cos, sin, kv, rows);
    std::tie(x, h) = add_rms_norm(x, attention_block(w, l, h, B, cos, sin, kv), w.post_norm);
    torch::Tensor mlp = mlp_block(w, h);  // [B*T, hidden]
    if (l + 1 < L)
      std::tie(x, h) = add_rms_norm(x, mlp, weights_.layers[l + 1].input_norm);
    else
      x = x + mlp;
  }
  return x;  // [B*T, hidden]
}

torch::Tensor Model::last_layer_for_last_row(const LayerWeights& w, int64_t layer,
                                             const torch::Tensor& x, const torch::Tensor& h,
                                             const torch::Tensor& cos, const torch::Tensor& sin,
                                             const KVTarget& kv, LogitsFor rows) const {
  // Later forwards need this layer's keys and values for every token; the logits need the
  // last token's output only, and no other row of this layer's attention or MLP is read.
  auto [q, k, v] = project_qkv(w, h, /*B=*/1, cos, sin);
  const int64_t T = q.size(2), past = kv.cache->size();
  kv.cache->write(layer, k, v);
  if (rows == LogitsFor::kNone) return {};
  // The last query sees every key: no mask.
  torch::Tensor out =
      attend_over_cache(q.narrow(2, T - 1, 1).contiguous(), kv.cache->keys(layer, past + T),
                        kv.cache->values(layer, past + T));  // [1, H, 1, hd]
  auto [last, normed] = add_rms_norm(x.narrow(0, T - 1, 1), output_projection(w, out), w.post_norm);
  return last + mlp_block(w, normed);  // [1, hidden]
}

torch::Tensor Model::forward(const torch::Tensor& ids, KVCache& cache, LogitsFor logits) const {
  torch::NoGradGuard no_grad;
  const int64_t T = ids.size(0);
  if (T == 0) throw InputError("forward() needs at least one token");
  const int64_t start = cache.next_position();
  if (start + T > config_.max_position_embeddings)
    throw InputError("sequence of " + std::to_string(start + T) +
                     " tokens exceeds the model's context of " +
                     std::to_string(config_.max_position_embeddings));
  if (logits == LogitsFor::kLast && decode_graphs()) {
    torch::Tensor out = T == 1 ? decode_graphs_->step(ids, {&cache})  // [1, vocab], or undefined
                               : decode_graphs_->forward(ids, cache);
    if (out.defined()) return out;
  }
  auto [cos, sin] = rope_.cos_sin_range(start, T, options());                        // [T, hd] each
  torch::Tensor x = weights_.embed.index_select(0, ids.to(device_, torch::kInt64));  // [T, hidden]
  x = run_layers(x, /*B=*/1, cos, sin, KVTarget{&cache}, logits);  // [T or 1, hidden]
  cache.commit(T);
  if (logits == LogitsFor::kNone) return {};
  if (logits == LogitsFor::kLast) x = x.narrow(0, x.size(0) - 1, 1);
  return torch::linear(rms_norm(x, weights_.final_norm), weights_.lm_head).to(torch::kFloat32);
}

void Model::forward_packed(const torch::Tensor& ids, const std::vector<int64_t>& lengths,
                           KVCache& cache) const {
  torch::NoGradGuard no_grad;
  const int64_t N = ids.size(0);
  std::vector<int64_t> positions;  // [N]: each sequence from 0
  positions.reserve(static_cast<size_t>(N));
  for (int64_t n : lengths) {
    if (n <= 0) throw InputError("forward_packed() needs non-empty sequences");
    if (n > config_.max_position_embeddings)
      throw InputError("sequence of " + std::to_string(n) +
                       " tokens exceeds the model's context of " +
                       std::to_string(config_.max_position_embeddings));
    for (int64_t p = 0; p < n; ++p) positions.push_back(p);
  }
  if (ids.dim() != 1 || static_cast<int64_t>(positions.size()) != N)
    throw InputError("forward_packed() needs ids [N] with N = the sum of the lengths");
  if (cache.size() != 0) throw Error("internal: forward_packed() needs an empty cache");
  const compat::PackedSequences packed = compat::pack_sequences(lengths, device_);
  // One table for positions 0..longest-1, gathered per token on the device.
  auto [table_cos, table_sin] = rope_.cos_sin_range(0, packed.max_length, options());  // [L, hd]
  torch::Tensor index = torch::tensor(positions, torch::kInt64).to(device_);           // [N]
  torch::Tensor cos = table_cos.index_select(0, index);                                // [N, hd]
  torch::Tensor sin = table_sin.index_select(0, index);                                // [N, hd]
  torch::Tensor x = weights_.embed.index_select(0, ids.to(device_, torch::kInt64));  // [N, hidden]
  KVTarget kv;
  kv.cache = &cache;
  kv.packed = &packed;
  run_layers(x, /*B=*/1, cos, sin, kv, LogitsFor::kNone);
  cache.commit(N);
}

torch::Tensor Model::forward_decode_batch(const torch::Tensor& ids,
                                          const std::vector<KVCache*>& caches) const {
  torch::NoGradGuard no_grad;
  const int64_t B = ids.size(0);
  if (ids.dim() != 1 || B == 0 || static_cast<size_t>(B) != caches.size())
    throw InputError("forward_decode_batch() needs ids [B] and B caches");
  std::vector<int64_t> positions;  // [B]
  for (KVCache* c : caches) {
    if (c->next_position() + 1 > config_.max_position_embeddings)
      throw InputError("sequence of " + std::to_string(c->next_position() + 1) +
                       " tokens exceeds the model's context of " +
                       std::to_string(config_.max_position_embeddings));
    positions.push_back(c->next_position());
  }
  if (decode_graphs()) {
    torch::Tensor out = decode_graphs_->step(ids, caches);  // [B, vocab], or undefined
    if (out.defined()) return out;
  }
  auto [cos, sin] = rope_.cos_sin(positions, options());  // [B, hd] each
  const int64_t hd = cos.size(1);
  torch::Tensor x = weights_.embed.index_select(0, ids.to(device_, torch::kInt64));  // [B, hidden]
  KVTarget kv;
  kv.rows = &caches;
  x = run_layers(x, B, cos.view({B, 1, 1, hd}), sin.view({B, 1, 1, hd}), kv);  // [B, hidden]
  for (KVCache* c : caches) c->commit(1);
  return torch::linear(rms_norm(x, weights_.final_norm), weights_.lm_head).to(torch::kFloat32);
}

torch::Tensor Model::final_hidden(const TrainInputs& in) const {
  const torch::Tensor& ids = in.ids;
  const torch::Tensor* mask = in.mask.defined() ? &in.mask : nullptr;
  const torch::Tensor* positions = in.positions.defined() ? &in.positions : nullptr;
  if (ids.dim() != 2 || ids.size(1) == 0)
    throw InputError("the model needs ids of shape [B, T] with T > 0");
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t context = config_.max_position_embeddings;
  torch::Tensor cos, sin;  // [T, hd], or [B, 1, T, hd] with explicit positions
  if (positions) {
    const bool shape_ok =
        (positions->dim() == 1 && positions->size(0) == T) ||
        (positions->dim() == 2 && positions->size(0) == B && positions->size(1) == T);
    if (!shape_ok || positions->scalar_type() != torch::kInt64)
      throw InputError("positions must be int64 [T] or [B, T] with B = " + std::to_string(B) +
                       ", T = " + std::to_string(T));
    const int64_t lo = positions->min().item<int64_t>(), hi = positions->max().item<int64_t>();
    if (lo < 0 || hi >= context)
      throw InputError("position " + std::to_string(lo < 0 ? lo : hi) +
                       " is outside the model's context of " + std::to_string(context));
    auto [table_cos, table_sin] = rope_.cos_sin_range(0, hi + 1, options());  // [hi+1, hd] each
    torch::Tensor index = positions->to(device_).expand({B, T}).reshape({B * T});  // [B*T]
    cos = table_cos.index_select(0, index).view({B, 1, T, -1});
    sin = table_sin.index_select(0, index).view({B, 1, T, -1});
  } else {
    if (T > context)
      throw InputError("sequence of " + std::to_string(T) +
                       " tokens exceeds the model's context of " + std::to_string(context));
    std::tie(cos, sin) = rope_.cos_sin_range(0, T, options());
  }
  if (mask) {
    const bool shape_ok =
        (mask->dim() == 2 && mask->size(0) == T && mask->size(1) == T) ||
        (mask->dim() == 3 && mask->size(0) == B && mask->size(1) == T && mask->size(2) == T);
    if (mask->scalar_type() != torch::kBool || !shape_ok)
      throw InputError("attention mask must be bool [T, T] or [B, T, T] with B = " +
                       std::to_string(B) + ", T = " + std::to_string(T));
  }
  torch::Tensor mask4;  // [T, T] or [B, 1, T, T]: broadcast over heads
  if (mask) mask4 = mask->dim() == 3 ? mask->to(device_).unsqueeze(1) : mask->to(device_);
  torch::Tensor flat = ids.to(device_, torch::kInt64).reshape({B * T});  // [B*T]
  torch::Tensor x = weights_.embed.index_select(0, flat);                // [B*T, hidden]
  if (in.spans && (mask || in.spans->tokens != B * T))
    throw InputError("span attention needs no mask and a plan of B * T = " + std::to_string(B * T) +
                     " tokens");
  KVTarget kv;
  if (mask) kv.mask = &mask4;
  kv.spans = in.spans;
  kv.checkpoint = in.checkpoint_layers;
  x = run_layers(x, B, cos, sin, kv);       // [B*T, hidden]
  return rms_norm(x, weights_.final_norm);  // [B*T, hidden]
}

torch::Tensor Model::forward_train(const torch::Tensor& ids, const torch::Tensor& mask,
                                   const torch::Tensor& positions) const {
  TrainInputs in;
  in.ids = ids;
  in.mask = mask;
  in.positions = positions;
  return forward_train(in);
}

torch::Tensor Model::forward_train(const TrainInputs& in) const {
  torch::Tensor hidden = final_hidden(in);  // [B*T, hidden]
  if (in.logit_rows.defined()) {
    const torch::Tensor rows = in.logit_rows.to(device_, torch::kInt64);  // [N]
    return torch::linear(hidden.index_select(0, rows), weights_.lm_head).to(torch::kFloat32);
  }
  torch::Tensor logits = torch::linear(hidden, weights_.lm_head);  // [B*T, vocab]
  return logits.to(torch::kFloat32).view({in.ids.size(0), in.ids.size(1), config_.vocab_size});
}

torch::Tensor Model::train_layer(int64_t layer, const torch::Tensor& x, int64_t B,
                                 const torch::Tensor& cos, const torch::Tensor& sin,
                                 const KVTarget& kv) const {
  const LayerWeights& w = weights_.layers[layer];
  torch::Tensor h = rms_norm(x, w.input_norm);  // [B*T, hidden]
  auto [mid, normed] = add_rms_norm(x, attention_block(w, layer, h, B, cos, sin, kv), w.post_norm);
  return mid + mlp_block(w, normed);  // [B*T, hidden]
}

bool Model::draws_random() const {
  return adapter_ && adapter_->config.dropout > 0 && base_only_depth == 0;
}

torch::Tensor Model::hidden_states(const torch::Tensor& ids) const {
  TrainInputs in;
  in.ids = ids;
  return final_hidden(in).to(torch::kFloat32).view({ids.size(0), ids.size(1), config_.hidden_size});
}

}  // namespace blockattn
