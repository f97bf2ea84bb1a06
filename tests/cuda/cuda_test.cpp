// CPU against CUDA. Built and registered only when libtorch has CUDA (tests/CMakeLists.txt);
// there, a missing device is a failure, not a skip.
#include <gtest/gtest.h>

#include "attention/block_prefill.h"
#include "attention/place_blocks.h"
#include "blockattn/engine.h"
#include "engine_test_util.h"
#include "model/cached_attention.h"
#include "model/compat.h"
#include "model/fused_ops.h"
#include "model/rope.h"
#include "model/span_attention.h"
#include "train/block_layout.h"

namespace blockattn {
namespace {

#define REQUIRE_CUDA() ASSERT_TRUE(torch::cuda::is_available()) << "this CUDA build sees no GPU"

class CpuVsCuda : public ::testing::TestWithParam<std::string> {};

// The decode fast path (flash with folded query heads) against unmasked attention in fp32.
TEST(AttentionDecode, EqualsPlainAttentionInBf16) {
  REQUIRE_CUDA();
  torch::manual_seed(5);
  for (auto [heads, kv_heads, keys] :
       {std::tuple{32, 8, 1000}, std::tuple{4, 4, 3}, std::tuple{6, 2, 77}}) {
    auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
    torch::Tensor q = torch::randn({1, heads, 1, 128}, opts);        // [1, H, 1, D]
    torch::Tensor k = torch::randn({1, kv_heads, keys, 128}, opts);  // [1, Hkv, S, D]
    torch::Tensor v = torch::randn({1, kv_heads, keys, 128}, opts);  // [1, Hkv, S, D]
    torch::Tensor got = compat::attention_decode(q, k, v);
    torch::Tensor want = compat::attention(q.to(torch::kFloat32), k.to(torch::kFloat32),
                                           v.to(torch::kFloat32), std::nullopt, false);
    EXPECT_LE(test::max_abs_diff(got, want), 2e-2) << heads << "/" << kv_heads << " S=" << keys;
    // Negative control: another query gives another answer.
    torch::Tensor other = compat::attention_decode(torch::randn({1, heads, 1, 128}, opts), k, v);
    EXPECT_GT(test::max_abs_diff(got, other), 5e-2);
  }
}

// The fast path of a final block over cached blocks (two flash passes merged by log-sum-exp)
// against the masked attention it replaces, in fp32 on the same bf16 inputs.
TEST(AttentionAfterPrefix, EqualsMaskedAttentionInBf16) {
  REQUIRE_CUDA();
  torch::manual_seed(3);
  struct Shape {
    int64_t heads, kv_heads, prefix, fresh;
  };
  for (const Shape& s :
       {Shape{8, 2, 300, 17}, Shape{4, 4, 50, 5}, Shape{32, 8, 1000, 64}, Shape{6, 3, 7, 2}}) {
    auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
    torch::Tensor q = torch::randn({1, s.heads, s.fresh, 128}, opts);       // [1, H, T, D]
    torch::Tensor kp = torch::randn({1, s.kv_heads, s.prefix, 128}, opts);  // [1, Hkv, P, D]
    torch::Tensor vp = torch::randn({1, s.kv_heads, s.prefix, 128}, opts);  // [1, Hkv, P, D]
    torch::Tensor kn = torch::randn({1, s.kv_heads, s.fresh, 128}, opts);   // [1, Hkv, T, D]
    torch::Tensor vn = torch::randn({1, s.kv_heads, s.fresh, 128}, opts);   // [1, Hkv, T, D]
    torch::Tensor got = compat::attention_after_prefix(q, kp, vp, kn, vn);  // [1, H, T, D]
    ASSERT_TRUE(got.defined()) << "no flash kernel with LSE on this GPU";
    torch::Tensor keys = torch::cat({kp, kn}, 2).to(torch::kFloat32),
                  values = torch::cat({vp, vn}, 2).to(torch::kFloat32);
    torch::Tensor allowed =
        torch::ones({s.fresh, s.prefix + s.fresh}, opts.dtype(torch::kBool)).tril(s.prefix);
    torch::Tensor want = compat::attention(q.to(torch::kFloat32), keys, values, allowed, false);
    EXPECT_LE(test::max_abs_diff(got, want), 2e-2)
        << s.heads << "/" << s.kv_heads << " P=" << s.prefix;
    // Negative control: without the causal part the answer differs, so the check can fail.
    torch::Tensor open =
        compat::attention(q.to(torch::kFloat32), keys, values, std::nullopt, false);
    EXPECT_GT(test::max_abs_diff(got, open), 5e-2);
  }
}

// The one-call path of a final block over cached blocks (flash, causal aligned bottom-right)
// against masked attention in fp32, on keys that are views of a cache with spare capacity, and
// against the two-pass path it replaces.
TEST(AttentionCausalSuffix, EqualsMaskedAttentionOnCacheViews) {
  REQUIRE_CUDA();
  torch::manual_seed(4);
  struct Shape {
    int64_t heads, kv_heads, prefix, fresh;
  };
  for (const Shape& s : {Shape{8, 2, 300, 17}, Shape{4, 4, 50, 5}, Shape{32, 8, 4000, 24},
                         Shape{6, 3, 7, 2}, Shape{8, 8, 0, 9}}) {
    auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
    const int64_t n = s.prefix + s.fresh, capacity = n + 100;
    torch::Tensor q = torch::randn({1, s.heads, s.fresh, 128}, opts);          // [1, H, T, D]
    torch::Tensor k_buf = torch::randn({2, s.kv_heads, capacity, 128}, opts);  // [L, Hkv, cap, D]
    torch::Tensor v_buf = torch::randn({2, s.kv_heads, capacity, 128}, opts);  // [L, Hkv, cap, D]
    torch::Tensor keys = k_buf.narrow(0, 1, 1).narrow(2, 0, n);    // [1, Hkv, P+T, D], strided
    torch::Tensor values = v_buf.narrow(0, 1, 1).narrow(2, 0, n);  // [1, Hkv, P+T, D], strided
    torch::Tensor got = compat::attention_causal_suffix(q, keys, values);  // [1, H, T, D]
    ASSERT_TRUE(got.defined()) << "the flash kernel refused the shapes";
    ASSERT_EQ(got.sizes(), q.sizes());
    torch::Tensor allowed = torch::ones({s.fresh, n}, opts.dtype(torch::kBool)).tril(s.prefix);
    torch::Tensor kf = keys.to(torch::kFloat32), vf = values.to(torch::kFloat32);
    torch::Tensor want = compat::attention(q.to(torch::kFloat32), kf, vf, allowed, false);
    EXPECT_LE(test::max_abs_diff(got, want), 2e-2)
        << s.heads << "/" << s.kv_heads << " P=" << s.prefix << " T=" << s.fresh;
    if (s.prefix > 0) {
      torch::Tensor two_pass = compat::attention_after_prefix(
          q, keys.narrow(2, 0, s.prefix), values.narrow(2, 0, s.prefix),
          keys.narrow(2, s.prefix, s.fresh), values.narrow(2, s.prefix, s.fresh));
      EXPECT_LE(test::max_abs_diff(got, two_pass), 2e-2) << "P=" << s.prefix;
      // Negative control: causal aligned top-left (query i sees keys 0..i) gives another answer.
      torch::Tensor top_left = torch::ones({s.fresh, n}, opts.dtype(torch::kBool)).tril(0);
      EXPECT_GT(test::max_abs_diff(
                    got, compat::attention(q.to(torch::kFloat32), kf, vf, top_left, false)),
                5e-2)
          << "P=" << s.prefix;
    }
  }
}

// The split-KV kernel of decode steps (model/cached_attention.h) against masked attention in
// fp32 on cache views with spare capacity, from one query row to the 16 rows per KV head it
// takes, across head dims, short and long caches (one range, many ranges of many tiles); its
// graph form, which writes the new KV itself, against the eager form; and where it declines.
TEST(CachedAttention, EqualsMaskedAttentionOnCacheViews) {
  REQUIRE_CUDA();
  torch::NoGradGuard no_grad;  // an inference kernel: it declines under autograd
  torch::manual_seed(8);
  struct Shape {
    int64_t heads, kv_heads, prefix, fresh, dim;
  };
  for (const Shape& s :
       {Shape{32, 8, 4000, 4, 128}, Shape{32, 8, 1000, 1, 128}, Shape{32, 8, 32000, 1, 128},
        Shape{8, 2, 300, 4, 64}, Shape{6, 6, 77, 5, 48}, Shape{4, 2, 3, 1, 16},
        Shape{4, 2, 0, 8, 16}, Shape{8, 8, 130, 16, 32}, Shape{32, 8, 5, 3, 128},
        Shape{40, 8, 900, 3, 96}}) {
    for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
      auto opts = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
      const int64_t n = s.prefix + s.fresh, capacity = n + 70, L = 3, layer = 1;
      const std::string what = std::to_string(s.heads) + "/" + std::to_string(s.kv_heads) +
                               " P=" + std::to_string(s.prefix) + " T=" + std::to_string(s.fresh) +
                               " D=" + std::to_string(s.dim) +
                               (dtype == torch::kHalf ? " fp16" : " bf16");
      ASSERT_TRUE(
          cached_attention_applies(torch::kCUDA, dtype, s.heads, s.kv_heads, s.dim, s.fresh))
          << what;
      ModelConfig cfg;  // only what the cache's shape needs
      cfg.num_layers = L;
      cfg.num_kv_heads = s.kv_heads;
      cfg.head_dim = s.dim;
      KVCache cache(cfg, capacity, opts);  // [L, Hkv, capacity, D], random
      cache.key_buffer().normal_();
      cache.value_buffer().normal_();
      torch::Tensor q = torch::randn({1, s.heads, s.fresh, s.dim}, opts);          // [1, H, T, D]
      torch::Tensor keys = cache.keys(layer, n), values = cache.values(layer, n);  // [1,Hkv,n,D]
      torch::Tensor got = cached_attention(q, keys, values);                       // [1, H, T, D]
      ASSERT_TRUE(got.defined()) << what;
      ASSERT_EQ(got.sizes(), q.sizes()) << what;
      torch::Tensor allowed = torch::ones({s.fresh, n}, opts.dtype(torch::kBool)).tril(s.prefix);
      torch::Tensor kf = keys.to(torch::kFloat32), vf = values.to(torch::kFloat32);
      torch::Tensor want = compat::attention(q.to(torch::kFloat32), kf, vf, allowed, false);
      EXPECT_LE(test::max_abs_diff(got, want), 2e-2) << what;
      if (s.prefix > 0) {  // Negative control: causal aligned top-left gives another answer.
        torch::Tensor top_left = torch::ones({s.fresh, n}, opts.dtype(torch::kBool)).tril(0);
        EXPECT_GT(test::max_abs_diff(
                      got, compat::attention(q.to(torch::kFloat32), kf, vf, top_left, false)),
                  5e-2)
            << what;
      }
      // The graph form: the new KV written by the kernel, then the same sums as the eager form.
      torch::Tensor k_new = keys.narrow(2, s.prefix, s.fresh).clone();  // [1, Hkv, T, D]
      torch::Tensor v_new = values.narrow(2, s.prefix, s.fresh).clone();
      keys.narrow(2, s.prefix, s.fresh).zero_();
      values.narrow(2, s.prefix, s.fresh).zero_();
      cache.commit(s.prefix);  // the cache about to receive the T new tokens
      auto row = cached_seq_row(cache, s.fresh);
      torch::Tensor seqs =
          torch::tensor(std::vector<int64_t>(row.begin(), row.end()), torch::kInt64)
              .view({1, 4})
              .to(torch::kCUDA);
      torch::Tensor out = torch::empty({1, s.fresh, s.heads, s.dim}, opts);  // [1, T, H, D]
      cached_attention_append(q, k_new, v_new, seqs, layer, out);
      EXPECT_EQ(test::max_abs_diff(out.transpose(1, 2), got), 0.0) << what;
      EXPECT_EQ(test::max_abs_diff(cache.keys(layer, n).narrow(2, s.prefix, s.fresh), k_new), 0.0)
          << what;
      EXPECT_EQ(test::max_abs_diff(cache.values(layer, n).narrow(2, s.prefix, s.fresh), v_new), 0.0)
          << what;
    }
  }
  // More than 16 rows per KV head (a final block of 24 tokens with n_rep 4), fp32, a head dim it
  // lacks, or the CPU: the kernel declines, and the flash paths run.
  const auto bf16 = torch::kBFloat16;
  EXPECT_FALSE(cached_attention_applies(torch::kCUDA, bf16, 32, 8, 128, 24));
  EXPECT_FALSE(cached_attention_applies(torch::kCUDA, torch::kFloat32, 32, 8, 128, 1));
  EXPECT_FALSE(cached_attention_applies(torch::kCUDA, bf16, 32, 8, 120, 1));
  EXPECT_FALSE(cached_attention_applies(torch::kCPU, bf16, 32, 8, 128, 1));
  auto opts = torch::TensorOptions().dtype(bf16).device(torch::kCUDA);
  torch::Tensor k = torch::randn({1, 8, 100, 128}, opts);  // [1, Hkv, S, D]
  EXPECT_FALSE(cached_attention(torch::randn({1, 32, 24, 128}, opts), k, k).defined());
}

// Long causal self-attention (cuDNN allowed, padded to a plan bucket) against the attention
// written out in fp32, at lengths below, on and above a bucket edge.
TEST(AttentionLongCausal, PaddedCudnnPathEqualsDirectAttention) {
  REQUIRE_CUDA();
  torch::manual_seed(6);
  auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  for (int64_t T : {compat::cudnn_min_tokens() + 1, compat::cudnn_min_tokens() + 512 + 37}) {
    torch::Tensor q = torch::randn({1, 8, T, 128}, opts);  // [1, H, T, D]
    torch::Tensor k = torch::randn({1, 2, T, 128}, opts);  // [1, Hkv, T, D]
    torch::Tensor v = torch::randn({1, 2, T, 128}, opts);  // [1, Hkv, T, D]
    torch::Tensor got = compat::attention(q, k, v, std::nullopt, /*causal=*/true);
    ASSERT_EQ(got.sizes(), q.sizes());
    torch::Tensor kf = k.to(torch::kFloat32).repeat_interleave(4, 1);  // [1, H, T, D]
    torch::Tensor vf = v.to(torch::kFloat32).repeat_interleave(4, 1);  // [1, H, T, D]
    torch::Tensor scores = torch::matmul(q.to(torch::kFloat32), kf.transpose(-2, -1)) /
                           std::sqrt(128.0);  // [1, H, T, T]
    torch::Tensor allowed = torch::ones({T, T}, opts.dtype(torch::kBool)).tril();
    scores.masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
    torch::Tensor want = torch::matmul(torch::softmax(scores, -1), vf);  // [1, H, T, D]
    EXPECT_LE(test::max_abs_diff(got, want), 2e-2) << "T=" << T;
    // Negative control: without the causal mask the answer differs.
    EXPECT_GT(test::max_abs_diff(got, compat::attention(q, k, v, std::nullopt, false)), 5e-2);
  }
}

// The fused RoPE kernel gives RotaryEmbedding::apply bitwise (the same roundings), with cos/sin
// shared by the batch and per row; the fused RMSNorm gives the libtorch composite to within the
// order of its fp32 sum (fp32: 1e-5 relative; fp16/bf16: one rounding step).
TEST(FusedOps, RopeAndRmsNormEqualTheLibtorchOps) {
  REQUIRE_CUDA();
#if !defined(BLOCKATTN_WITH_KERNELS)
  FAIL() << "built without the CUDA kernels (CMake found no CUDA compiler)";
#endif
  torch::NoGradGuard no_grad;
  torch::manual_seed(2);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kHalf}) {
    auto opts = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
    const int64_t B = 3, T = 5, H = 4, hd = 64;
    torch::Tensor x = torch::randn({B, T, H, hd}, opts);  // [B, T, H, hd]
    for (bool per_row : {false, true}) {
      torch::Tensor cos = per_row ? torch::randn({B, 1, T, hd}, opts) : torch::randn({T, hd}, opts);
      torch::Tensor sin = torch::randn(cos.sizes(), opts);
      torch::Tensor fused = fused_rope(x, cos, sin);  // [B, H, T, hd]
      ASSERT_TRUE(fused.defined());
      torch::Tensor want = RotaryEmbedding::apply(x.transpose(1, 2), cos, sin);
      EXPECT_TRUE(torch::equal(fused, want))
          << dtype << " per_row " << per_row << ": " << test::max_abs_diff(fused, want);
    }
    torch::Tensor rows = torch::randn({7, 4096}, opts) * 3;
    torch::Tensor weight = torch::randn({4096}, opts);
    torch::Tensor fused = fused_rms_norm(rows, weight, 1e-5);
    ASSERT_TRUE(fused.defined());
    torch::Tensor xf = rows.to(torch::kFloat32);
    torch::Tensor want =
        weight * (xf * torch::rsqrt(xf.pow(2).mean(-1, true) + 1e-5)).to(dtype);  // [7, 4096]
    const double rel = test::max_abs_diff(fused, want) / want.abs().max().item<double>();
    EXPECT_LE(rel, dtype == torch::kFloat32 ? 1e-5 : 1e-2) << dtype;
    // Negative control: another weight gives another result.
    EXPECT_GT(test::max_abs_diff(fused_rms_norm(rows, weight * 2, 1e-5), want), 1e-2);

    // The residual add fused with the norm: the sum exactly libtorch's, the norm as above.
    torch::Tensor delta = torch::randn({7, 4096}, opts);
    auto [sum, normed] = fused_add_rms_norm(rows, delta, weight, 1e-5);
    ASSERT_TRUE(sum.defined() && normed.defined());
    EXPECT_TRUE(torch::equal(sum, rows + delta)) << dtype;
    torch::Tensor sf = (rows + delta).to(torch::kFloat32);
    torch::Tensor want_normed =
        weight * (sf * torch::rsqrt(sf.pow(2).mean(-1, true) + 1e-5)).to(dtype);
    EXPECT_LE(test::max_abs_diff(normed, want_normed) / want_normed.abs().max().item<double>(),
              dtype == torch::kFloat32 ? 1e-5 : 1e-2)
        << dtype;
    EXPECT_GT(test::max_abs_diff(normed, want), 1e-2) << "the delta was added";

    // RoPE of the q columns of a fused QKV output (tokens at a row stride wider than H * hd).
    torch::Tensor qkv = torch::randn({B * T, (H + 2) * hd}, opts);        // [B*T, (H+2)*hd]
    torch::Tensor q_view = qkv.narrow(1, 0, H * hd).view({B, T, H, hd});  // strided
    torch::Tensor cos = torch::randn({T, hd}, opts), sin = torch::randn({T, hd}, opts);
    torch::Tensor rotated = fused_rope(q_view, cos, sin);
    ASSERT_TRUE(rotated.defined());
    EXPECT_TRUE(torch::equal(rotated, RotaryEmbedding::apply(q_view.transpose(1, 2), cos, sin)))
        << dtype;

    // SwiGLU of a fused gate/up output against torch::silu(gate) * up.
    torch::Tensor gate_up = torch::randn({5, 2 * 300}, opts) * 4;  // [rows, 2 * inter]
    torch::Tensor act = fused_silu_mul(gate_up);                   // [rows, inter]
    ASSERT_TRUE(act.defined());
    torch::Tensor want_act = torch::silu(gate_up.narrow(1, 0, 300)) * gate_up.narrow(1, 300, 300);
    EXPECT_LE(test::max_abs_diff(act, want_act) / want_act.abs().max().item<double>(),
              dtype == torch::kFloat32 ? 1e-6 : 1e-2)
        << dtype;
    EXPECT_GT(test::max_abs_diff(
                  act, torch::silu(gate_up.narrow(1, 300, 300)) * gate_up.narrow(1, 0, 300)),
              1e-2)
        << "gate and up are not interchangeable";
  }
  // Under autograd the fused kernels step aside (they have no backward).
  torch::GradMode::set_enabled(true);
  torch::Tensor x = torch::randn({1, 2, 2, 8}, torch::kCUDA);
  EXPECT_FALSE(fused_rms_norm(x, torch::ones({8}, torch::kCUDA), 1e-5).defined());
  torch::GradMode::set_enabled(false);
}

// Packed causal attention (one varlen flash call for all sequences) against one causal
// attention per sequence in fp32 on the same bf16 inputs.
TEST(AttentionPackedCausal, EqualsPerSequenceAttentionInBf16) {
  REQUIRE_CUDA();
  torch::manual_seed(11);
  const std::vector<int64_t> lengths = {37, 1, 300, 64, 5};
  const int64_t N = 407, heads = 8, kv_heads = 2;
  auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  torch::Tensor q = torch::randn({1, heads, N, 128}, opts);     // [1, H, N, D]
  torch::Tensor k = torch::randn({1, kv_heads, N, 128}, opts);  // [1, Hkv, N, D]
  torch::Tensor v = torch::randn({1, kv_heads, N, 128}, opts);  // [1, Hkv, N, D]
  const compat::PackedSequences seqs = compat::pack_sequences(lengths, torch::kCUDA);
  torch::Tensor got = compat::attention_packed_causal(q, k, v, seqs);  // [1, H, N, D]
  ASSERT_EQ(got.sizes(), q.sizes());
  torch::Tensor want = compat::attention_packed_causal(
      q.to(torch::kFloat32), k.to(torch::kFloat32), v.to(torch::kFloat32), seqs);  // per sequence
  EXPECT_LE(test::max_abs_diff(got, want), 2e-2);
  // Negative control: one causal attention over everything (sequences see each other) differs.
  torch::Tensor joined = compat::attention(q.to(torch::kFloat32), k.to(torch::kFloat32),
                                           v.to(torch::kFloat32), std::nullopt, true);
  EXPECT_GT(test::max_abs_diff(got, joined), 5e-2);
}

// Training's span attention (one varlen flash call over gathered keys, with gradients) against
// dense masked attention in fp32: two rows of block-attention spans -- context blocks, a final
// block seeing every block, a block-dropout copy seeing a prefix, padding.
TEST(SpanAttention, EqualsMaskedAttentionWithGradientsInBf16) {
  REQUIRE_CUDA();
  torch::manual_seed(12);
  const int64_t T = 400, heads = 8, kv_heads = 2, D = 128;
  const std::vector<AttentionSpan> spans = {
      {0, 50, 0, 0},     {50, 130, 0, 0},  {180, 40, 0, 180},   {220, 150, 0, 50},
      {370, 30, 370, 0}, {400, 200, 0, 0}, {600, 20, 400, 200}, {620, 180, 620, 0}};
  torch::Tensor allowed = torch::zeros({2 * T, 2 * T}, torch::kBool);  // [2T, 2T] flat
  for (const AttentionSpan& sp : spans)
    for (int64_t i = 0; i < sp.length; ++i) {
      allowed[sp.begin + i].narrow(0, sp.prefix_begin, sp.prefix_length).fill_(true);
      allowed[sp.begin + i].narrow(0, sp.begin, i + 1).fill_(true);
    }
  auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  torch::Tensor q = torch::randn({2, heads, T, D}, opts).requires_grad_(true);     // [2, H, T, D]
  torch::Tensor k = torch::randn({2, kv_heads, T, D}, opts).requires_grad_(true);  // [2, Hkv, T, D]
  torch::Tensor v = torch::randn({2, kv_heads, T, D}, opts).requires_grad_(true);
  const SpanPlan plan = plan_span_attention(spans, 2 * T, torch::kCUDA);
  torch::Tensor got = span_attention(q, k, v, plan);  // [2, H, T, D]
  torch::Tensor weight = torch::randn(got.sizes(), got.options().dtype(torch::kFloat32));
  // The padding span's outputs are unspecified: leave them out of the loss and the comparison.
  torch::Tensor real = torch::ones({2, 1, T, 1}, weight.options());
  real[1].narrow(1, 220, 180).zero_();
  (got.to(torch::kFloat32) * weight * real).sum().backward();
  torch::Tensor gq = q.grad().clone(), gk = k.grad().clone(), gv = v.grad().clone();
  // Reference: fp32, each row's tokens as one batch row with its block of the flat mask.
  torch::Tensor q32 = q.detach().to(torch::kFloat32).requires_grad_(true);
  torch::Tensor k32 = k.detach().to(torch::kFloat32).requires_grad_(true);
  torch::Tensor v32 = v.detach().to(torch::kFloat32).requires_grad_(true);
  torch::Tensor rows_mask = torch::stack({allowed.narrow(0, 0, T).narrow(1, 0, T),
                                          allowed.narrow(0, T, T).narrow(1, T, T)})
                                .unsqueeze(1)
                                .to(torch::kCUDA);  // [2, 1, T, T]
  torch::Tensor want = compat::attention(q32, k32, v32, rows_mask, /*causal=*/false);
  (want * weight * real).sum().backward();
  EXPECT_LE(test::max_abs_diff(got * real, want * real), 2e-2);
  auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return test::max_abs_diff(a, b) / b.abs().max().item<double>();
  };
  EXPECT_LE(rel(gq, q32.grad()), 2e-2);
  EXPECT_LE(rel(gk, k32.grad()), 2e-2);
  EXPECT_LE(rel(gv, v32.grad()), 2e-2);
  // Negative control: plain causal attention over each row differs.
  torch::Tensor causal = compat::attention(q32, k32, v32, std::nullopt, /*causal=*/true);
  EXPECT_GT(test::max_abs_diff(got * real, causal * real), 5e-2);
}

// A training forward by spans against the masked one, on a fixture model in bf16: logits of
// every supervised prediction within the bf16 tolerance of the suite.
TEST_P(CpuVsCuda, TrainingSpanForwardEqualsMaskedInBf16) {
  REQUIRE_CUDA();
  auto gpu = Model::load(test::model_fixture(GetParam()), {"cuda", "bfloat16"});
  std::vector<BlockSample> samples(3);
  for (int i = 0; i < 3; ++i)
    for (int b = 0; b < 3 + i; ++b)
      samples[i].blocks.push_back(test::ids_range(9 * b + i, 20 + 7 * b, 500));
  std::vector<SampleLayout> layouts;
  std::vector<const BlockSample*> ptrs;
  for (const BlockSample& s : samples) {
    LayoutOptions o;
    o.sink_tokens = 2;
    o.sink_token_id = 3;
    if (s.blocks.size() > 3) o.copies = {1, 2};
    layouts.push_back(lay_out_sample(s, o));
    ptrs.push_back(&s);
  }
  train::PackedBatch b = train::pack_rows(layouts, ptrs, {{0, 1}, {2}}, torch::kCUDA);
  torch::NoGradGuard no_grad;
  torch::Tensor masked = gpu->forward_train(b.ids, b.mask, b.positions);  // [R, T, V]
  Model::TrainInputs in;
  in.ids = b.ids;
  in.positions = b.positions;
  in.spans = &b.spans;
  in.logit_rows = b.student_flat;
  torch::Tensor spans = gpu->forward_train(in);  // [N, V]
  const double diff =
      test::max_abs_diff(spans, masked.view({-1, masked.size(-1)}).index_select(0, b.student_flat));
  RecordProperty("bf16_max_abs_diff", std::to_string(diff));
  EXPECT_LE(diff, 0.15);
}

// The fused placement kernel (copy + RoPE re-encoding in one pass) against the libtorch path:
// bitwise the same keys and values, in fp32 and bf16, into a cache that already holds a prefix.
TEST_P(CpuVsCuda, FusedPlacementEqualsCopyAndReRotation) {
  REQUIRE_CUDA();
#if !defined(BLOCKATTN_WITH_KERNELS)
  FAIL() << "built without the CUDA kernels (CMake found no CUDA compiler)";
#endif
  for (const char* dtype : {"float32", "bfloat16"}) {
    auto gpu = Model::load(test::model_fixture(GetParam()), {"cuda", dtype});
    std::vector<BlockKV> blocks;
    for (int n : {40, 1, 77, 300}) blocks.push_back(encode_block(*gpu, test::ids_range(n, n, 500)));
    const int64_t prefix = 13;
    auto fill = [&](bool fused) {
      KVCache c = gpu->new_cache(prefix + 418 + 5);
      c.key_range(0, c.capacity()).fill_(7.0);  // poison: every position placed must be written
      auto [pk, pv] = c.reserve(prefix);
      pk.fill_(0.5), pv.fill_(0.25);
      std::vector<BlockPlacement> placed;
      int64_t at = prefix;
      for (const BlockKV& b : blocks) {
        placed.push_back({&b, at});
        at += b.k.size(2);
      }
      (fused ? place_blocks : place_blocks_reference)(*gpu, placed, c);
      EXPECT_EQ(c.size(), at);
      return c.export_range(0, c.size());
    };
    auto [k_fast, v_fast] = fill(true);
    auto [k_ref, v_ref] = fill(false);
    EXPECT_TRUE(torch::equal(k_fast, k_ref))
        << dtype << ": max diff " << test::max_abs_diff(k_fast, k_ref);
    EXPECT_TRUE(torch::equal(v_fast, v_ref)) << dtype;
    // Negative control: the keys were really rotated (they differ from the local ones).
    EXPECT_GT(test::max_abs_diff(k_fast.narrow(2, prefix + 40, 1), blocks[1].k), 1e-3) << dtype;
  }
}

// Decode steps replayed from CUDA graphs give the eager steps' logits (the same kernels on the
// same values): one sequence (forward of one token), then batches of three and two, several
// steps each, in fp32 and bf16.
TEST_P(CpuVsCuda, DecodeGraphsEqualEagerDecode) {
  REQUIRE_CUDA();
  for (const char* dtype : {"float32", "bfloat16"}) {
    for (bool fuse : {false, true}) {  // separate projections, and the engine's fused layout
      auto gpu = Model::load(test::model_fixture(GetParam()), {"cuda", dtype});
      if (fuse) gpu->fuse_projections();
      ASSERT_TRUE(gpu->decode_graphs()) << "CUDA graphs unavailable in this build";
      auto run = [&](bool graphs) {
        gpu->set_decode_graphs(false);  // the same eager prefill in both runs
        std::vector<KVCache> caches;
        for (int n : {20, 7, 33}) {
          caches.push_back(gpu->new_cache(n + 12));
          gpu->forward(token_tensor(*gpu, test::ids_range(n, n, 400)), caches.back(),
                       LogitsFor::kLast);
        }
        gpu->set_decode_graphs(graphs);
        std::vector<torch::Tensor> logits;
        for (int step = 0; step < 3; ++step)
          logits.push_back(gpu->forward(token_tensor(*gpu, {static_cast<int32_t>(11 + step)}),
                                        caches[0], LogitsFor::kLast));
        for (int step = 0; step < 3; ++step) {
          torch::Tensor ids = torch::tensor({5 + step, 6 + step, 7 + step}, torch::kInt64);
          logits.push_back(gpu->forward_decode_batch(ids, {&caches[0], &caches[1], &caches[2]}));
        }
        for (int step = 0; step < 2; ++step) {
          torch::Tensor ids = torch::tensor({9 + step, 3 + step}, torch::kInt64);
          logits.push_back(gpu->forward_decode_batch(ids, {&caches[2], &caches[1]}));
        }
        return logits;
      };
      std::vector<torch::Tensor> eager = run(false), graphed = run(true);
      ASSERT_EQ(eager.size(), graphed.size());
      for (size_t i = 0; i < eager.size(); ++i) {
        ASSERT_EQ(eager[i].sizes(), graphed[i].sizes()) << i;
        EXPECT_LE(test::max_abs_diff(eager[i], graphed[i]), 1e-5) << dtype << " step " << i;
      }
      // Negative control: consecutive steps differ, so a stale static buffer would be caught.
      EXPECT_GT(test::max_abs_diff(graphed[0], graphed[1]), 1e-4) << dtype;
    }
  }
}

// The engine's fused projection layout (QKV and gate/up as one matrix each, SwiGLU and the
// residual adds fused with the norms) against the separate projections on CUDA, and against
// the CPU in fp32.
TEST_P(CpuVsCuda, FusedProjectionsEqualSeparateOnCuda) {
  REQUIRE_CUDA();
  const std::vector<int32_t> ids = test::ids_range(40, 40, 300);
  auto cpu = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  KVCache cc = cpu->new_cache(40);
  torch::Tensor want = cpu->forward(token_tensor(*cpu, ids), cc, LogitsFor::kAll);  // [T, vocab]
  for (const char* dtype : {"float32", "bfloat16"}) {
    auto separate = Model::load(test::model_fixture(GetParam()), {"cuda", dtype});
    auto fused = Model::load(test::model_fixture(GetParam()), {"cuda", dtype});
    fused->fuse_projections();
    KVCache c1 = separate->new_cache(40), c2 = fused->new_cache(40);
    torch::Tensor a = separate->forward(token_tensor(*separate, ids), c1, LogitsFor::kAll).cpu();
    torch::Tensor b = fused->forward(token_tensor(*fused, ids), c2, LogitsFor::kAll).cpu();
    const bool fp32 = std::string(dtype) == "float32";
    const double rel = test::max_abs_diff(a, b) / a.abs().max().item<double>();
    EXPECT_LE(rel, fp32 ? 1e-5 : 5e-2) << dtype;
    if (fp32) {
      EXPECT_LE(test::max_abs_diff(b, want), 1e-3);
      EXPECT_LE(test::max_abs_diff(c1.key_range(0, 40), c2.key_range(0, 40)), 1e-4);
    }
  }
}

// A forward of several tokens from CUDA graphs (padded to a power of two) gives the eager
// forward's last-token logits and leaves the same cache behind: a prompt from scratch and a
// final block after a cached prefix; then one decode step on each cache agrees too. fp32: 1e-4;
// bf16: relative 2e-2 (padding changes the row count of the matrix products).
TEST_P(CpuVsCuda, GraphedForwardOfSeveralTokensEqualsEager) {
  REQUIRE_CUDA();
  for (const char* dtype : {"float32", "bfloat16"}) {
    auto gpu = Model::load(test::model_fixture(GetParam()), {"cuda", dtype});
    ASSERT_TRUE(gpu->decode_graphs()) << "CUDA graphs unavailable in this build";
    const double tol = std::string(dtype) == "float32" ? 1e-4 : 2e-2;
    auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
      return test::max_abs_diff(a, b) / b.abs().max().item<double>();
    };
    for (int prefix : {0, 45}) {
      for (int n : {1, 5, 19, 64}) {
        std::vector<torch::Tensor> logits;
        std::vector<KVCache> caches;
        for (bool graphs : {false, true}) {
          gpu->set_decode_graphs(false);
          caches.push_back(gpu->new_cache(prefix + n + 80));
          if (prefix > 0)
            gpu->forward(token_tensor(*gpu, test::ids_range(3, prefix, 400)), caches.back(),
                         LogitsFor::kNone);
          gpu->set_decode_graphs(graphs);
          logits.push_back(gpu->forward(token_tensor(*gpu, test::ids_range(n, n, 400)),
                                        caches.back(), LogitsFor::kLast));
          EXPECT_EQ(caches.back().size(), prefix + n);
          logits.push_back(gpu->forward(token_tensor(*gpu, {17}), caches.back(), LogitsFor::kLast));
        }
        EXPECT_LE(rel(logits[2], logits[0]), tol) << dtype << " prefix " << prefix << " n " << n;
        EXPECT_LE(rel(logits[3], logits[1]), tol) << dtype << " prefix " << prefix << " n " << n;
        EXPECT_LE(rel(caches[1].key_range(0, prefix + n), caches[0].key_range(0, prefix + n)), tol);
      }
    }
  }
}

// Batched block encoding gives each block's own forward on CUDA too (bf16: within the rounding
// of differently blocked matrix products; fp32: tight).
TEST_P(CpuVsCuda, BatchedEncodingEqualsOneForwardPerBlock) {
  REQUIRE_CUDA();
  for (const char* dtype : {"float32", "bfloat16"}) {
    auto gpu = Model::load(test::model_fixture(GetParam()), {"cuda", dtype});
    std::vector<std::vector<int32_t>> blocks;
    for (int n : {40, 3, 90, 1, 17}) blocks.push_back(test::ids_range(n, n, 500));
    std::vector<const std::vector<int32_t>*> ptrs;
    for (const auto& b : blocks) ptrs.push_back(&b);
    std::vector<BlockKV> batched = encode_blocks(*gpu, ptrs);
    ASSERT_EQ(batched.size(), blocks.size());
    // Relative to the largest |value|: bf16 keeps 8 bits, so 2^-7 is one rounding step.
    const double tol = std::string(dtype) == "float32" ? 1e-5 : 2e-2;
    auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
      return test::max_abs_diff(a, b) / b.abs().max().item<double>();
    };
    for (size_t b = 0; b < blocks.size(); ++b) {
      BlockKV one = encode_block(*gpu, blocks[b]);
      ASSERT_EQ(batched[b].k.sizes(), one.k.sizes());
      EXPECT_LE(rel(batched[b].k, one.k), tol) << dtype << " block " << b;
      EXPECT_LE(rel(batched[b].v, one.v), tol) << dtype << " block " << b;
    }
  }
}

// fp32 on both: max |Δlogit| ≤ 1e-3 (different kernels sum in different orders).
TEST_P(CpuVsCuda, Fp32LogitsAgree) {
  REQUIRE_CUDA();
  const std::string dir = test::model_fixture(GetParam());
  auto cpu = Model::load(dir, {"cpu", "float32"});
  auto gpu = Model::load(dir, {"cuda", "float32"});
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");
  torch::Tensor want = test::read_tensor(dir + "/reference.safetensors", "logits");
  KVCache c1 = cpu->new_cache(ids.size(0)), c2 = gpu->new_cache(ids.size(0));
  torch::Tensor a = cpu->forward(ids, c1, LogitsFor::kAll);
  torch::Tensor b = gpu->forward(ids, c2, LogitsFor::kAll);
  EXPECT_LE(test::max_abs_diff(a, b), 1e-3);
  EXPECT_LE(test::max_abs_diff(b, want), 1e-3) << "CUDA vs transformers";
}

// bf16 on CUDA against the fp32 reference: bf16 has 8 mantissa bits, logits here are O(3).
TEST_P(CpuVsCuda, Bf16LogitsCloseToFp32Reference) {
  REQUIRE_CUDA();
  const std::string dir = test::model_fixture(GetParam());
  auto gpu = Model::load(dir, {"cuda", "bfloat16"});
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");
  torch::Tensor want = test::read_tensor(dir + "/reference.safetensors", "logits");
  KVCache c = gpu->new_cache(ids.size(0));
  torch::Tensor b = gpu->forward(ids, c, LogitsFor::kAll);
  const double diff = test::max_abs_diff(b, want);
  RecordProperty("bf16_max_abs_diff", std::to_string(diff));
  EXPECT_LE(diff, 0.15);
}

TEST_P(CpuVsCuda, BlockModeOneBlockEqualsFullOnCuda) {
  REQUIRE_CUDA();
  auto gpu = Model::load(test::model_fixture(GetParam()), {"cuda", "float32"});
  std::vector<int32_t> block, query;
  for (int i = 0; i < 50; ++i) block.push_back(5 + (i * 31) % 500);
  for (int i = 0; i < 7; ++i) query.push_back(9 + i);
  PromptLayout layout = make_prompt_layout({block}, query, {});
  KVCache a = gpu->new_cache(layout.total_tokens()), b = gpu->new_cache(layout.total_tokens());
  torch::Tensor x = prefill_blocks(*gpu, layout, {}, nullptr, a, nullptr, true);
  torch::Tensor y = prefill_full(*gpu, layout, b, true);
  EXPECT_LE(test::max_abs_diff(x, y), 1e-3);
}

TEST_P(CpuVsCuda, GreedyGenerationAgreesFp32) {
  REQUIRE_CUDA();
  EngineConfig c;
  c.model_dir = test::model_fixture(GetParam());
  c.dtype = "float32";
  GenerateRequest r;
  r.blocks = {"The Alder archive code is 48213.\n", "Rivers run to the sea.\n"};
  r.query = "What is the code?";
  r.max_new_tokens = 12;
  c.device = "cpu";
  auto on_cpu = Engine::create(c)->generate(r);
  c.device = "cuda";
  auto on_gpu = Engine::create(c)->generate(r);
  EXPECT_EQ(on_cpu.tokens, on_gpu.tokens);
}

INSTANTIATE_TEST_SUITE_P(Architectures, CpuVsCuda, ::testing::ValuesIn(test::fixture_archs()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace blockattn
