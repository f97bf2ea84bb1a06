// Training-time block attention (a mask over one sequence) against inference-time block
// attention (blocks encoded alone, re-rotated and placed): the same logits, for every fixture
// architecture, with and without sink tokens.
#include <gtest/gtest.h>

#include "attention/block_prefill.h"
#include "blockattn/error.h"
#include "engine_test_util.h"
#include "train/block_mask.h"

namespace blockattn {
namespace {

using test::ids_range;

TEST(BlockMask, Structure) {
  // Blocks of 2, 3 and 2 tokens; the last is global.
  torch::Tensor m = train::block_attention_mask({2, 3, 2}, torch::kCPU);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{7, 7}));
  const bool expected[7][7] = {{1, 0, 0, 0, 0, 0, 0}, {1, 1, 0, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0, 0},
                               {0, 0, 1, 1, 0, 0, 0}, {0, 0, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1, 0},
                               {1, 1, 1, 1, 1, 1, 1}};
  for (int q = 0; q < 7; ++q)
    for (int k = 0; k < 7; ++k) EXPECT_EQ(m[q][k].item<bool>(), expected[q][k]) << q << "," << k;
  // Block 0 marked global: it is causal over itself only (nothing precedes it) — same rows.
  EXPECT_TRUE(torch::equal(train::block_attention_mask({2, 3, 2}, torch::kCPU, {0}), m));
  // Block 1 global: its rows see block 0 too.
  EXPECT_TRUE(train::block_attention_mask({2, 3, 2}, torch::kCPU, {1})[2][0].item<bool>());
  EXPECT_THROW(train::block_attention_mask({}, torch::kCPU), InputError);
  EXPECT_THROW(train::block_attention_mask({2, 0}, torch::kCPU), InputError);
}

class BlockMaskVsPrefill : public ::testing::TestWithParam<std::string> {};

TEST_P(BlockMaskVsPrefill, TrainingMaskReproducesInferenceBlockMode) {
  auto model = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  torch::NoGradGuard no_grad;
  for (int sinks : {0, 2}) {
    const SinkConfig sink{sinks, 3};
    PromptLayout layout = make_prompt_layout(
        {ids_range(1, 23, V), ids_range(2, 17, V), ids_range(5, 30, V)}, ids_range(7, 6, V), sink);
    KVCache cache = model->new_cache(layout.total_tokens());
    torch::Tensor engine =
        prefill_blocks(*model, layout, sink, nullptr, cache, nullptr, true);  // [|F|, V]

    std::vector<int64_t> lengths;
    for (const PromptBlock& b : layout.blocks)
      lengths.push_back(static_cast<int64_t>(b.tokens.size()));
    lengths.push_back(static_cast<int64_t>(layout.final_tokens.size()));
    const std::vector<int32_t> flat = layout.flat();
    torch::Tensor ids =
        torch::tensor(std::vector<int64_t>(flat.begin(), flat.end()), torch::kInt64).unsqueeze(0);
    torch::Tensor mask = train::block_attention_mask(lengths, torch::kCPU);  // [T, T]
    const int64_t F = static_cast<int64_t>(layout.final_tokens.size());
    torch::Tensor trained =
        model->forward_train(ids, mask)[0].narrow(0, layout.final_offset, F);  // [|F|, V]
    EXPECT_LE(test::max_abs_diff(trained, engine), 1e-4) << GetParam() << " sinks=" << sinks;

    // Without the mask it is full attention, which must differ (the test can fail).
    torch::Tensor full = model->forward_train(ids)[0].narrow(0, layout.final_offset, F);
    EXPECT_GT(test::max_abs_diff(full, engine), 1e-3) << GetParam();
  }
  EXPECT_THROW(
      model->forward_train(torch::zeros({1, 4}, torch::kInt64), torch::ones({3, 3}, torch::kBool)),
      InputError);
}

INSTANTIATE_TEST_SUITE_P(Archs, BlockMaskVsPrefill, ::testing::ValuesIn(test::fixture_archs()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace blockattn
