// Decode steps replayed from CUDA graphs.
//
// A decode step of an 8B model launches about 1,600 small kernels; launched one by one from the
// host they cost ~16 ms per token on the H200, four times the ~4 ms the GPU needs to read the
// weights. Here a step is captured once per batch size (and token count) and replayed.
//
// Where the split-KV attention kernel applies (model/cached_attention.h: bf16/fp16, n_rep * T
// ≤ 16, as in a decode step), the whole step is ONE graph: the kernel writes each layer's new keys
// and values into the caches and attends over them, reading the caches' addresses and lengths from
// a small device table that is rewritten before every replay, so nothing in the graph depends on
// which cache it runs over or how long it is. Elsewhere (fp32, a forward of more tokens) the work
// between two attention calls -- embedding and the first layer's projections; a layer's output
// projection, MLP and the next layer's projections; the last MLP and the LM head -- is one
// graph each (n_layer + 1 graphs), and attention runs eagerly between the replays with the same
// calls as the eager path. Inputs and outputs go through static buffers; RoPE angles come from
// a device table indexed by the position.
//
// The graphs run the same kernels on the same values as Model::forward_decode_batch, so the
// logits are the same (tests/cuda). Where graphs cannot run (CPU, libtorch 1.13, a build
// without CUDA, BLOCKATTN_CUDA_GRAPHS=0, or a capture that failed), the eager path runs.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "model/kv_cache.h"

namespace blockattn {

class Model;

class DecodeGraphs {
 public:
  explicit DecodeGraphs(const Model& model);
  ~DecodeGraphs();

  // Whether this build and the model's device can use graphs at all (the environment variable
  // BLOCKATTN_CUDA_GRAPHS=0 turns them off).
  static bool available(const Model& model);

  // One decode step as Model::forward_decode_batch: ids [B] int64 (any device), one cache per
  // row. Returns float32 logits [B, vocab], or an undefined tensor when the graphs for B could
  // not be captured (the caller then runs the eager step; graphs stay off for that B).
  // Thread-safe: steps are serialised (they share the static buffers).
  torch::Tensor step(const torch::Tensor& ids, const std::vector<KVCache*>& caches);

  // A forward of T ≤ kMaxTokens new tokens of one sequence with the last token's logits
  // (Model::forward with LogitsFor::kLast: the final block over cached blocks, a short prompt).
  // T is padded up to a power of two; the padding tokens come after the real ones, so causal
  // attention hides them from every real token, and their KV lands beyond cache.size() where
  // the next step overwrites it. Needs room for the padding in the cache and the context.
  // Returns float32 logits [1, vocab], or an undefined tensor where it does not apply.
  static constexpr int64_t kMaxTokens = 256;
  torch::Tensor forward(const torch::Tensor& ids, KVCache& cache);

  struct Captured;  // the static buffers and graphs of one batch size (decode_graphs.cpp)

 private:
  // Under mu_: the graphs for `batch` rows of `tokens` new tokens each (batch == 1 or
  // tokens == 1), captured on first use; nullptr if capture failed.
  Captured* captured_for(int64_t batch, int64_t tokens);
  // Under mu_: runs the graphs of c with attention per `cache`/`rows` between them; returns the
  // float32 logits of every row and padded token, [batch * tokens, vocab] (a view of c's buffer).
  torch::Tensor replay(Captured& c, const torch::Tensor& ids, const std::vector<int64_t>& positions,
                       KVCache* cache, const std::vector<KVCache*>* rows);
  // The work of graph s of a step: s = 0 embeds and projects layer 0; 0 < s < n_layer finishes
  // layer s - 1 and projects layer s; s = n_layer finishes the last layer and applies the LM
  // head. The same Model functions as the eager forward, in the same order.
  void segment(Captured& c, int64_t s) const;

  const Model& model_;
  std::mutex mu_;
  torch::Tensor cos_table_, sin_table_;  // [context, head_dim] in the model dtype
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Captured>>
      captured_;  // (B, T); null: failed
};

}  // namespace blockattn
