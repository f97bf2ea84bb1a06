#include "model/cached_attention.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "blockattn/error.h"

#if defined(BLOCKATTN_WITH_KERNELS)
#include <c10/cuda/CUDAStream.h>

#include "kernels/cached_attention.h"
#endif

namespace blockattn {

#if defined(BLOCKATTN_WITH_KERNELS)
namespace {

std::optional<kernels::ElementType> element_type(torch::ScalarType dtype) {
  if (dtype == torch::kBFloat16) return kernels::ElementType::kBFloat16;
  if (dtype == torch::kHalf) return kernels::ElementType::kFloat16;
  return std::nullopt;
}

kernels::CachedAttentionArgs args_for(const torch::Tensor& q, int64_t n_kv) {
  kernels::CachedAttentionArgs a;
  a.q = q.data_ptr();
  a.batch = q.size(0);
  a.n_head = q.size(1);
  a.tokens = q.size(2);
  a.head_dim = q.size(3);
  a.n_kv = n_kv;
  a.splits = kernels::cached_attention_splits(n_kv, a.head_dim);
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.head_dim)));
  a.type = *element_type(q.scalar_type());
  return a;
}

void run(kernels::CachedAttentionArgs& a, const torch::Tensor& q) {
  torch::Tensor workspace =  // [cached_attention_workspace floats]
      torch::empty({kernels::cached_attention_workspace(a)},
                   torch::TensorOptions().dtype(torch::kFloat32).device(q.device()));
  a.workspace = workspace.data_ptr<float>();
  const char* err =
      kernels::cached_attention(a, c10::cuda::getCurrentCUDAStream(q.device().index()).stream());
  if (err) throw Error(std::string("CUDA kernel cached_attention failed: ") + err);
}

}  // namespace
#endif

bool cached_attention_applies(const torch::Device& device, torch::ScalarType dtype, int64_t n_head,
                              int64_t n_kv, int64_t head_dim, int64_t tokens) {
#if defined(BLOCKATTN_WITH_KERNELS)
  static const bool enabled = [] {
    const char* env = std::getenv("BLOCKATTN_CACHED_ATTENTION");
    return !(env && std::string(env) == "0");
  }();
  const auto type = element_type(dtype);
  return enabled && device.is_cuda() && type && !torch::GradMode::is_enabled() && n_kv > 0 &&
         n_head % n_kv == 0 &&
         kernels::cached_attention_supports(head_dim, n_head / n_kv * tokens, *type);
#else
  (void)device, (void)dtype, (void)n_head, (void)n_kv, (void)head_dim, (void)tokens;
  return false;
#endif
}

torch::Tensor cached_attention(const torch::Tensor& q, const torch::Tensor& keys,
                               const torch::Tensor& values) {
#if defined(BLOCKATTN_WITH_KERNELS)
  const int64_t n_kv = keys.size(1), hd = q.size(3), T = q.size(2);
  // The kernel reads each KV head's positions at a pitch of head_dim elements, heads at the
  // keys' head stride, values at the same one.
  if (q.size(0) != 1 || keys.size(2) < T || keys.stride(3) != 1 || keys.stride(2) != hd ||
      values.strides() != keys.strides() || values.sizes() != keys.sizes() ||
      keys.scalar_type() != q.scalar_type() ||
      !cached_attention_applies(q.device(), q.scalar_type(), q.size(1), n_kv, hd, T))
    return {};
  torch::Tensor qc = q.contiguous();  // [1, n_head, T, hd]
  kernels::CachedAttentionArgs a = args_for(qc, n_kv);
  a.single.keys = reinterpret_cast<int64_t>(keys.data_ptr());
  a.single.values = reinterpret_cast<int64_t>(values.data_ptr());
  a.single.capacity = keys.stride(1) / hd;
  a.single.length = keys.size(2);
  torch::Tensor out = torch::empty({1, T, q.size(1), hd}, q.options());  // [1, T, n_head, hd]
  a.out = out.data_ptr();
  run(a, qc);
  return out.transpose(1, 2);  // [1, n_head, T, hd]
#else
  (void)q, (void)keys, (void)values;
  return {};
#endif
}

std::array<int64_t, 4> cached_seq_row(const KVCache& cache, int64_t new_tokens) {
  cache.check_room(new_tokens);
  return {reinterpret_cast<int64_t>(cache.key_buffer().data_ptr()),
          reinterpret_cast<int64_t>(cache.value_buffer().data_ptr()), cache.capacity(),
          cache.size() + new_tokens};
}

void cached_attention_append(const torch::Tensor& q, const torch::Tensor& k_new,
                             const torch::Tensor& v_new, const torch::Tensor& seqs, int64_t layer,
                             torch::Tensor& out) {
#if defined(BLOCKATTN_WITH_KERNELS)
  TORCH_CHECK(q.is_contiguous() && k_new.is_contiguous() && v_new.is_contiguous() &&
                  out.is_contiguous() && seqs.scalar_type() == torch::kInt64 &&
                  seqs.size(0) == q.size(0) && seqs.size(1) == 4,
              "cached_attention_append: layout");
  kernels::CachedAttentionArgs a = args_for(q, k_new.size(1));
  a.k_new = k_new.data_ptr();
  a.v_new = v_new.data_ptr();
  a.seqs = reinterpret_cast<const kernels::CachedSeq*>(seqs.data_ptr<int64_t>());
  a.layer = layer;
  a.out = out.data_ptr();
  run(a, q);
#else
  (void)q, (void)k_new, (void)v_new, (void)seqs, (void)layer, (void)out;
  throw Error("cached_attention_append: this build has no CUDA kernels");
#endif
}

}  // namespace blockattn
