// RotaryEmbedding::shift_blocks (several blocks re-rotated in one pass) against shift, one block
// at a time.
#include <gtest/gtest.h>

#include <vector>

#include "engine_test_util.h"
#include "model/rope.h"

namespace blockattn {
namespace {

TEST(RopeShift, ShiftBlocksEqualsShiftingEachBlockAlone) {
  for (const std::string& arch : test::fixture_archs()) {
    SCOPED_TRACE(arch);
    const ModelConfig config = ModelConfig::load(test::model_fixture(arch));
    const RotaryEmbedding rope(config);
    const std::vector<int64_t> lengths = {3, 4, 1, 5}, offsets = {0, 7, 130, 19};
    torch::manual_seed(3);
    torch::Tensor k = torch::randn({2, 3, 13, config.head_dim});  // [n_layer, n_kv, Σ len, hd]
    std::vector<torch::Tensor> parts;
    int64_t start = 0;
    for (size_t i = 0; i < lengths.size(); ++i) {
      parts.push_back(rope.shift(k.narrow(-2, start, lengths[i]), offsets[i]));
      start += lengths[i];
    }
    const torch::Tensor each = torch::cat(parts, -2);  // [2, 3, 13, hd]
    const torch::Tensor all = rope.shift_blocks(k, offsets, lengths);
    ASSERT_EQ(all.sizes(), k.sizes());
    EXPECT_LE(test::max_abs_diff(all, each), 1e-6);
    // The blocks' offsets matter (the comparison can fail): swapped offsets give other keys.
    const torch::Tensor swapped = rope.shift_blocks(k, {7, 0, 130, 19}, lengths);
    EXPECT_GT(test::max_abs_diff(swapped, each), 1e-3);
    // Offset 0 leaves a block as it was.
    EXPECT_LE(test::max_abs_diff(all.narrow(-2, 0, 3), k.narrow(-2, 0, 3)), 1e-6);
  }
}

}  // namespace
}  // namespace blockattn
