// Training-time block attention (train/block_layout.h: one packed sequence with a mask) against
// inference-time block attention (blocks encoded alone, re-rotated and placed): the same logits,
// for every fixture architecture, with and without sink tokens.
#include <gtest/gtest.h>

#include "attention/block_prefill.h"
#include "blockattn/error.h"
#include "engine_test_util.h"
#include "train/block_layout.h"

namespace blockattn {
namespace {

using test::ids_range;

class BlockMaskVsPrefill : public ::testing::TestWithParam<std::string> {};

TEST_P(BlockMaskVsPrefill, TrainingLayoutReproducesInferenceBlockMode) {
  auto model = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  torch::NoGradGuard no_grad;
  train::BlockSample sample;
  sample.blocks = {ids_range(1, 23, V), ids_range(2, 17, V), ids_range(5, 30, V),
                   ids_range(7, 6, V)};
  const int64_t F = static_cast<int64_t>(sample.blocks.back().size());
  for (int sinks : {0, 2}) {
    const SinkConfig sink{sinks, 3};
    PromptLayout layout = make_prompt_layout({sample.blocks[0], sample.blocks[1], sample.blocks[2]},
                                             sample.blocks[3], sink);
    KVCache cache = model->new_cache(layout.total_tokens());
    torch::Tensor engine =
        prefill_blocks(*model, layout, sink, nullptr, cache, nullptr, true);  // [|F|, V]

    // The training layout scores F's tokens but its last: the engine's first |F| - 1 rows.
    auto trained = [&](bool block_mode) {
      train::LayoutOptions lo;
      lo.block_mode = block_mode;
      lo.sink_tokens = sinks;
      lo.sink_token_id = 3;
      const train::SampleLayout l = train::lay_out_sample(sample, lo);
      EXPECT_EQ(static_cast<int64_t>(l.ids.size()), layout.total_tokens());
      train::PackedBatch b = train::pack_rows({l}, {&sample}, {{0}}, torch::kCPU);
      torch::Tensor logits = model->forward_train(b.ids, b.mask, b.positions);    // [1, T, V]
      return logits.view({-1, logits.size(-1)}).index_select(0, b.student_flat);  // [|F|-1, V]
    };
    EXPECT_LE(test::max_abs_diff(trained(true), engine.narrow(0, 0, F - 1)), 1e-4)
        << GetParam() << " sinks=" << sinks;
    // Full attention over the same tokens must differ (the test can fail).
    EXPECT_GT(test::max_abs_diff(trained(false), engine.narrow(0, 0, F - 1)), 1e-3) << GetParam();
  }
  EXPECT_THROW(
      model->forward_train(torch::zeros({1, 4}, torch::kInt64), torch::ones({3, 3}, torch::kBool)),
      InputError);
  EXPECT_THROW(model->forward_train(
                   torch::zeros({1, 4}, torch::kInt64), {},
                   torch::full({4}, model->config().max_position_embeddings, torch::kInt64)),
               InputError);
}

INSTANTIATE_TEST_SUITE_P(Archs, BlockMaskVsPrefill, ::testing::ValuesIn(test::fixture_archs()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace blockattn
