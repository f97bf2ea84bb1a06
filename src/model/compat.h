// Every difference between the libtorch versions we build against lives here:
// Debian 12's libtorch 1.13 (CPU, this machine and CI) and PyTorch 2.11's libtorch (CUDA 13, H200).
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/Event.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#define BLOCKATTN_TORCH_2 (TORCH_VERSION_MAJOR >= 2)

// BLOCKATTN_WITH_CUDA: set by CMake where libtorch was built with CUDA (its headers and the CUDA
// runtime's are then on the include path).
#if defined(BLOCKATTN_WITH_CUDA)
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <cuda_runtime_api.h>
#endif

namespace blockattn::compat {

// Scaled dot-product attention with grouped-query attention.
//   q:    [B, n_head, Tq, D]
//   k, v: [B, n_kv_head, Tk, D]   (n_head % n_kv_head == 0)
//   mask: optional bool (true = may attend), [Tq, Tk] broadcast over batch and heads, or
//         [B, 1, Tq, Tk] broadcast over heads
//   causal: top-left causal mask; only valid with Tq == Tk and no `mask`
// Returns [B, n_head, Tq, D] in q's dtype. libtorch 2.x dispatches to flash / memory-efficient
// kernels on CUDA (flash when causal and mask is absent); 1.13 has no fused SDPA, so the math
// path below runs, with softmax in fp32.
// Causal self-attention over at least this many tokens (a long full prefill) may use cuDNN's
// attention on CUDA, which on Hopper is markedly faster than flash attention 2 at long lengths
// but builds an execution plan for every new shape (configure_attention_backends). So such
// calls are padded to a multiple of kCudnnBucketTokens (the padding sits after the real tokens,
// where causal attention keeps it out of every real row): a plan is built once per bucket and
// process, not once per prompt length. On the H200 (8B shape) cuDNN was slower than flash at 4K
// tokens and faster from 8K on. BLOCKATTN_SDPA_CUDNN_MIN_TOKENS overrides (0: never).
inline constexpr int64_t kCudnnBucketTokens = 512;
inline int64_t cudnn_min_tokens() {
  static const int64_t n = [] {
    const char* env = std::getenv("BLOCKATTN_SDPA_CUDNN_MIN_TOKENS");
    return env ? std::atoll(env) : int64_t{6144};
  }();
  return n;
}

inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const std::optional<torch::Tensor>& mask,
                               bool causal) {
  const int64_t n_rep = q.size(1) / k.size(1);
#if BLOCKATTN_TORCH_2
  c10::optional<torch::Tensor> m;
  if (mask) m = *mask;
  auto sdpa = [&] {
    return at::scaled_dot_product_attention(q, k, v, m, /*dropout_p=*/0.0, causal,
                                            /*scale=*/c10::nullopt, /*enable_gqa=*/n_rep > 1);
  };
  const int64_t min_tokens = cudnn_min_tokens();
  if (causal && !mask && q.is_cuda() && min_tokens > 0 && q.size(2) >= min_tokens &&
      !at::globalContext().userEnabledCuDNNSDP()) {
    // SDPA's backend flags are process-wide: allow cuDNN for this call only. A concurrent
    // call elsewhere may see it allowed meanwhile, which changes its speed, not its result.
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    const int64_t T = q.size(2);
    const int64_t padded = (T + kCudnnBucketTokens - 1) / kCudnnBucketTokens * kCudnnBucketTokens;
    auto pad = [&](const torch::Tensor& x) {  // [B, heads, T, D] -> [B, heads, padded, D]
      return padded == T ? x : at::constant_pad_nd(x, {0, 0, 0, padded - T});
    };
    at::globalContext().setSDPUseCuDNN(true);
    try {
      torch::Tensor out = at::scaled_dot_product_attention(
          pad(q), pad(k), pad(v), c10::nullopt, /*dropout_p=*/0.0, /*is_causal=*/true,
          /*scale=*/c10::nullopt, /*enable_gqa=*/n_rep > 1);  // [B, n_head, padded, D]
      at::globalContext().setSDPUseCuDNN(false);
      return out.narrow(2, 0, T);
    } catch (...) {
      at::globalContext().setSDPUseCuDNN(false);
      throw;
    }
  }
  return sdpa();
#else
  // Grouped-query attention without copying K/V: the n_rep query heads that share a KV head are
  // folded into the query-length dimension. q's heads are kv-major (head h reads KV head h /
  // n_rep).
  const int64_t B = q.size(0), n_kv = k.size(1), Tq = q.size(2), Tk = k.size(2), D = q.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  torch::Tensor qf =
      q.to(torch::kFloat32).reshape({B, n_kv, n_rep * Tq, D});  // [B, n_kv, n_rep*Tq, D]
  torch::Tensor scores =
      torch::matmul(qf, k.to(torch::kFloat32).transpose(-2, -1)) *  // [B, n_kv, n_rep*Tq, Tk]
      scale;
  if (causal || mask) {
    torch::Tensor allowed =
        causal ? torch::ones({Tq, Tk}, q.options().dtype(torch::kBool)).tril() : *mask;
    if (allowed.dim() == 4) allowed = allowed.unsqueeze(1);  // [B, 1, 1, Tq, Tk] over (n_kv, n_rep)
    scores = scores.view({B, n_kv, n_rep, Tq, Tk})
                 .masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity())
                 .view({B, n_kv, n_rep * Tq, Tk});
  }
  torch::Tensor probs = torch::softmax(scores, -1);
  return torch::matmul(probs, v.to(torch::kFloat32))
      .view({B, n_kv * n_rep, Tq, D})
      .to(q.scalar_type());
#endif
}

// Chooses the SDPA kernels once per process. libtorch 2.x may pick cuDNN's attention on Hopper,
// which builds an execution plan for every new (query, key) length; inference meets a new length
// at every decode step and every prompt, and on the H200 that setup cost tens of milliseconds per
// call (a decode step of an 8B model took 65 ms, and every extra sequence in a batch added about
// 45 ms). Flash and memory-efficient attention have no per-shape setup. BLOCKATTN_SDPA_CUDNN=1
// keeps cuDNN allowed (for comparisons). No-op on 1.13, which has no fused SDPA.
inline void configure_attention_backends() {
#if BLOCKATTN_TORCH_2
  static const bool done = [] {
    const char* env = std::getenv("BLOCKATTN_SDPA_CUDNN");
    at::globalContext().setSDPUseCuDNN(env != nullptr && std::string(env) == "1");
    return true;
  }();
  (void)done;
#endif
}

// T new queries over P cached positions that they all see plus their own keys causally (the
// final block over cached blocks, a chunk of prompt after a prefix) without the [T, P + T] mask
// that sends SDPA to its slow masked kernels: two flash passes -- the prefix without a mask, the
// new keys causally -- merged exactly by log-sum-exp (FlashInfer's cascade merge):
//   o = (e^{lse1} o1 + e^{lse2} o2) / (e^{lse1} + e^{lse2}).
// Grouped-query attention costs no copy of the prefix: the n_rep query heads of one KV head are
// folded into the query length (the prefix part has no mask, so rows are independent).
//   q [1, n_head, T, D]; k_prefix, v_prefix [1, n_kv, P, D]; k_new, v_new [1, n_kv, T, D]
// Returns [1, n_head, T, D] in q's dtype, or an undefined tensor where no flash kernel with LSE
// exists (CPU, fp32, libtorch 1.13, or a kernel that refused the shapes): the caller then takes
// the masked path, which computes the same thing.
inline torch::Tensor attention_after_prefix(const torch::Tensor& q, const torch::Tensor& k_prefix,
                                            const torch::Tensor& v_prefix,
                                            const torch::Tensor& k_new,
                                            const torch::Tensor& v_new) {
#if BLOCKATTN_TORCH_2
  static std::atomic<bool> unavailable{false};
  const auto dt = q.scalar_type();
  if (!q.is_cuda() || (dt != torch::kBFloat16 && dt != torch::kHalf) || unavailable) return {};
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
  const int64_t n_kv = k_prefix.size(1), n_rep = H / n_kv;
  try {
    torch::Tensor q_folded = q.reshape({B, n_kv, n_rep * T, D});  // [B, n_kv, n_rep*T, D]
    auto prefix = at::_scaled_dot_product_flash_attention(q_folded, k_prefix, v_prefix, 0.0,
                                                          /*is_causal=*/false);
    torch::Tensor o1 = std::get<0>(prefix).reshape({B, H, T, D});  // [B, H, T, D]
    torch::Tensor l1 =
        std::get<1>(prefix).reshape({B, H, T, 1}).to(torch::kFloat32);            // [B, H, T, 1]
    torch::Tensor k_rep = n_rep > 1 ? k_new.repeat_interleave(n_rep, 1) : k_new;  // [B, H, T, D]
    torch::Tensor v_rep = n_rep > 1 ? v_new.repeat_interleave(n_rep, 1) : v_new;  // [B, H, T, D]
    auto self = at::_scaled_dot_product_flash_attention(q.contiguous(), k_rep, v_rep, 0.0,
                                                        /*is_causal=*/true);
    torch::Tensor o2 = std::get<0>(self);                                            // [B, H, T, D]
    torch::Tensor l2 = std::get<1>(self).reshape({B, H, T, 1}).to(torch::kFloat32);  // [B, H, T, 1]
    torch::Tensor m = torch::maximum(l1, l2);
    torch::Tensor w1 = (l1 - m).exp(), w2 = (l2 - m).exp();
    return ((o1.to(torch::kFloat32) * w1 + o2.to(torch::kFloat32) * w2) / (w1 + w2)).to(dt);
  } catch (const c10::Error&) {
    unavailable = true;  // e.g. a GPU without flash kernels: the masked path from now on
    return {};
  }
#else
  (void)q, (void)k_prefix, (void)v_prefix, (void)k_new, (void)v_new;
  return {};
#endif
}

// The same attention as attention_after_prefix in ONE flash call, for keys that already sit
// back to back in a cache: T new queries over P + T keys, query i seeing keys 0 .. P + i
// (causal aligned to the bottom right, which is what flash attention 2 does when Tq < Tk;
// SDPA's front end refuses that case because its own is_causal means top-left, so the flash
// op is called directly). Grouped-query attention is native (no copy of the keys) and the
// kernel splits the key range over the multiprocessors, so one call replaces two flash passes
// and the eight elementwise kernels of their merge.
//   q [1, n_head, T, D]; keys, values [1, n_kv, P + T, D], last dimension contiguous (views of a
//   cache with a larger capacity are fine)
// Returns [1, n_head, T, D] (a transposed view) in q's dtype, or an undefined tensor where the
// kernel does not apply (CPU, fp32, libtorch 1.13, or a kernel that refused the shapes).
inline torch::Tensor attention_causal_suffix(const torch::Tensor& q, const torch::Tensor& keys,
                                             const torch::Tensor& values) {
#if BLOCKATTN_TORCH_2
  static std::atomic<bool> unavailable{false};
  const auto dt = q.scalar_type();
  if (!q.is_cuda() || (dt != torch::kBFloat16 && dt != torch::kHalf) || unavailable ||
      q.size(0) != 1 || keys.size(2) < q.size(2) || keys.stride(3) != 1 || values.stride(3) != 1)
    return {};
  try {
    torch::Tensor qt = q.transpose(1, 2);       // [1, T, n_head, D]
    torch::Tensor kt = keys.transpose(1, 2);    // [1, P+T, n_kv, D]
    torch::Tensor vt = values.transpose(1, 2);  // [1, P+T, n_kv, D]
    auto out = at::_flash_attention_forward(qt, kt, vt, std::nullopt, std::nullopt, q.size(2),
                                            keys.size(2), 0.0, /*is_causal=*/true,
                                            /*return_debug_mask=*/false);
    return std::get<0>(out).transpose(1, 2);  // [1, n_head, T, D]
  } catch (const c10::Error&) {
    unavailable = true;  // the two-pass path from now on
    return {};
  }
#else
  (void)q, (void)keys, (void)values;
  return {};
#endif
}

// One new query per sequence over its whole cache (a decode step): q [1, n_head, 1, D],
// k, v [1, n_kv, S, D]. On CUDA in bf16/fp16 the flash kernel is called directly with the n_rep
// query heads of each KV head folded into the query length (exact: a decode query has no mask),
// which skips SDPA's per-call backend selection and GQA handling -- a decode step makes one such
// call per layer and sequence, and their host-side cost is what a batch of streams pays per
// extra stream. Elsewhere: attention() without a mask.
inline torch::Tensor attention_decode(const torch::Tensor& q, const torch::Tensor& k,
                                      const torch::Tensor& v) {
#if BLOCKATTN_TORCH_2
  static std::atomic<bool> unavailable{false};
  const auto dt = q.scalar_type();
  if (q.is_cuda() && (dt == torch::kBFloat16 || dt == torch::kHalf) && q.size(2) == 1 &&
      !unavailable) {
    const int64_t H = q.size(1), D = q.size(3), n_kv = k.size(1);
    try {
      torch::Tensor folded = q.reshape({1, n_kv, H / n_kv, D});  // [1, n_kv, n_rep, D]
      auto out = at::_scaled_dot_product_flash_attention(folded, k, v, 0.0, /*is_causal=*/false);
      return std::get<0>(out).reshape({1, H, 1, D});
    } catch (const c10::Error&) {
      unavailable = true;
    }
  }
#endif
  return attention(q, k, v, std::nullopt, /*causal=*/false);
}

// Sequences packed back to back along the token axis (batched block encoding): their lengths,
// and the same as cumulative offsets on the device for varlen kernels.
struct PackedSequences {
  std::vector<int64_t> lengths;
  int64_t max_length = 0;
  torch::Tensor cu_lengths;  // [n + 1] int32 on the device: 0, l0, l0 + l1, ...
};

inline PackedSequences pack_sequences(const std::vector<int64_t>& lengths,
                                      const torch::Device& device) {
  PackedSequences p;
  p.lengths = lengths;
  std::vector<int32_t> cu{0};
  for (int64_t n : lengths) {
    p.max_length = std::max(p.max_length, n);
    cu.push_back(cu.back() + static_cast<int32_t>(n));
  }
  p.cu_lengths = torch::tensor(cu, torch::kInt32).to(device);
  return p;
}

// Causal attention within each packed sequence only: q [1, n_head, N, D], k, v [1, n_kv, N, D]
// with N = Σ lengths; token i of sequence s sees the tokens of s up to itself. On CUDA in
// bf16/fp16 one varlen flash call does all sequences (GQA native, no mask); elsewhere one
// causal attention() per sequence, which computes the same. Returns [1, n_head, N, D].
inline torch::Tensor attention_packed_causal(const torch::Tensor& q, const torch::Tensor& k,
                                             const torch::Tensor& v, const PackedSequences& seqs) {
#if BLOCKATTN_TORCH_2
  static std::atomic<bool> unavailable{false};
  const auto dt = q.scalar_type();
  if (q.is_cuda() && (dt == torch::kBFloat16 || dt == torch::kHalf) && !unavailable) {
    try {
      torch::Tensor qt = q[0].transpose(0, 1).contiguous();  // [N, n_head, D]
      torch::Tensor kt = k[0].transpose(0, 1).contiguous();  // [N, n_kv, D]
      torch::Tensor vt = v[0].transpose(0, 1).contiguous();  // [N, n_kv, D]
      auto out = at::_flash_attention_forward(qt, kt, vt, seqs.cu_lengths, seqs.cu_lengths,
                                              seqs.max_length, seqs.max_length, 0.0,
                                              /*is_causal=*/true, /*return_debug_mask=*/false);
      return std::get<0>(out).transpose(0, 1).unsqueeze(0);  // [1, n_head, N, D]
    } catch (const c10::Error&) {
      unavailable = true;  // the per-sequence path from now on
    }
  }
#endif
  std::vector<torch::Tensor> parts;  // [1, n_head, len_s, D] each
  int64_t start = 0;
  for (int64_t n : seqs.lengths) {
    parts.push_back(attention(q.narrow(2, start, n), k.narrow(2, start, n), v.narrow(2, start, n),
                              std::nullopt, /*causal=*/n > 1));
    start += n;
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 2);
}

// Varlen causal attention with gradients, for training: queries and keys packed as sequences
// back to back, q [Nq, n_head, D], k, v [Nk, n_kv, D] (last dimension contiguous), sequence s
// being q rows cu_q[s] .. cu_q[s+1] and k rows cu_k[s] .. cu_k[s+1] (int32 on the device), its
// query i seeing keys 0 .. (len_k - len_q) + i (causal aligned to the bottom right, flash
// attention 2's rule). Returns [Nq, n_head, D], differentiable in q, k and v, or an undefined
// tensor where no flash kernel applies (CPU, fp32, libtorch 1.13, or a refused shape).
inline torch::Tensor attention_varlen_causal(const torch::Tensor& q, const torch::Tensor& k,
                                             const torch::Tensor& v, const torch::Tensor& cu_q,
                                             const torch::Tensor& cu_k, int64_t max_q,
                                             int64_t max_k) {
#if BLOCKATTN_TORCH_2
  static std::atomic<bool> unavailable{false};
  const auto dt = q.scalar_type();
  if (!q.is_cuda() || (dt != torch::kBFloat16 && dt != torch::kHalf) || unavailable) return {};
  try {
    auto out = at::_flash_attention_forward(q, k, v, cu_q, cu_k, max_q, max_k, 0.0,
                                            /*is_causal=*/true, /*return_debug_mask=*/false);
    return std::get<0>(out);
  } catch (const c10::Error&) {
    unavailable = true;  // the per-span path from now on
    return {};
  }
#else
  (void)q, (void)k, (void)v, (void)cu_q, (void)cu_k, (void)max_q, (void)max_k;
  return {};
#endif
}

// The default random generator of `device` (the one torch::dropout draws from there).
inline at::Generator default_generator(const torch::Device& device) {
#if defined(BLOCKATTN_WITH_CUDA)
  if (device.is_cuda()) return at::cuda::detail::getDefaultCUDAGenerator(device.index());
#endif
  (void)device;
  return at::detail::getDefaultCPUGenerator();
}

// A point in the work queued on the current stream of a device, made by the thread that produced
// a tensor; another thread's stream waits for it before reading that tensor (GPU-side: no host
// wait). Empty, and a no-op, on the CPU.
class StreamMark {
 public:
  StreamMark() = default;
  static StreamMark here(const torch::Device& device) {
    StreamMark m;
    if (!device.is_cuda()) return m;
    c10::impl::VirtualGuardImpl impl(device.type());
    m.event_ = std::make_shared<c10::Event>(device.type());
    m.event_->record(impl.getStream(device));
    return m;
  }
  // True once the device has run the work queued before the mark (always true when empty).
  bool reached() const { return !event_ || event_->query(); }
  // Makes the calling thread's current stream on the mark's device wait for it.
  void wait_on_current_stream() const {
    if (!event_) return;
    c10::impl::VirtualGuardImpl impl(event_->device_type());
    event_->block(impl.getStream(event_->device()));
  }

 private:
  std::shared_ptr<c10::Event> event_;
};

// For the life of the guard, this thread's work on `device` goes to a stream of its own (CUDA),
// so background copies (write-behind) overlap the compute stream instead of queueing in it.
class SideStreamGuard {
 public:
  explicit SideStreamGuard(const torch::Device& device) {
#if BLOCKATTN_TORCH_2
    if (device.is_cuda()) {
      c10::impl::VirtualGuardImpl impl(device.type());
      guard_.emplace(impl.getStreamFromGlobalPool(device, /*isHighPriority=*/false));
    }
#else
    (void)device;
#endif
  }

 private:
  std::optional<c10::StreamGuard> guard_;
};

// Free and total memory of a CUDA device in bytes (cudaMemGetInfo; memory libtorch's caching
// allocator holds counts as used). nullopt on the CPU or in a build without CUDA.
inline std::optional<std::pair<uint64_t, uint64_t>> device_memory(const torch::Device& device) {
#if defined(BLOCKATTN_WITH_CUDA)
  if (device.is_cuda()) {
    int previous = 0;
    if (cudaGetDevice(&previous) != cudaSuccess) return std::nullopt;
    size_t free_bytes = 0, total_bytes = 0;
    cudaSetDevice(device.has_index() ? device.index() : 0);
    const bool ok = cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess;
    cudaSetDevice(previous);
    if (ok) return std::make_pair(uint64_t{free_bytes}, uint64_t{total_bytes});
  }
#else
  (void)device;
#endif
  return std::nullopt;
}

inline const char* torch_version() { return TORCH_VERSION; }

}  // namespace blockattn::compat

namespace blockattn::compat {
// Waits for queued device work so wall-clock timings are honest.
inline void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}
}  // namespace blockattn::compat
