// Attention of a few new query rows over a sequence's whole KV cache (a decode step; up to 16
// rows per KV head), behind a torch-free interface like kernels/rope_place.h.
//
// Flash-decoding: the cache's positions are split into `splits` ranges, one CTA per (range, KV
// head, sequence) computes its part of the attention for every query row that shares the KV
// head -- the n_rep query heads of grouped-query attention folded with the T new tokens into
// n_rep * T rows, so each key is read once -- with tensor-core products and an online softmax,
// and a second kernel merges the ranges by log-sum-exp. The cache addresses and lengths are read
// from device memory, so one captured CUDA graph replays over any cache and any length: a whole
// decode step, attention included, is one graph (model/decode_graphs.h).
//
// Query row r of KV head g is query head g * n_rep + r / T, token i = r % T, at cache position
// length - T + i; it sees positions [0, length - T + i] (the cache before it and the new tokens
// up to itself: causal attention aligned to the bottom right).
#pragma once

#include <cstdint>

#include "kernels/rope_place.h"

namespace blockattn::kernels {

// One sequence's cache as the kernels read it.
struct CachedSeq {
  int64_t keys = 0;      // device address of layer 0's keys: [n_layer, n_kv, capacity, head_dim]
  int64_t values = 0;    // device address of layer 0's values, same shape
  int64_t capacity = 0;  // positions per (layer, KV head)
  int64_t length = 0;    // positions the new queries see: past + T, the T new ones included
};

struct CachedAttentionArgs {
  const void* q = nullptr;          // [B, n_head, T, head_dim] contiguous, after RoPE
  const void* k_new = nullptr;      // [B, n_kv, T, head_dim] contiguous, or nullptr: if set,
  const void* v_new = nullptr;      //   written to positions [length - T, length) first
  const CachedSeq* seqs = nullptr;  // [B] in device memory, or nullptr: `single` (B == 1)
  CachedSeq single;
  void* out = nullptr;         // [B, T, n_head, head_dim] contiguous
  float* workspace = nullptr;  // cached_attention_workspace(...) floats of device memory
  int64_t layer = 0;           // the layer of the cache to read (and write)
  int64_t batch = 1, tokens = 1, n_head = 0, n_kv = 0, head_dim = 0;
  int64_t splits = 1;  // position ranges per (KV head, sequence): cached_attention_splits
  float scale = 0;     // softmax scale, usually 1 / sqrt(head_dim)
  ElementType type = ElementType::kBFloat16;
};

// Whether the kernels handle this shape: bf16 or fp16, head_dim 16, 32, 48, 64, 80, 96 or 128,
// n_rep * T ≤ 16 rows per KV head (a decode step; see kMaxRows in the .cu for why no more).
bool cached_attention_supports(int64_t head_dim, int64_t rows_per_kv_head, ElementType type);

// The split count for a model with n_kv KV heads and this head_dim on the current device: one
// wave of CTAs for one sequence. A function of the shape and the device only, never of the
// cache's length, so an eager call and a graph replay over the same cache compute the same sums
// in the same order.
int64_t cached_attention_splits(int64_t n_kv, int64_t head_dim);

// Floats of workspace for `args` (partial outputs and log-sum-exps of every range).
int64_t cached_attention_workspace(const CachedAttentionArgs& args);

// Runs the (optional) KV write, the ranges and the merge on `stream` (a cudaStream_t). Legal
// under CUDA graph capture. Returns a CUDA error string or nullptr.
const char* cached_attention(const CachedAttentionArgs& args, void* stream);

}  // namespace blockattn::kernels
