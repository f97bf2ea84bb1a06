// Contiguous per-layer KV buffers for one sequence, preallocated to a capacity.
//
// Index i of the buffers holds the keys/values of global position i: block mode places each
// block's cached KV at its offset, full mode and decode append. Keys are stored after RoPE.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "blockattn/model_config.h"

namespace blockattn {

class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t capacity, torch::TensorOptions options);

  int64_t size() const { return size_; }
  // Global position of buffer index 0. Normally 0 (index == position); encoding a block directly
  // at a given offset (the reference for RoPE re-encoding) starts a cache there.
  int64_t base_position() const { return base_position_; }
  void set_base_position(int64_t p) { base_position_ = p; }
  int64_t next_position() const { return base_position_ + size_; }
  int64_t capacity() const { return capacity_; }
  int64_t num_layers() const { return k_.size(0); }

  // Writes new keys/values of one layer at positions [size(), size() + T); call commit(T) once
  // every layer has written. k_new, v_new: [1, n_kv_head, T, head_dim].
  void write(int64_t layer, const torch::Tensor& k_new, const torch::Tensor& v_new);
  void commit(int64_t n_new);

  // Keys/values of positions [0, upto): [1, n_kv_head, upto, head_dim] views (no copy).
  torch::Tensor keys(int64_t layer, int64_t upto) const;
  torch::Tensor values(int64_t layer, int64_t upto) const;

  // Copies a whole block's KV for all layers into positions [size(), size() + n) and advances
  // size() by n. k, v: [n_layer, n_kv_head, n, head_dim]. One copy per tensor for all layers.
  void append_block(const torch::Tensor& k, const torch::Tensor& v);

  // Advances size() by n and returns the buffers of the n new positions as writable views, for
  // the caller to fill: {keys, values}, each [n_layer, n_kv_head, n, head_dim].
  std::pair<torch::Tensor, torch::Tensor> reserve(int64_t n);

  // All layers' keys (values) of positions [begin, end) as a writable view: [n_layer, n_kv_head,
  // n, head_dim].
  torch::Tensor key_range(int64_t begin, int64_t end) { return k_.narrow(2, begin, end - begin); }
  torch::Tensor value_range(int64_t begin, int64_t end) { return v_.narrow(2, begin, end - begin); }

  // All layers' KV of positions [begin, end): [n_layer, n_kv_head, end - begin, head_dim]. A
  // part of the cache is copied; the whole cache ([0, capacity())) is returned as is, sharing
  // storage with this cache (a block's own cache, handed to the store without a copy).
  std::pair<torch::Tensor, torch::Tensor> export_range(int64_t begin, int64_t end) const;
  // The whole buffers, [n_layer, n_kv_head, capacity, head_dim] each: for kernels that write
  // and read the cache by address (model/cached_attention.h).
  const torch::Tensor& key_buffer() const { return k_; }
  const torch::Tensor& value_buffer() const { return v_; }
  // InputError unless n more positions fit.
  void check_room(int64_t n) const;

 private:
  int64_t capacity_;
  int64_t size_ = 0;
  int64_t base_position_ = 0;
  torch::Tensor k_;  // [n_layer, n_kv_head, capacity, head_dim]
  torch::Tensor v_;  // [n_layer, n_kv_head, capacity, head_dim]
};

}  // namespace blockattn
