// Our forward pass against Hugging Face transformers 5.17 on random-weight checkpoints saved by
// save_pretrained (scripts/device/make_reference_fixtures.py, run on the GPU machine).
#include <gtest/gtest.h>

#include "attention/block_prefill.h"
#include "engine_test_util.h"

namespace blockattn {
namespace {

class HfParity : public ::testing::TestWithParam<std::string> {};

TEST_P(HfParity, LogitsMatchTransformersFp32) {
  const std::string dir = test::model_fixture(GetParam());
  auto model = Model::load(dir, {"cpu", "float32"});
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");  // [T]
  torch::Tensor want = test::read_tensor(dir + "/reference.safetensors", "logits");    // [T, vocab]
  KVCache cache = model->new_cache(ids.size(0));
  torch::Tensor got = model->forward(ids, cache, LogitsFor::kAll);  // [T, vocab]
  ASSERT_EQ(got.sizes(), want.sizes());
  const double diff = test::max_abs_diff(got, want);
  EXPECT_LE(diff, 1e-3) << GetParam() << ": max |Δlogit| vs transformers";
  RecordProperty("max_abs_diff", std::to_string(diff));
}

TEST_P(HfParity, GreedyDecodeMatchesTransformersGenerate) {
  const std::string dir = test::model_fixture(GetParam());
  auto model = Model::load(dir, {"cpu", "float32"});
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");  // [T]
  std::vector<int32_t> want =
      test::to_ids(test::read_tensor(dir + "/reference.safetensors", "greedy"));
  KVCache cache = model->new_cache(ids.size(0) + static_cast<int64_t>(want.size()));
  torch::Tensor logits = model->forward(ids, cache, LogitsFor::kLast);  // [1, vocab]
  std::vector<int32_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    got.push_back(static_cast<int32_t>(logits.argmax(-1).item<int64_t>()));
    logits = model->forward(token_tensor(*model, {got.back()}), cache, LogitsFor::kLast);
  }
  EXPECT_EQ(got, want);
}

// The inference layout (fused QKV and gate/up matrices, Model::fuse_projections) against the
// separate projections and against transformers; the stored tensors are the same bytes, and
// a training forward (autograd on) still reaches the separate weights.
TEST_P(HfParity, FusedProjectionsGiveTheSameLogits) {
  const std::string dir = test::model_fixture(GetParam());
  auto separate = Model::load(dir, {"cpu", "float32"});
  auto fused = Model::load(dir, {"cpu", "float32"});
  fused->fuse_projections();
  const LayerWeights& w = fused->weights().layers[0];
  ASSERT_TRUE(w.qkv_proj.defined());
  EXPECT_EQ(w.q_proj.data_ptr(), w.qkv_proj.data_ptr()) << "q_proj is a view of the fused matrix";
  EXPECT_TRUE(torch::equal(w.k_proj, separate->weights().layers[0].k_proj));
  EXPECT_EQ(fused->fingerprint(), separate->fingerprint());
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");  // [T]
  torch::Tensor want = test::read_tensor(dir + "/reference.safetensors", "logits");    // [T, vocab]
  KVCache c1 = separate->new_cache(ids.size(0)), c2 = fused->new_cache(ids.size(0));
  torch::Tensor a = separate->forward(ids, c1, LogitsFor::kAll);  // [T, vocab]
  torch::Tensor b = fused->forward(ids, c2, LogitsFor::kAll);     // [T, vocab]
  EXPECT_LE(test::max_abs_diff(a, b), 1e-4) << GetParam();
  EXPECT_LE(test::max_abs_diff(b, want), 1e-3) << GetParam() << ": vs transformers";
  // Negative control: the fused matrices are really used (zeroing them changes the logits).
  fused->weights().layers[0].qkv_proj.zero_();
  KVCache c3 = fused->new_cache(ids.size(0));
  EXPECT_GT(test::max_abs_diff(fused->forward(ids, c3, LogitsFor::kAll), a), 1e-3);
  // Training: gradients reach the separate weights even after fusion.
  torch::GradMode::set_enabled(true);
  auto trained = Model::load(dir, {"cpu", "float32"});
  trained->fuse_projections();
  torch::Tensor& up = trained->weights().layers[0].up_proj;
  up.requires_grad_(true);
  trained->forward_train(ids.unsqueeze(0).to(torch::kInt64)).sum().backward();
  ASSERT_TRUE(up.grad().defined());
  EXPECT_GT(up.grad().abs().sum().item<double>(), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfParity, ::testing::ValuesIn(test::fixture_archs()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace blockattn
