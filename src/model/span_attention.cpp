#include "model/span_attention.h"

#include <string>

#include "blockattn/error.h"
#include "model/compat.h"

namespace blockattn {

SpanPlan plan_span_attention(const std::vector<AttentionSpan>& spans, int64_t tokens,
                             torch::Device device) {
  SpanPlan p;
  p.tokens = tokens;
  const int64_t n = static_cast<int64_t>(spans.size());
  std::vector<int64_t> rows;  // [n * 4]
  std::vector<int64_t> keys;  // [Nk]
  std::vector<int32_t> cu_q{0}, cu_k{0};
  rows.reserve(static_cast<size_t>(4 * n));
  keys.reserve(static_cast<size_t>(gathered_keys(spans)));
  int64_t next = 0;
  for (const AttentionSpan& s : spans) {
    if (s.begin != next || s.length <= 0 || s.prefix_length < 0 || s.prefix_begin < 0 ||
        s.prefix_begin + s.prefix_length > s.begin)
      throw InputError("span attention: span at " + std::to_string(s.begin) +
                       " does not continue the spans before it at " + std::to_string(next) +
                       " or its prefix does not end before it");
    next = s.begin + s.length;
    rows.insert(rows.end(), {s.begin, s.length, s.prefix_begin, s.prefix_length});
    for (int64_t i = 0; i < s.prefix_length; ++i) keys.push_back(s.prefix_begin + i);
    for (int64_t i = 0; i < s.length; ++i) keys.push_back(s.begin + i);
    cu_q.push_back(cu_q.back() + static_cast<int32_t>(s.length));
    cu_k.push_back(cu_k.back() + static_cast<int32_t>(s.prefix_length + s.length));
    p.max_q = std::max(p.max_q, s.length);
    p.max_k = std::max(p.max_k, s.prefix_length + s.length);
  }
  if (next != tokens)
    throw InputError("span attention: the spans cover " + std::to_string(next) + " of " +
                     std::to_string(tokens) + " tokens");
  p.spans = torch::tensor(rows, torch::kInt64).view({n, 4});
  p.key_index = torch::tensor(keys, torch::kInt64).to(device);
  p.cu_q = torch::tensor(cu_q, torch::kInt32).to(device);
  p.cu_k = torch::tensor(cu_k, torch::kInt32).to(device);
  return p;
}

torch::Tensor span_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const SpanPlan& plan) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), n_kv = k.size(1);
  if (B * T != plan.tokens)
    throw InputError("span attention: the plan covers " + std::to_string(plan.tokens) +
                     " tokens, the batch has " + std::to_string(B * T));
  torch::Tensor qf = q.transpose(1, 2).reshape({B * T, H, D});     // [B*T, n_head, D]
  torch::Tensor kf = k.transpose(1, 2).reshape({B * T, n_kv, D});  // [B*T, n_kv, D]
  torch::Tensor vf = v.transpose(1, 2).reshape({B * T, n_kv, D});  // [B*T, n_kv, D]
  torch::Tensor out = compat::attention_varlen_causal(             // [B*T, n_head, D]
      qf.contiguous(), kf.index_select(0, plan.key_index), vf.index_select(0, plan.key_index),
      plan.cu_q, plan.cu_k, plan.max_q, plan.max_k);
  if (!out.defined()) {
    // One attention per span: [1, heads, len, D] slices of the flat tokens.
    auto heads_first = [](const torch::Tensor& x) { return x.transpose(0, 1).unsqueeze(0); };
    auto rows = plan.spans.accessor<int64_t, 2>();
    std::vector<torch::Tensor> parts;  // [len, n_head, D] each
    parts.reserve(static_cast<size_t>(plan.spans.size(0)));
    for (int64_t s = 0; s < plan.spans.size(0); ++s) {
      const int64_t begin = rows[s][0], len = rows[s][1], pb = rows[s][2], pl = rows[s][3];
      torch::Tensor qs = heads_first(qf.narrow(0, begin, len));  // [1, n_head, len, D]
      torch::Tensor ks = kf.narrow(0, begin, len), vs = vf.narrow(0, begin, len);
      torch::Tensor o;  // [1, n_head, len, D]
      if (pl == 0) {
        o = compat::attention(qs, heads_first(ks), heads_first(vs), std::nullopt, len > 1);
      } else {
        ks = torch::cat({kf.narrow(0, pb, pl), ks}, 0);  // [pl+len, n_kv, D]
        vs = torch::cat({vf.narrow(0, pb, pl), vs}, 0);
        torch::Tensor allowed =  // [len, pl+len]: the prefix, then causal over the span
            torch::ones({len, pl + len},
                        torch::TensorOptions().dtype(torch::kBool).device(q.device()))
                .tril(pl);
        o = compat::attention(qs, heads_first(ks), heads_first(vs), allowed, /*causal=*/false);
      }
      parts.push_back(o[0].transpose(0, 1));
    }
    out = parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
  }
  return out.view({B, T, H, D}).transpose(1, 2);  // [B, n_head, T, D]
}

}  // namespace blockattn
