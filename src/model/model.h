// A Llama-family decoder (Llama, Mistral, Qwen2, Qwen3) on libtorch, for inference.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <atomic>
#include <memory>
#include <string>

#include "blockattn/model_config.h"
#include "model/decode_graphs.h"
#include "model/kv_cache.h"
#include "model/rope.h"
#include "model/span_attention.h"
#include "model/weights.h"

namespace blockattn {

namespace compat {
struct PackedSequences;
}

struct ModelLoadOptions {
  std::string device = "auto";  // "auto" (cuda if available, else cpu), "cpu", "cuda", "cuda:N"
  std::string dtype =
      "auto";  // "auto": bfloat16 on CUDA, float32 on CPU; or float32/bfloat16/float16
};

// Which rows of logits forward() computes: the lm_head is the largest matmul for small models.
enum class LogitsFor { kNone, kLast, kAll };

class Model {
 public:
  // Reads <dir>/config.json and the safetensors weights. Each tensor is read straight into its
  // final buffer (converted on the fly when dtypes differ), so the weights exist once in memory.
  // Throws IoError / FormatError / UnsupportedError naming the file and tensor at fault.
  static std::shared_ptr<Model> load(const std::string& dir, const ModelLoadOptions& options = {});

  // A model with the given config and random weights (tests, benchmarks).
  static std::shared_ptr<Model> random(const ModelConfig& config, const ModelLoadOptions& options,
                                       uint64_t seed);

  const ModelConfig& config() const { return config_; }
  const RotaryEmbedding& rope() const { return rope_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }
  torch::TensorOptions options() const {
    return torch::TensorOptions().dtype(dtype_).device(device_);
  }
  // Hex hash of config + every weight byte: part of every block-cache key.
  const std::string& fingerprint() const { return fingerprint_; }
  ModelWeights& weights() { return weights_; }
  // For inference: stores each layer's q/k/v projections as one [(n_head + 2 n_kv) * hd,
  // hidden] matrix and gate/up as one [2 * inter, hidden] (the separate tensors become row
  // views of them, same bytes, so checkpoints, fingerprints and named() are unchanged), so a
  // forward reads them in one matrix product each. Forwards without autograd use the fused
  // matrices while the views still point into them; replacing a weight tensor afterwards (not
  // writing into it) turns that layer's fusion off. Peak memory: one layer's matrices extra.
  void fuse_projections();

  // LoRA (model/lora.h), applied unmerged: every forward adds each adapted projection's low-rank
  // update, so gradients reach the adapter's tensors (which the caller owns and trains) while
  // the base weights stay frozen. InputError naming the tensor if a shape does not fit this
  // model. Decode graphs are off while an adapter is attached. Not thread-safe against
  // concurrent forwards; attach before serving. detach_adapter() restores the base exactly.
  void attach_adapter(std::shared_ptr<LoraAdapter> adapter);
  void detach_adapter();
  const LoraAdapter* adapter() const { return adapter_.get(); }
  const std::shared_ptr<LoraAdapter>& shared_adapter() const { return adapter_; }
  // Within a BaseOnly's scope, forwards on this thread ignore the attached adapter: the base
  // model, bit for bit (the teacher pass of LoRA distillation). Nests.
  class BaseOnly {
   public:
    BaseOnly();
    ~BaseOnly();
    BaseOnly(const BaseOnly&) = delete;
    BaseOnly& operator=(const BaseOnly&) = delete;
  };
  // A second model on the same device and dtype whose weights are this model's with `adapter`
  // merged in (W + scale B A, rounded once to the dtype): no per-token adapter cost, and its
  // fingerprint (so every block-cache key) differs from the base's. Peak memory: one more copy
  // of the weights. Throws InputError if the adapter does not fit. `block_settings` (the
  // adapter's blockattn_adapter.json), when given, become the merged model's block sinks
  // (with_lora_block_settings), so that it evaluates in block mode as the engine serves it.
  std::shared_ptr<Model> merged_with(const LoraAdapter& adapter,
                                     const LoraBlockSettings* block_settings = nullptr);

  // Runs `ids` ([T] int64, any device) at positions [cache.size(), cache.size() + T): each token
  // attends to every earlier position in the cache and causally to the new ones. Appends their
  // KV to `cache`. Returns float32 logits: [T, vocab] (kAll), [1, vocab] (kLast) or undefined.
  torch::Tensor forward(const torch::Tensor& ids, KVCache& cache, LogitsFor logits) const;

  // One decode step of B independent sequences: ids [B] int64 (one new token each, any device);
  // row b runs at position caches[b]->next_position(), attends to its own cache and appends its
  // KV there. The projections and the MLP run as [B, hidden] matrix products, so the weights are
  // read once for all rows; attention runs per row over each row's own cache. Returns float32
  // logits [B, vocab]. Row b equals forward() of that token alone up to reassociation.
  torch::Tensor forward_decode_batch(const torch::Tensor& ids,
                                     const std::vector<KVCache*>& caches) const;

  // Batched block encoding: independent sequences packed back to back, ids [N] int64 with
  // Σ lengths = N. Sequence s runs at positions 0..lengths[s]-1 and attends causally to itself
  // only (one varlen attention call per layer on CUDA). Writes every token's KV to `cache`
  // (empty, capacity ≥ N) at its packed index; no logits. Sequence s's KV equals a forward() of
  // it alone, up to the reassociation of the larger matrix products.
  void forward_packed(const torch::Tensor& ids, const std::vector<int64_t>& lengths,
                      KVCache& cache) const;

  // Decode steps (forward of one token with kLast, forward_decode_batch) replay CUDA graphs
  // where available (model/decode_graphs.h); on by default there. Off: the eager path.
  void set_decode_graphs(bool enabled) { decode_graphs_enabled_ = enabled; }
  bool decode_graphs() const { return decode_graphs_ && decode_graphs_enabled_ && !adapter_; }

  KVCache new_cache(int64_t capacity) const { return KVCache(config_, capacity, options()); }

  // Training forward: `ids` [B, T] int64 at positions [0, T), causal attention within each row,
  // no cache and no NoGradGuard, so gradients reach every weight that requires_grad. Runs the
  // same layer code as forward(). Returns float32 logits [B, T, vocab].
  // `mask` (optional, bool, true = may attend) replaces the causal mask: [T, T] shared by every
  // row, or [B, T, T] per row (packed samples), e.g. train/block_layout.h's block-attention layout.
  // Every query must be allowed at least one key. `positions` (optional, int64 [B, T] or [T],
  // each in [0, context)) replaces the positions 0..T-1, e.g. for a block's copy placed at the
  // block's own positions.
  torch::Tensor forward_train(const torch::Tensor& ids, const torch::Tensor& mask = {},
                              const torch::Tensor& positions = {}) const;
  // What a training forward takes beyond ids (forward_train above is the masked form of it).
  struct TrainInputs {
    torch::Tensor ids;        // [B, T] int64
    torch::Tensor positions;  // optional, as above
    torch::Tensor mask;       // optional, as above
    // Optional instead of `mask`: the same kind of pattern as query spans (model/span_attention.h),
    // covering the B * T tokens row by row. Fast kernels, and no [B, T, T] mask.
    const SpanPlan* spans = nullptr;
    // Optional int64 [N] flat indices b * T + t: the logits of these tokens only, [N, vocab]
    // (training reads a few predictions per row; the full [B, T, vocab] is the largest tensor).
    torch::Tensor logit_rows;
    // Activation checkpointing: each layer keeps only its input for the backward pass and runs
    // again there (about one more forward of compute for a fraction of the activation memory).
    // Gradients equal those without it; dropout masks are replayed from the saved RNG state.
    bool checkpoint_layers = false;
  };
  // float32 logits [B, T, vocab], or [N, vocab] with logit_rows.
  torch::Tensor forward_train(const TrainInputs& in) const;
  // The same pass without the LM head: final-norm hidden states, float32 [B, T, hidden]
  // (text embeddings for the semantic-chunking baseline).
  torch::Tensor hidden_states(const torch::Tensor& ids) const;

 private:
  friend class DecodeGraphs;  // replays the layer functions below
  Model(ModelConfig config, torch::Device device, torch::ScalarType dtype);
  // Where a forward's keys and values go: one sequence's cache (inference, B == 1), one cache per
  // row (batched decode, T == 1), one cache holding packed sequences that attend within
  // themselves (batched block encoding), or none (training: each row attends within itself,
  // causally or through `mask`).
  struct KVTarget {
    KVCache* cache = nullptr;
    const std::vector<KVCache*>* rows = nullptr;
    const torch::Tensor* mask = nullptr;
    const SpanPlan* spans = nullptr;                  // training, instead of `mask`
    const compat::PackedSequences* packed = nullptr;  // with `cache`
    bool checkpoint = false;                          // training: TrainInputs::checkpoint_layers
  };
  friend class LayerCheckpoint;  // model/layer_checkpoint.cpp: runs train_layer twice
  // Embedding, layers and final norm of a training forward: [B*T, hidden] in the model dtype.
  torch::Tensor final_hidden(const TrainInputs& in) const;
  // One layer of run_layers as a function of its input x [B*T, hidden] (the norm that run_layers
  // fuses into the previous layer's add is done here): the same operations, so the same values.
  torch::Tensor train_layer(int64_t layer, const torch::Tensor& x, int64_t B,
                            const torch::Tensor& cos, const torch::Tensor& sin,
                            const KVTarget& kv) const;
  // Whether training forwards draw random numbers (LoRA dropout): checkpointing then replays them.
  bool draws_random() const;
  // The layer stack shared by every forward: x [B*T, hidden] (rows grouped by sequence),
  // cos/sin [T, hd] or [B, 1, T, hd].
  // `rows`: which rows of the result the caller reads. With kLast or kNone and a cache (one
  // sequence), the last layer computes only what is needed -- every token's keys and values,
  // and attention and MLP for the last token (kLast) or for none (kNone) -- and the result is
  // that row ([1, hidden]) or undefined.
  torch::Tensor run_layers(torch::Tensor x, int64_t B, const torch::Tensor& cos,
                           const torch::Tensor& sin, const KVTarget& kv,
                           LogitsFor rows = LogitsFor::kAll) const;
  torch::Tensor last_layer_for_last_row(const LayerWeights& w, int64_t layer,
                                        const torch::Tensor& x, const torch::Tensor& h,
                                        const torch::Tensor& cos, const torch::Tensor& sin,
                                        const KVTarget& kv, LogitsFor rows) const;
  torch::Tensor attention_block(const LayerWeights& w, int64_t layer, const torch::Tensor& x,
                                int64_t B, const torch::Tensor& cos, const torch::Tensor& sin,
                                const KVTarget& kv) const;
  // The three parts of attention_block. project_qkv: x [B*T, hidden] (normed) to rotated
  // q [B, n_head, T, hd], k and v [B, n_kv, T, hd]; attend: attention (and KV writes) per `kv`,
  // [B, n_head, T, hd]; output_projection: back to [B*T, hidden].
  struct QKV {
    torch::Tensor q, k, v;
  };
  QKV project_qkv(const LayerWeights& w, const torch::Tensor& x, int64_t B,
                  const torch::Tensor& cos, const torch::Tensor& sin) const;
  torch::Tensor attend(int64_t layer, const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& v, const KVTarget& kv) const;
  torch::Tensor output_projection(const LayerWeights& w, const torch::Tensor& out) const;
  // y + scale * (x A^T) B^T for layer w's adapter of target t, or y itself when that target has
  // no adapter or adapters are off on this thread (BaseOnly). x [M, in], y [M, out].
  torch::Tensor with_lora(torch::Tensor y, const LayerWeights& w, LoraTarget t,
                          const torch::Tensor& x) const;
  static bool lora_active(const LayerWeights& w, LoraTarget t);
  torch::Tensor mlp_block(const LayerWeights& w, const torch::Tensor& x) const;
  torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const;
  // {x + delta, rms_norm(x + delta, weight)}: the residual add and the next norm (one kernel on
  // CUDA at inference).
  std::pair<torch::Tensor, torch::Tensor> add_rms_norm(const torch::Tensor& x,
                                                       const torch::Tensor& delta,
                                                       const torch::Tensor& weight) const;
  // Whether layer w's fused projections (fuse_projections) are in place and usable: inference
  // only, so training's autograd sees the separate weights it updates.
  static bool fused_projections(const LayerWeights& w);

  ModelConfig config_;
  RotaryEmbedding rope_;
  torch::Device device_;
  torch::ScalarType dtype_;
  ModelWeights weights_;
  std::string fingerprint_;
  std::shared_ptr<LoraAdapter> adapter_;         // attached unmerged; null when none
  std::unique_ptr<DecodeGraphs> decode_graphs_;  // null where graphs are unavailable
  std::atomic<bool> decode_graphs_enabled_{true};
};

// Resolves "auto"/"cpu"/"cuda[:N]" (UnsupportedError if CUDA is asked for but absent).
torch::Device resolve_device(const std::string& name);

}  // namespace blockattn
