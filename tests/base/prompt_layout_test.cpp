// The one block-layout planner and sink resolver (attention/prompt_layout.h), torch-free. The
// per-token layout's agreement with the engine's prefill is tests/engine/block_mask_test.cpp.
#include "attention/prompt_layout.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "blockattn/model_config.h"
#include "blockattn/tokenizer.h"
#include "test_util.h"

namespace blockattn {
namespace {

BlockSample four_blocks() {
  BlockSample s;
  s.blocks = {{10, 11, 12}, {20, 21}, {30, 31, 32, 33}, {40, 41, 42}};
  return s;
}

// True when token t of `l` may attend to key k (the rule documented on SampleLayout).
bool sees(const SampleLayout& l, size_t t, size_t k) {
  return k <= t && (l.group[k] == l.group[t] || static_cast<int64_t>(k) < l.sees_prefix[t]);
}

TEST(SampleLayout, TokensAndPositionsAreThePromptLayoutsPlan) {
  const BlockSample s = four_blocks();
  for (int32_t sinks : {0, 2}) {
    LayoutOptions o;
    o.sink_tokens = sinks;
    o.sink_token_id = 7;
    const SampleLayout l = lay_out_sample(s, o);
    const PromptLayout plan = make_prompt_layout({s.blocks[0], s.blocks[1], s.blocks[2]},
                                                 s.blocks[3], SinkConfig{sinks, 7});
    const std::vector<int32_t> flat = plan.flat();
    ASSERT_EQ(static_cast<int64_t>(l.ids.size()), plan.total_tokens());
    for (size_t t = 0; t < flat.size(); ++t) {
      EXPECT_EQ(l.ids[t], flat[t]) << t;
      EXPECT_EQ(l.positions[t], static_cast<int64_t>(t)) << t;
    }
    EXPECT_EQ(plan.blocks[2].offset, 3 + 2 + 2 * sinks);
    EXPECT_EQ(plan.final_offset, 9 + 3 * sinks);
    // F's tokens but the last are supervised, each predicting the next content token.
    EXPECT_EQ(l.student_index, (std::vector<int64_t>{plan.final_offset, plan.final_offset + 1}));
    EXPECT_EQ(l.content_index, (std::vector<int64_t>{9, 10}));
  }
}

TEST(SampleLayout, ContextBlocksSeeOnlyThemselvesAndTheFinalBlockSeesAll) {
  LayoutOptions o;
  o.sink_tokens = 1;
  const SampleLayout l = lay_out_sample(four_blocks(), o);
  // Block 1 is tokens [4, 7) (its sink first); F is [12, 15).
  EXPECT_TRUE(sees(l, 6, 4));
  EXPECT_FALSE(sees(l, 6, 3));   // block 0's last token
  EXPECT_FALSE(sees(l, 4, 6));   // no look-ahead
  EXPECT_TRUE(sees(l, 13, 0));   // F sees block 0's sink
  EXPECT_TRUE(sees(l, 13, 12));  // and itself causally
  EXPECT_FALSE(sees(l, 12, 13));
  // Full mode: one group, ordinary causal attention over the same tokens.
  o.block_mode = false;
  const SampleLayout full = lay_out_sample(four_blocks(), o);
  EXPECT_EQ(full.ids, l.ids);
  EXPECT_TRUE(sees(full, 6, 3));
  EXPECT_FALSE(sees(full, 3, 6));
}

TEST(SampleLayout, QueryCopyRepeatsItsBlockAtItsOwnPositionsSeeingOnlyEarlierBlocks) {
  LayoutOptions o;
  o.sink_tokens = 1;
  o.copies = {2};
  const SampleLayout l = lay_out_sample(four_blocks(), o);
  ASSERT_EQ(l.ids.size(), 15u + 4u);
  // Block 2 sits at [7, 12) with its sink at 7; the copy (no sink) starts at position 7.
  for (size_t j = 0; j < 4; ++j) {
    EXPECT_EQ(l.ids[15 + j], 30 + static_cast<int64_t>(j));
    EXPECT_EQ(l.positions[15 + j], 7 + static_cast<int64_t>(j));
  }
  EXPECT_TRUE(sees(l, 16, 6));    // block 1
  EXPECT_FALSE(sees(l, 16, 8));   // not block 2's own block-mode tokens
  EXPECT_FALSE(sees(l, 16, 12));  // nor F
  EXPECT_TRUE(sees(l, 16, 15));   // causally itself
  // Every copy token is supervised against block 2's content (content offset 5).
  EXPECT_EQ(l.student_index.size(), 2u + 4u);
  EXPECT_EQ(l.content_index.back(), 5 + 3);
}

TEST(SampleLayout, RejectsWhatCannotBeLaidOut) {
  LayoutOptions o;
  BlockSample one;
  one.blocks = {{1, 2}};
  EXPECT_THROW(lay_out_sample(one, o), InputError);
  BlockSample empty = four_blocks();
  empty.blocks[1].clear();
  EXPECT_THROW(lay_out_sample(empty, o), InputError);
  o.copies = {0};  // block 0 has nothing before it
  EXPECT_THROW(lay_out_sample(four_blocks(), o), InputError);
  o.copies = {3};  // F is not a context block
  EXPECT_THROW(lay_out_sample(four_blocks(), o), InputError);
  o.copies = {2, 1};
  EXPECT_THROW(lay_out_sample(four_blocks(), o), InputError);
  o.copies = {1};
  o.block_mode = false;
  EXPECT_THROW(lay_out_sample(four_blocks(), o), InputError);
  o = LayoutOptions{};
  o.sink_tokens = -1;
  EXPECT_THROW(lay_out_sample(four_blocks(), o), InputError);
}

TEST(SinkResolver, FallbackOrderIsConfigThenSinkTokenThenBosThenEosThenZero) {
  const std::string dir = test::fixture("models/tiny-llama");
  ModelConfig mc = ModelConfig::load(dir);
  const std::unique_ptr<Tokenizer> tok = Tokenizer::load(dir);
  const std::optional<int32_t> sink_token = tok->token_to_id("<|block_sink|>");
  ASSERT_TRUE(sink_token);
  mc.block_sink_tokens = 2;
  mc.block_sink_token_id = *sink_token + 1;
  SinkConfig s = resolve_sinks(-1, mc, *tok);
  EXPECT_EQ(s.count, 2);
  EXPECT_EQ(s.token_id, *sink_token + 1);
  EXPECT_EQ(resolve_sinks(0, mc, *tok).count, 0);  // a request overrides the model's count
  EXPECT_EQ(resolve_sinks(5, mc, *tok).count, 5);
  EXPECT_THROW(resolve_sinks(65, mc, *tok), InputError);
  mc.block_sink_token_id.reset();
  EXPECT_EQ(resolve_sinks(-1, mc, *tok).token_id, *sink_token);

  // Tokenizers without <|block_sink|>: their BOS, else their EOS. (Token 0, the last resort,
  // needs a tokenizer with none of the three; no fixture is one.)
  for (const char* file :
       {"tokenizers/qwen3/tokenizer.json.zst", "tokenizers/gpt2/tokenizer.json.zst"}) {
    SCOPED_TRACE(file);
    const std::unique_ptr<Tokenizer> other = Tokenizer::from_file(test::fixture(file));
    ASSERT_FALSE(other->token_to_id("<|block_sink|>"));
    ASSERT_TRUE(other->bos_id() || other->eos_id());
    EXPECT_EQ(resolve_sinks(-1, mc, *other).token_id,
              other->bos_id() ? *other->bos_id() : *other->eos_id());
  }
}

}  // namespace
}  // namespace blockattn
