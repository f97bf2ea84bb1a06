// The hard cap: adversarial inputs for every method, with stand-in counters and a real
// tokenizer; forced splits on character boundaries.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "expect_error.h"
#include "segment/forced_split.h"
#include "segment/segment.h"
#include "segment/validate.h"
#include "test_util.h"

namespace blockattn::segment {
namespace {

using test::error_of;

const Method kAllMethods[] = {Method::kFixed,     Method::kRecursive,  Method::kSentence,
                              Method::kParagraph, Method::kTextTiling, Method::kLearned};

// A scorer that likes strong separators, standing in for the learned model.
std::vector<double> type_scores(std::string_view, const std::vector<Candidate>& c) {
  std::vector<double> s;
  for (const Candidate& x : c) s.push_back(static_cast<double>(x.type) / 5.0);
  return s;
}

void expect_capped(const std::string& name, const std::string& text, const TokenCounter& count,
                   size_t max_tokens, size_t min_tokens = 0) {
  for (Method m : kAllMethods) {
    SegmentOptions o;
    o.method = m;
    o.max_tokens = max_tokens;
    o.min_tokens = min_tokens;
    o.scorer = type_scores;
    auto blocks = segment(text, o, count);
    EXPECT_EQ(blocks_problem(text, blocks, max_tokens, count), "")
        << name << " / " << method_name(m);
  }
}

std::string minified_js(size_t bytes) {
  std::string out;
  for (int i = 0; out.size() < bytes; ++i)
    out += "function f" + std::to_string(i) + "(a,b){var c=a+b*" + std::to_string(i) +
           ";if(c>9){return c-1}else{return[c,'é',\"x\"]}};";
  return out;
}

TEST(SegmentCap, AdversarialWithByteCounter) {
  auto count = byte_counter(4);
  expect_capped("200 kB line", std::string(200000, 'x'), count, 64);
  expect_capped("minified", minified_js(100000), count, 64, 8);
  expect_capped("spaces", std::string(100000, ' '), count, 64);
  expect_capped("newlines", std::string(100000, '\n'), count, 64);
  std::string mixed = std::string(5000, ' ') + "word " + std::string(3000, '\n') + "end";
  expect_capped("mixed", mixed, count, 16, 4);
  std::string euro;
  for (int i = 0; i < 30000; ++i) euro += "€";     // 3-byte characters, no separator
  expect_capped("multibyte run", euro, count, 7);  // 28 bytes: never a whole number of €
}

TEST(SegmentCap, AdversarialWithWordCounter) {
  auto count = word_counter();
  std::string words;
  for (int i = 0; i < 40000; ++i) words += "w" + std::to_string(i % 97) + " ";
  expect_capped("one long line of words", words, count, 50, 10);
  expect_capped("spaces (zero tokens)", std::string(100000, ' '), count, 1);
  expect_capped("minified", minified_js(100000), count, 3);
}

TEST(SegmentCap, AdversarialWithRealTokenizer) {
  auto tok = Tokenizer::from_file(test::fixture("tokenizers/qwen3/tokenizer.json.zst"));
  auto count = tokenizer_counter(*tok);
  expect_capped("line", std::string(20000, 'x'), count, 100);
  expect_capped("minified", minified_js(20000), count, 100, 20);
  expect_capped("spaces", std::string(20000, ' '), count, 5);
  expect_capped("newlines", std::string(20000, '\n'), count, 5);
  std::string prose;
  for (int i = 0; i < 300; ++i)
    prose += "The quick brown fox " + std::to_string(i) + " jumps over the lazy dog. " +
             (i % 7 == 0   ? "\n\n"
              : i % 3 == 0 ? "\n"
                           : "");
  expect_capped("prose", prose, count, 40, 10);
}

TEST(SegmentCap, ForcedSplitIsGreedyOnCharacterBoundaries) {
  auto count = byte_counter(1);
  std::string text;
  for (int i = 0; i < 100; ++i) text += "é";  // 200 bytes
  // 5 bytes fit, but a cut at 5 would split a character: 4.
  EXPECT_EQ(longest_prefix_within(text, 0, text.size(), 5, count, 1), 4u);
  EXPECT_EQ(longest_prefix_within(text, 0, text.size(), 5, count, 1000), 4u);
  EXPECT_EQ(longest_prefix_within(text, 10, 20, 100, count, 3), 20u);
  EXPECT_CONTAINS(error_of<InputError>([&] { longest_prefix_within(text, 0, 200, 1, count, 1); }),
                  "at most 1 tokens cannot hold the single character at byte 0");
  EXPECT_EQ(longest_suffix_within(text, 0, text.size(), 5, count, 1), 196u);
  EXPECT_EQ(longest_suffix_within(text, 190, 200, 50, count, 1), 190u);
  EXPECT_EQ(longest_suffix_within(text, 0, 200, 1, count, 1), 200u);  // nothing fits

  SegmentOptions o;
  o.max_tokens = 1;
  EXPECT_CONTAINS(error_of<InputError>([&] { segment(text, o, count); }), "single character");
}

TEST(SegmentCap, FixedWindowsAndOverlap) {
  auto count = word_counter();
  std::string text;
  for (int i = 0; i < 100; ++i) text += "w" + std::to_string(i) + " ";
  SegmentOptions o;
  o.method = Method::kFixed;
  o.max_tokens = 10;
  auto blocks = segment(text, o, count);
  EXPECT_EQ(blocks_problem(text, blocks, 10, count), "");
  ASSERT_EQ(blocks.size(), 10u);
  for (const Block& b : blocks) EXPECT_EQ(b.tokens, 10u);
  o.overlap_tokens = 3;
  blocks = segment(text, o, count);
  EXPECT_EQ(blocks_problem(text, blocks, 10, count, /*allow_overlap=*/true), "");
  ASSERT_GE(blocks.size(), 2u);
  // The second window starts inside the first, 3 words before its end.
  EXPECT_LT(blocks[1].begin, blocks[0].end);
  EXPECT_EQ(count(std::string_view(text).substr(blocks[1].begin, blocks[0].end - blocks[1].begin)),
            3u);
  o.target_tokens = 4;
  o.overlap_tokens = 0;
  blocks = segment(text, o, count);
  EXPECT_EQ(blocks.size(), 25u);
}

}  // namespace
}  // namespace blockattn::segment
