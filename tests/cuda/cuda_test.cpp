// CPU against CUDA. Built and registered only when libtorch has CUDA (tests/CMakeLists.txt);
// there, a missing device is a failure, not a skip.
#include <gtest/gtest.h>

#include "attention/block_prefill.h"
#include "blockattn/engine.h"
#include "engine_test_util.h"
#include "model/compat.h"

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
