// Block attention against full attention and RoPE re-encoding against direct encoding.
#include <gtest/gtest.h>

#include "attention/block_prefill.h"
#include "engine_test_util.h"

namespace blockattn {
namespace {

using test::ids_range;

class BlockVsFull : public ::testing::TestWithParam<std::string> {};

// With a single block, block attention is ordinary causal attention: the logits must agree.
TEST_P(BlockVsFull, OneBlockEqualsFullModeFp32) {
  auto model = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  for (int sinks : {0, 2}) {
    PromptLayout layout = make_prompt_layout({ids_range(1, 45, V)}, ids_range(7, 9, V), {sinks, 3});
    KVCache block_cache = model->new_cache(layout.total_tokens());
    KVCache full_cache = model->new_cache(layout.total_tokens());
    torch::Tensor block =
        prefill_blocks(*model, layout, {sinks, 3}, nullptr, block_cache, nullptr, true);
    torch::Tensor full = prefill_full(*model, layout, full_cache, true);
    ASSERT_EQ(block.sizes(), full.sizes());
    EXPECT_LE(test::max_abs_diff(block, full), 1e-4) << "sinks=" << sinks;
  }
}

// With several blocks the modes must differ: block mode really hides blocks from each other.
TEST_P(BlockVsFull, SeveralBlocksDifferFromFullMode) {
  auto model = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  PromptLayout layout =
      make_prompt_layout({ids_range(1, 30, V), ids_range(2, 30, V)}, ids_range(7, 5, V), {});
  KVCache a = model->new_cache(layout.total_tokens()), b = model->new_cache(layout.total_tokens());
  torch::Tensor block = prefill_blocks(*model, layout, {}, nullptr, a, nullptr, true);
  torch::Tensor full = prefill_full(*model, layout, b, true);
  EXPECT_GT(test::max_abs_diff(block, full), 1e-3);
}

// Batched encoding (blocks packed into one forward, attention per sequence) gives every block
// its own forward's KV: fp32, relative 1e-5 (the larger matrix products only reassociate);
// including a one-token block and a block repeated in one batch.
TEST_P(BlockVsFull, BatchedEncodingEqualsOneForwardPerBlock) {
  auto model = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  std::vector<std::vector<int32_t>> blocks;
  for (int n : {40, 1, 90, 17}) blocks.push_back(ids_range(n, n, V));
  blocks.push_back(blocks[0]);
  std::vector<const std::vector<int32_t>*> ptrs;
  for (const auto& b : blocks) ptrs.push_back(&b);
  std::vector<BlockKV> batched = encode_blocks(*model, ptrs);
  ASSERT_EQ(batched.size(), blocks.size());
  auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return test::max_abs_diff(a, b) / b.abs().max().item<double>();
  };
  for (size_t b = 0; b < blocks.size(); ++b) {
    BlockKV one = encode_block(*model, blocks[b]);
    ASSERT_EQ(batched[b].k.sizes(), one.k.sizes()) << "block " << b;
    EXPECT_LE(rel(batched[b].k, one.k), 1e-5) << "block " << b;
    EXPECT_LE(rel(batched[b].v, one.v), 1e-5) << "block " << b;
  }
  // Negative control: the blocks really are different entries.
  EXPECT_GT(test::max_abs_diff(batched[0].k.narrow(2, 0, 17), batched[3].k), 1e-3);
}

// A block encoded at local positions and re-rotated to offset o equals the block encoded at o.
// Tolerance 1e-5 on K and V (fp32). RoPE angles are computed in double, so the only difference
// is fp32 rounding of two rotations applied in sequence instead of one; from the second layer on
// V inherits that rounding through the first layer's attention.
TEST_P(BlockVsFull, RopeReencodingMatchesDirectEncoding) {
  auto model = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  const std::vector<int32_t> x = ids_range(11, 40, V);
  for (int64_t offset : {1, 57, 1000, 3000}) {
    BlockKV local = encode_block(*model, x);
    BlockKV placed = place_block(*model, local, offset);
    BlockKV direct = encode_block(*model, x, offset);
    EXPECT_LE(test::max_abs_diff(placed.k, direct.k), 1e-5) << "offset " << offset;
    EXPECT_LE(test::max_abs_diff(placed.v, direct.v), 1e-5) << "offset " << offset;
  }
}

// The same block reused behind prefixes of different lengths gives the logits of encoding it
// at that offset directly (checked through the final block's logits).
TEST_P(BlockVsFull, CachedBlockReusedAtAnotherOffset) {
  auto model = Model::load(test::model_fixture(GetParam()), {"cpu", "float32"});
  const int32_t V = static_cast<int32_t>(model->config().vocab_size);
  const std::vector<int32_t> x = ids_range(11, 40, V), q = ids_range(5, 6, V);
  BlockStore store(1 << 30, {}, model->device());
  PromptLayout first = make_prompt_layout({ids_range(3, 17, V), x}, q, {});
  KVCache c1 = model->new_cache(first.total_tokens());
  PrefillStats s1;
  prefill_blocks(*model, first, {}, &store, c1, &s1);
  EXPECT_EQ(s1.blocks_computed, 2);

  PromptLayout second = make_prompt_layout({ids_range(9, 301, V), x}, q, {});
  KVCache c2 = model->new_cache(second.total_tokens());
  PrefillStats s2;
  torch::Tensor reused = prefill_blocks(*model, second, {}, &store, c2, &s2, true);
  EXPECT_EQ(s2.blocks_reused, 1);  // x, now at offset 301 instead of 17
  EXPECT_EQ(s2.blocks_computed, 1);

  // Reference: every block encoded directly at its global offset, no re-rotation.
  KVCache ref = model->new_cache(second.total_tokens());
  for (const PromptBlock& b : second.blocks) {
    BlockKV direct = encode_block(*model, b.tokens, b.offset);
    ref.append_block(direct.k, direct.v);
  }
  torch::Tensor want = model->forward(token_tensor(*model, q), ref, LogitsFor::kAll);
  EXPECT_LE(test::max_abs_diff(reused, want), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Architectures, BlockVsFull, ::testing::ValuesIn(test::fixture_archs()),
                         [](const auto& info) { return info.param; });

TEST(PromptLayout, OffsetsIncludeSinks) {
  PromptLayout l = make_prompt_layout({{10, 11, 12}, {20}}, {30, 31}, {2, 7});
  ASSERT_EQ(l.blocks.size(), 2u);
  EXPECT_EQ(l.blocks[0].tokens, (std::vector<int32_t>{7, 7, 10, 11, 12}));
  EXPECT_EQ(l.blocks[1].offset, 5);
  EXPECT_EQ(l.blocks[1].tokens, (std::vector<int32_t>{7, 7, 20}));
  EXPECT_EQ(l.final_offset, 8);
  EXPECT_EQ(l.total_tokens(), 10);
  EXPECT_EQ(l.flat(), (std::vector<int32_t>{7, 7, 10, 11, 12, 7, 7, 20, 30, 31}));
}

TEST(BlockKeys, DependOnSinksAndDtype) {
  auto model = Model::load(test::model_fixture("llama"), {"cpu", "float32"});
  auto bf16 = Model::load(test::model_fixture("llama"), {"cpu", "bfloat16"});
  std::vector<int32_t> t = {5, 6, 7};
  EXPECT_EQ(block_key(*model, {}, t), block_key(*model, {}, t));
  EXPECT_NE(block_key(*model, {}, t), block_key(*model, {1, 3}, t));
  EXPECT_NE(block_key(*model, {1, 3}, t), block_key(*model, {1, 4}, t));
  EXPECT_NE(block_key(*model, {}, t), block_key(*bf16, {}, t));
  auto other = Model::load(test::model_fixture("mistral"), {"cpu", "float32"});
  EXPECT_NE(block_key(*model, {}, t), block_key(*other, {}, t));
}

}  // namespace
}  // namespace blockattn
