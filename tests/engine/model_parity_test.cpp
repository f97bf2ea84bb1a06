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
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");    // [T]
  torch::Tensor want = test::read_tensor(dir + "/reference.safetensors", "logits");      // [T, vocab]
  KVCache cache = model->new_cache(ids.size(0));
  torch::Tensor got = model->forward(ids, cache, LogitsFor::kAll);                     // [T, vocab]
  ASSERT_EQ(got.sizes(), want.sizes());
  const double diff = test::max_abs_diff(got, want);
  EXPECT_LE(diff, 1e-3) << GetParam() << ": max |Δlogit| vs transformers";
  RecordProperty("max_abs_diff", std::to_string(diff));
}

TEST_P(HfParity, GreedyDecodeMatchesTransformersGenerate) {
  const std::string dir = test::model_fixture(GetParam());
  auto model = Model::load(dir, {"cpu", "float32"});
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");  // [T]
  std::vector<int32_t> want = test::to_ids(test::read_tensor(dir + "/reference.safetensors", "greedy"));
  KVCache cache = model->new_cache(ids.size(0) + static_cast<int64_t>(want.size()));
  torch::Tensor logits = model->forward(ids, cache, LogitsFor::kLast);  // [1, vocab]
  std::vector<int32_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    got.push_back(static_cast<int32_t>(logits.argmax(-1).item<int64_t>()));
    logits = model->forward(token_tensor(*model, {got.back()}), cache, LogitsFor::kLast);
  }
  EXPECT_EQ(got, want);
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfParity, ::testing::ValuesIn(test::fixture_archs()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace blockattn
