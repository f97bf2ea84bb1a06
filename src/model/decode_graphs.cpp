#include "model/decode_graphs.h"

#include <cstdlib>
#include <string>

#include "core/log.h"
#include "model/cached_attention.h"
#include "model/compat.h"
#include "model/model.h"

#if defined(BLOCKATTN_WITH_CUDA) && BLOCKATTN_TORCH_2
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define BLOCKATTN_DECODE_GRAPHS 1
#else
#define BLOCKATTN_DECODE_GRAPHS 0
#endif

namespace blockattn {

#if BLOCKATTN_DECODE_GRAPHS

struct DecodeGraphs::Captured {
  int64_t batch = 0, tokens = 0;  // B rows of T new tokens
  torch::Tensor ids;              // [B*T] int64
  torch::Tensor pos;              // [B*T] int64: each token's position
  torch::Tensor cos, sin;         // [B, 1, T, hd]
  torch::Tensor x;                // [B*T, hidden]: the residual stream between graphs
  torch::Tensor q;                // [B, n_head, T, hd]
  torch::Tensor k, v;             // [B, n_kv, T, hd]
  torch::Tensor attn;             // [B, n_head, T, hd]: attention output
  torch::Tensor logits;           // [B*T, vocab] float32
  // Whole-step mode (the split-KV kernel applies): attention runs inside the graph, over the
  // caches named by `seqs`, and one graph holds the whole step. Else n_layer + 1 graphs with
  // eager attention between them.
  bool whole = false;
  torch::Tensor seqs;    // [B, 4] int64: each row's cache (cached_seq_row), written per replay
  torch::Tensor attn_t;  // [B, T, n_head, hd]: the kernel's output; attn is its transpose
  std::vector<std::unique_ptr<at::cuda::CUDAGraph>> graphs;  // 1 (whole step) or n_layer + 1
};

#else

struct DecodeGraphs::Captured {};  // never made: graphs are unavailable in this build

#endif

DecodeGraphs::DecodeGraphs(const Model& model) : model_(model) {}
DecodeGraphs::~DecodeGraphs() = default;

bool DecodeGraphs::available(const Model& model) {
#if BLOCKATTN_DECODE_GRAPHS
  const char* env = std::getenv("BLOCKATTN_CUDA_GRAPHS");
  if (env && std::string(env) == "0") return false;
  return model.device().is_cuda();
#else
  (void)model;
  return false;
#endif
}

#if BLOCKATTN_DECODE_GRAPHS

void DecodeGraphs::segment(Captured& c, int64_t s) const {
  const Model& m = model_;
  const ModelWeights& W = model_.weights_;
  const int64_t L = static_cast<int64_t>(W.layers.size());
  const int64_t B = c.batch, T = c.tokens, hd = c.q.size(3);
  // The same operations as Model::run_layers: each residual add fused with the next norm.
  const torch::Tensor& next_norm =
      s < L ? W.layers[static_cast<size_t>(s)].input_norm : W.final_norm;
  torch::Tensor x, h;  // [B*T, hidden]: residual stream, and its norm for what follows
  if (s == 0) {
    x = W.embed.index_select(0, c.ids);
    h = m.rms_norm(x, next_norm);
    c.cos.copy_(cos_table_.index_select(0, c.pos).view({B, 1, T, hd}));
    c.sin.copy_(sin_table_.index_select(0, c.pos).view({B, 1, T, hd}));
  } else {
    const LayerWeights& w = W.layers[static_cast<size_t>(s - 1)];
    std::tie(x, h) = m.add_rms_norm(c.x, m.output_projection(w, c.attn), w.post_norm);
    torch::Tensor mlp = m.mlp_block(w, h);  // [B*T, hidden]
    if (s < L) {
      std::tie(x, h) = m.add_rms_norm(x, mlp, next_norm);
    } else {
      x = x + mlp;
      h = m.rms_norm(x, next_norm);
    }
  }
  if (s < L) {
    const LayerWeights& w = W.layers[static_cast<size_t>(s)];
    Model::QKV qkv = m.project_qkv(w, h, B, c.cos, c.sin);
    c.q.copy_(qkv.q);
    c.k.copy_(qkv.k);
    c.v.copy_(qkv.v);
    c.x.copy_(x);
  } else {
    c.logits.copy_(torch::linear(h, W.lm_head).to(torch::kFloat32));
  }
}

DecodeGraphs::Captured* DecodeGraphs::captured_for(int64_t batch, int64_t tokens) {
  auto it = captured_.find({batch, tokens});
  if (it != captured_.end()) return it->second.get();
  const ModelConfig& cfg = model_.config();
  const torch::Device device = model_.device();
  const auto opts = model_.options();
  if (!cos_table_.defined())
    std::tie(cos_table_, sin_table_) =
        model_.rope().cos_sin_range(0, cfg.max_position_embeddings, opts);  // [context, hd]
  auto c = std::make_unique<Captured>();
  c->batch = batch;
  c->tokens = tokens;
  const int64_t hd = cfg.head_dim, rows = batch * tokens;
  c->ids = torch::zeros({rows}, opts.dtype(torch::kInt64));
  c->pos = torch::zeros({rows}, opts.dtype(torch::kInt64));
  c->cos = torch::zeros({batch, 1, tokens, hd}, opts);
  c->sin = torch::zeros({batch, 1, tokens, hd}, opts);
  c->x = torch::zeros({rows, cfg.hidden_size}, opts);
  c->q = torch::zeros({batch, cfg.num_heads, tokens, hd}, opts);
  c->k = torch::zeros({batch, cfg.num_kv_heads, tokens, hd}, opts);
  c->v = torch::zeros({batch, cfg.num_kv_heads, tokens, hd}, opts);
  c->logits = torch::zeros({rows, cfg.vocab_size}, opts.dtype(torch::kFloat32));
  c->whole = cached_attention_applies(device, opts.dtype().toScalarType(), cfg.num_heads,
                                      cfg.num_kv_heads, hd, tokens);
  if (c->whole) {
    c->attn_t = torch::zeros({batch, tokens, cfg.num_heads, hd}, opts);
    c->attn = c->attn_t.transpose(1, 2);
    c->seqs = torch::zeros({batch, 4}, opts.dtype(torch::kInt64));
  } else {
    c->attn = torch::zeros({batch, cfg.num_heads, tokens, hd}, opts);
  }
  const int64_t L = cfg.num_layers;
  // Graph s's work; in whole-step mode followed by layer s's attention.
  auto part = [&](int64_t s) {
    segment(*c, s);
    if (c->whole && s < L) cached_attention_append(c->q, c->k, c->v, c->seqs, s, c->attn_t);
  };
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool(false, device.index());
  try {
    torch::NoGradGuard no_grad;
    torch::cuda::synchronize(device.index());
    c10::cuda::CUDAStreamGuard guard(stream);
    // One eager pass on the capture stream first (libraries set up their per-stream state). In
    // whole-step mode its KV writes go to a scratch cache of `tokens` positions.
    {
      KVCache scratch(cfg, tokens, opts);
      if (c->whole) {
        std::vector<int64_t> rows_of_seqs;  // [B * 4]
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t x : cached_seq_row(scratch, tokens)) rows_of_seqs.push_back(x);
        c->seqs.copy_(torch::tensor(rows_of_seqs, torch::kInt64).view({batch, 4}));
      }
      for (int64_t s = 0; s <= L; ++s) part(s);
      stream.synchronize();
    }
    // Graphs of one step replay in capture order, so they share one memory pool. Thread-local
    // capture: the write-behind thread's copies on their own stream stay legal meanwhile.
    auto capture = [&](int64_t first, int64_t last) {
      auto graph = std::make_unique<at::cuda::CUDAGraph>();
      graph->capture_begin(c->graphs.empty() ? c10::cuda::MempoolId_t{0, 0} : c->graphs[0]->pool(),
                           cudaStreamCaptureModeThreadLocal);
      try {
        for (int64_t s = first; s <= last; ++s) part(s);
      } catch (...) {
        cudaGraph_t partial = nullptr;
        cudaStreamEndCapture(stream.stream(), &partial);  // leave the stream usable
        if (partial) cudaGraphDestroy(partial);
        throw;
      }
      graph->capture_end();
      c->graphs.push_back(std::move(graph));
    };
    if (c->whole) {
      capture(0, L);
    } else {
      for (int64_t s = 0; s <= L; ++s) capture(s, s);
    }
    stream.synchronize();
  } catch (const std::exception& e) {
    BA_WARN("CUDA graphs for " << batch << " x " << tokens << " new tokens could not be captured ("
                               << e.what() << "); that shape runs eagerly");
    captured_[{batch, tokens}] = nullptr;
    return nullptr;
  }
  BA_DEBUG("captured " << c->graphs.size() << " CUDA graphs for " << batch << " x " << tokens
                       << " new tokens");
  return (captured_[{batch, tokens}] = std::move(c)).get();
}

torch::Tensor DecodeGraphs::replay(Captured& c, const torch::Tensor& ids,
                                   const std::vector<int64_t>& positions, KVCache* cache,
                                   const std::vector<KVCache*>* rows) {
  c.ids.copy_(ids);
  c.pos.copy_(torch::tensor(positions, torch::kInt64));
  if (c.whole) {
    std::vector<int64_t> rows_of_seqs;  // [B * 4]
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t x : cached_seq_row(rows ? *(*rows)[static_cast<size_t>(b)] : *cache, c.tokens))
        rows_of_seqs.push_back(x);
    c.seqs.copy_(torch::tensor(rows_of_seqs, torch::kInt64).view({c.batch, 4}));
    c.graphs[0]->replay();  // the whole step, KV writes and attention included -> logits
    return c.logits;
  }
  Model::KVTarget target;
  target.cache = cache;
  target.rows = rows;
  const int64_t L = model_.config().num_layers;
  for (int64_t l = 0; l < L; ++l) {
    c.graphs[static_cast<size_t>(l)]->replay();  // -> q, k, v of layer l
    // The eager forward's own attention (and KV writes) for this layer.
    c.attn.copy_(model_.attend(l, c.q, c.k, c.v, target));
  }
  c.graphs[static_cast<size_t>(L)]->replay();  // -> logits
  return c.logits;
}

torch::Tensor DecodeGraphs::step(const torch::Tensor& ids, const std::vector<KVCache*>& caches) {
  std::lock_guard<std::mutex> lock(mu_);
  torch::NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(caches.size());
  Captured* c = captured_for(B, 1);
  if (!c) return {};
  std::vector<int64_t> positions;  // [B]
  for (KVCache* cache : caches) positions.push_back(cache->next_position());
  torch::Tensor logits =
      replay(*c, ids.to(torch::kInt64).view({B}), positions, nullptr, &caches);  // [B, vocab]
  for (KVCache* cache : caches) cache->commit(1);
  return logits.clone();  // the static buffer is overwritten by the next step
}

torch::Tensor DecodeGraphs::forward(const torch::Tensor& ids, KVCache& cache) {
  const int64_t T = ids.size(0);
  if (T < 1 || T > kMaxTokens) return {};
  int64_t padded = 1;
  while (padded < T) padded *= 2;
  const int64_t start = cache.next_position();
  if (cache.capacity() - cache.size() < padded ||
      start + padded > model_.config().max_position_embeddings)
    return {};
  std::lock_guard<std::mutex> lock(mu_);
  torch::NoGradGuard no_grad;
  Captured* c = captured_for(1, padded);
  if (!c) return {};
  std::vector<int64_t> positions(static_cast<size_t>(padded));  // [padded]
  for (int64_t i = 0; i < padded; ++i) positions[static_cast<size_t>(i)] = start + i;
  torch::Tensor padded_ids = ids.to(model_.device(), torch::kInt64);
  if (padded > T)  // token 0 as padding: any valid id does, no real token sees it
    padded_ids = torch::cat({padded_ids, torch::zeros({padded - T}, padded_ids.options())});
  torch::Tensor logits = replay(*c, padded_ids, positions, &cache, nullptr);  // [padded, vocab]
  cache.commit(T);  // the padding's KV stays beyond size(): overwritten by the next tokens
  return logits.narrow(0, T - 1, 1).clone();
}

#else

DecodeGraphs::Captured* DecodeGraphs::captured_for(int64_t, int64_t) { return nullptr; }
void DecodeGraphs::segment(Captured&, int64_t) const {}
torch::Tensor DecodeGraphs::replay(Captured&, const torch::Tensor&, const std::vector<int64_t>&,
                                   KVCache*, const std::vector<KVCache*>*) {
  return {};
}
torch::Tensor DecodeGraphs::step(const torch::Tensor&, const std::vector<KVCache*>&) { return {}; }
torch::Tensor DecodeGraphs::forward(const torch::Tensor&, KVCache&) { return {}; }

#endif

}  // namespace blockattn
