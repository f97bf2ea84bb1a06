// Attention by query spans (model/attention_spans.h) for training forwards: the block-
// attention pattern without a dense mask. On CUDA in bf16/fp16 one varlen flash call per layer
// does every span (keys gathered per span: its prefix, then itself); elsewhere one small
// attention per span computes the same. Both are differentiable.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "model/attention_spans.h"

namespace blockattn {

// A batch's spans in the form the kernels read. Tensors only, so a plan is cheap to copy and can
// be kept by a checkpointed layer until its backward.
struct SpanPlan {
  torch::Tensor spans;       // [n, 4] int64 on the CPU: begin, length, prefix_begin, prefix_length
  torch::Tensor key_index;   // [Nk] int64 on the device: each span's keys (prefix, then the span)
  torch::Tensor cu_q, cu_k;  // [n + 1] int32 on the device: span offsets among queries and keys
  int64_t max_q = 0, max_k = 0;  // the longest span and key range
  int64_t tokens = 0;            // B * T: the spans cover [0, tokens) in order

  bool defined() const { return spans.defined(); }
};

// InputError unless the spans cover [0, tokens) in order, each prefix ending before its span.
SpanPlan plan_span_attention(const std::vector<AttentionSpan>& spans, int64_t tokens,
                             torch::Device device);

// q [B, n_head, T, D], k, v [B, n_kv, T, D] with B * T == plan.tokens. Returns [B, n_head, T, D]
// in q's dtype: every query attends as its span says. Outputs of padding spans are unspecified.
torch::Tensor span_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const SpanPlan& plan);

}  // namespace blockattn
