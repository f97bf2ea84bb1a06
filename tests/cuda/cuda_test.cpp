// CPU against CUDA. Built and registered only when libtorch has CUDA (tests/CMakeLists.txt);
// there, a missing device is a failure, not a skip.
#include <gtest/gtest.h>

#include "attention/block_prefill.h"
#include "blockattn/engine.h"
#include "engine_test_util.h"

namespace blockattn {
namespace {

#define REQUIRE_CUDA() ASSERT_TRUE(torch::cuda::is_available()) << "this CUDA build sees no GPU"

class CpuVsCuda : public ::testing::TestWithParam<std::string> {};

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
