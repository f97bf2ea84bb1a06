// The baselines: TextTiling against NLTK 3.8 on a synthetic three-topic text, the recursive
// splitter's separator order, the sentence and paragraph packers.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "segment/candidates.h"
#include "segment/segment.h"
#include "segment/texttiling.h"
#include "segment/validate.h"

namespace blockattn::segment {
namespace {

// Three topics, six paragraphs of 70 words each, from a fixed LCG. The same generator in Python
// fed NLTK 3.8's TextTilingTokenizer(stopwords=<our list>) for the expected values below.
std::string three_topics() {
  uint64_t x = 12345;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  const std::vector<std::vector<std::string>> topics = {
      {"flour", "sugar", "oven", "bake", "dough", "butter", "recipe", "whisk", "yeast", "bread",
       "crust", "knead", "salt", "cake", "batter"},
      {"star", "planet", "orbit", "telescope", "galaxy", "comet", "nebula", "gravity", "moon",
       "astronomer", "eclipse", "light", "cosmos", "solar"},
      {"engine", "piston", "fuel", "gear", "clutch", "torque", "exhaust", "valve", "crankshaft",
       "brake", "tire", "chassis", "throttle", "radiator"}};
  const std::vector<std::string> stop = {"the",  "and",  "of",  "to", "in", "is", "it",
                                         "that", "with", "for", "as", "on", "was"};
  std::string text;
  for (const auto& topic : topics)
    for (int p = 0; p < 6; ++p) {
      if (!text.empty()) text += "\n\n";
      for (int i = 0; i < 70; ++i) {
        if (i > 0) text += " ";
        if (next() % 3 == 0)
          text += stop[next() % stop.size()];
        else
          text += topic[next() % topic.size()];
        if (i % 12 == 11) text += ".";
      }
      text += ".";
    }
  return text;
}

TEST(SegmentTextTiling, MatchesNltkOnThreeTopics) {
  std::string text = three_topics();
  ASSERT_EQ(text.size(), 7241u);  // as in Python
  auto candidates = find_candidates(text);
  TextTilingTrace trace;
  auto scores = texttiling_scores(text, candidates, {}, &trace);
  ASSERT_EQ(trace.gap_scores.size(), 62u);
  EXPECT_NEAR(trace.gap_scores[0], 0.26352313834736496, 1e-12);
  EXPECT_NEAR(trace.gap_scores[30], 0.9572867853694268, 1e-12);
  EXPECT_NEAR(trace.smoothed[0], 0.1525860267702258, 1e-12);
  EXPECT_NEAR(trace.smoothed[30], 0.9439472773342404, 1e-12);
  EXPECT_NEAR(trace.depth[16], 0.4747706888448673, 1e-12);
  EXPECT_NEAR(trace.depth[33], 0.10540628039436273, 1e-12);
  std::vector<size_t> gaps;
  for (size_t i = 0; i < trace.boundary.size(); ++i)
    if (trace.boundary[i]) gaps.push_back(i);
  EXPECT_EQ(gaps, (std::vector<size_t>{16, 20, 24, 33, 37, 41, 45, 49}));
  // NLTK cuts at the start of the blank line; we cut after it (+2 bytes).
  std::vector<size_t> cuts;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (scores[i] == 1.0) cuts.push_back(candidates[i].offset - 2);
  EXPECT_EQ(cuts, (std::vector<size_t>{1814, 2187, 2605, 3416, 4273, 4731, 5149, 5583}));

  // Placing each gap at the first word after it moves gap 33 (word 680) to the break at word
  // 700, where NLTK's placement (word 661) picks the one at word 630.
  TextTilingOptions at_gap;
  at_gap.nltk_gap_positions = false;
  scores = texttiling_scores(text, candidates, at_gap);
  cuts.clear();
  for (size_t i = 0; i < candidates.size(); ++i)
    if (scores[i] == 1.0) cuts.push_back(candidates[i].offset - 2);
  EXPECT_EQ(cuts, (std::vector<size_t>{1814, 2187, 2605, 3826, 4273, 4731, 5149, 5583}));
}

TEST(SegmentTextTiling, FindsTheTopicBoundaries) {
  std::string text = three_topics();
  size_t topic2 = text.find("\n\n", 0);
  for (int p = 1; p < 6; ++p) topic2 = text.find("\n\n", topic2 + 2);
  size_t topic3 = topic2;
  for (int p = 0; p < 6; ++p) topic3 = text.find("\n\n", topic3 + 2);
  SegmentOptions o;
  o.method = Method::kTextTiling;
  o.max_tokens = 100000;
  auto blocks = segment(text, o, word_counter());
  std::vector<size_t> starts = block_boundaries(blocks);
  EXPECT_NE(std::find(starts.begin(), starts.end(), topic2 + 2), starts.end());
  EXPECT_NE(std::find(starts.begin(), starts.end(), topic3 + 2), starts.end());
  // Too short for any gap, or no paragraph break: one block.
  EXPECT_EQ(segment("just a few words", o, word_counter()).size(), 1u);
  std::string one_paragraph = text;
  for (char& c : one_paragraph)
    if (c == '\n') c = ' ';
  EXPECT_EQ(segment(one_paragraph, o, word_counter()).size(), 1u);
}

TEST(SegmentBaselines, RecursiveUsesStrongestSeparatorFirst) {
  auto count = word_counter();
  // Paragraph 1: two lines of 3 words; paragraph 2: 3 words. Target 4.
  std::string text = "a b c\nd e f\n\ng h i";
  SegmentOptions o;
  o.method = Method::kRecursive;
  o.max_tokens = 4;
  auto blocks = segment(text, o, count);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(text.substr(blocks[1].begin, 1), "d");  // paragraph 1 was split at its line break
  EXPECT_EQ(text.substr(blocks[2].begin, 1), "g");
  // Target 6 fits paragraph 1 whole; the two paragraphs do not fit together.
  o.max_tokens = 6;
  blocks = segment(text, o, count);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(text.substr(blocks[1].begin, 1), "g");
  // Small pieces pack: three one-word lines under target 2 -> two blocks.
  o.max_tokens = 2;
  blocks = segment("x\ny\nz", o, count);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].tokens, 2u);
}

TEST(SegmentBaselines, SentenceAndParagraphPacking) {
  auto count = word_counter();
  std::string text = "One two. Three four. Five six.\nSeven eight.\n\nNine ten. Eleven.";
  SegmentOptions o;
  o.method = Method::kSentence;
  o.max_tokens = 4;
  auto blocks = segment(text, o, count);
  EXPECT_EQ(blocks_problem(text, blocks, 4, count), "");
  std::vector<std::string> firsts;
  for (const Block& b : blocks) firsts.push_back(text.substr(b.begin, b.end - b.begin));
  EXPECT_EQ(firsts, (std::vector<std::string>{"One two. Three four. ",
                                              "Five six.\nSeven eight.\n\n", "Nine ten. Eleven."}));
  o.method = Method::kParagraph;
  o.max_tokens = 20;
  o.target_tokens = 4;
  blocks = segment(text, o, count);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(text.substr(blocks[1].begin, 4), "Nine");
  EXPECT_EQ(blocks[0].tokens, 8u);  // over the target, under the cap: paragraphs are not cut
}

}  // namespace
}  // namespace blockattn::segment
