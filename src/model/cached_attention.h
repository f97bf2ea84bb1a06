// Attention of a few new query rows over a sequence's KV cache through the split-KV CUDA kernel
// (kernels/cached_attention.h): decode steps, eagerly and inside CUDA graphs.
// The eager and the graphed forms run the same kernels with the same split count, so they give
// the same values bit for bit. Where the kernel does not apply -- the CPU, a build without the
// kernels, fp32, a head_dim it lacks, more than 16 query rows per KV head, autograd recording,
// or BLOCKATTN_CACHED_ATTENTION=0 -- `applies` says no and the callers take the flash paths of
// model/compat.h, which compute the same attention.
#pragma once

#include <array>
#include <cstdint>

#include <torch/torch.h>

#include "model/kv_cache.h"

namespace blockattn {

// Whether the kernel handles T new tokens of a model with these heads in this dtype on `device`.
bool cached_attention_applies(const torch::Device& device, torch::ScalarType dtype, int64_t n_head,
                              int64_t n_kv, int64_t head_dim, int64_t tokens);

// Eager form: q [1, n_head, T, hd]; keys, values [1, n_kv, past + T, hd], views of one layer
// of a cache (KVCache::keys/values) that already hold the T new keys. Query i sees positions
// [0, past + i]. Returns [1, n_head, T, hd] in q's dtype (a transposed view of a [1, T, n_head,
// hd] tensor), or an undefined tensor where the kernel does not apply.
torch::Tensor cached_attention(const torch::Tensor& q, const torch::Tensor& keys,
                               const torch::Tensor& values);

// The row of a descriptor tensor for `cache` about to receive `new_tokens` tokens: keys and
// values addresses, capacity, size() + new_tokens. InputError unless they fit.
std::array<int64_t, 4> cached_seq_row(const KVCache& cache, int64_t new_tokens);

// Graph form: writes k_new, v_new [B, n_kv, T, hd] into layer `layer` of every sequence's cache
// at positions [length - T, length), then attends as above, into out [B, T, n_head, hd]
// (contiguous, preallocated). seqs: [B, 4] int64 on the device, rows from cached_seq_row,
// read when the kernels run (so a replayed graph sees the rows written before the replay).
// Precondition: cached_attention_applies for these shapes.
void cached_attention_append(const torch::Tensor& q, const torch::Tensor& k_new,
                             const torch::Tensor& v_new, const torch::Tensor& seqs, int64_t layer,
                             torch::Tensor& out);

}  // namespace blockattn
