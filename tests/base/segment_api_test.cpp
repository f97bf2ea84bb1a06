// segment(): methods, options, input errors, the scorer hook.
#include <gtest/gtest.h>

#include <string>

#include "blockattn/error.h"
#include "expect_error.h"
#include "segment/segment.h"
#include "segment/text_check.h"
#include "segment/validate.h"

namespace blockattn::segment {
namespace {

using test::error_of;

SegmentOptions with(Method m, size_t max_tokens, size_t min_tokens = 0) {
  SegmentOptions o;
  o.method = m;
  o.max_tokens = max_tokens;
  o.min_tokens = min_tokens;
  return o;
}

TEST(SegmentApi, ParseMethod) {
  for (const char* name :
       {"fixed", "recursive", "sentence", "paragraph", "texttiling", "learned", "semantic"})
    EXPECT_STREQ(method_name(parse_method(name)), name);
  std::string msg = error_of<InputError>([] { parse_method("bogus"); });
  EXPECT_CONTAINS(msg, "unknown method 'bogus'");
  EXPECT_CONTAINS(msg, "fixed, recursive, sentence, paragraph, texttiling, c99, learned, semantic");
}

TEST(SegmentApi, OptionErrors) {
  auto count = word_counter();
  auto run = [&](SegmentOptions o) { return [o, &count] { segment("a b c", o, count); }; };
  EXPECT_CONTAINS(error_of<InputError>(run(with(Method::kRecursive, 0))), "max_tokens");
  EXPECT_CONTAINS(error_of<InputError>(run(with(Method::kRecursive, 10, 11))),
                  "min_tokens (11) is greater than max_tokens (10)");
  SegmentOptions o = with(Method::kLearned, 10);
  EXPECT_CONTAINS(error_of<InputError>(run(o)), "needs a scorer");
  o.scorer = [](std::string_view, const std::vector<Candidate>&) { return std::vector<double>{}; };
  EXPECT_CONTAINS(error_of<InputError>(run(o)), "returned 0 scores for 2 candidates");
  o.scorer = [](std::string_view, const std::vector<Candidate>& c) {
    return std::vector<double>(c.size(), 1.5);
  };
  EXPECT_CONTAINS(error_of<InputError>(run(o)), "outside [0, 1]");
  o = with(Method::kLearned, 10);
  o.threshold = 2;
  EXPECT_CONTAINS(error_of<InputError>(run(o)), "threshold 2 is outside [0, 1]");
  o = with(Method::kFixed, 10);
  o.overlap_tokens = 10;
  EXPECT_CONTAINS(error_of<InputError>(run(o)), "overlap");
  o = with(Method::kRecursive, 10);
  o.overlap_tokens = 2;
  EXPECT_CONTAINS(error_of<InputError>(run(o)), "only for the fixed method");
  o = with(Method::kRecursive, 10);
  o.target_tokens = 20;
  EXPECT_CONTAINS(error_of<InputError>(run(o)), "target_tokens (20)");
}

TEST(SegmentApi, BadInput) {
  auto count = word_counter();
  SegmentOptions o = with(Method::kRecursive, 10);
  EXPECT_TRUE(segment("", o, count).empty());
  EXPECT_CONTAINS(error_of<InputError>([&] { segment(std::string("ab\xC3(cd"), o, count); }),
                  "segment: invalid UTF-8 at byte 2");
  EXPECT_CONTAINS(error_of<InputError>([&] { segment(std::string("ab\0cd", 5), o, count); }),
                  "segment: NUL byte at byte 2 (binary input?)");
  // Options are checked even for empty text, so a bad command line fails at once.
  EXPECT_THROW(segment("", with(Method::kRecursive, 0), count), InputError);
  EXPECT_EQ(replace_invalid_utf8("a\xFF"
                                 "b\xE2\x82"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(replace_invalid_utf8("héllo"), "héllo");
}

TEST(SegmentApi, ScorerThresholdAndBlockFields) {
  auto count = word_counter();
  std::string text = "One two three. Four five six.\n\nSeven eight nine.";
  SegmentOptions o = with(Method::kLearned, 100);
  o.scorer = [](std::string_view, const std::vector<Candidate>& c) {
    std::vector<double> s;
    for (const Candidate& x : c)
      s.push_back(x.type == CutType::kParagraph ? 0.9 : x.type == CutType::kSentence ? 0.6 : 0.1);
    return s;
  };
  o.threshold = 0.8;
  Segmentation seg = segment_detailed(text, o, count);
  ASSERT_EQ(seg.blocks.size(), 2u);
  EXPECT_EQ(seg.scores.size(), seg.candidates.size());
  EXPECT_EQ(text.substr(seg.blocks[1].begin, 5), "Seven");
  EXPECT_EQ(seg.blocks[0].cut, CutType::kStart);
  EXPECT_EQ(seg.blocks[0].score, 1.0);
  EXPECT_EQ(seg.blocks[1].cut, CutType::kParagraph);
  EXPECT_EQ(seg.blocks[1].score, 0.9);
  EXPECT_EQ(seg.blocks[0].tokens, 6u);
  o.threshold = 0.5;
  EXPECT_EQ(segment(text, o, count).size(), 3u);
  // The cap overrides the threshold: 4 words at most, cut at the best candidates left.
  o.threshold = 1.0;
  o.max_tokens = 4;
  auto blocks = segment(text, o, count);
  EXPECT_EQ(blocks_problem(text, blocks, 4, count), "");
  EXPECT_EQ(blocks.size(), 3u);
  EXPECT_EQ(text.substr(blocks[1].begin, 4), "Four");  // sentence (0.6) beats word (0.1)
  EXPECT_EQ(blocks[1].score, 0.6);
  EXPECT_EQ(text.substr(blocks[2].begin, 5), "Seven");
}

TEST(SegmentApi, MinTokensMergesSlivers) {
  auto count = word_counter();
  // Paragraphs of 1, 6, 1, 6 words; a paragraph splitter with min 3 folds the one-word ones
  // into a neighbour (the first has only one; the middle one joins the smaller).
  std::string text = "Title\n\na b c d e f\n\nMiddle\n\ng h i j k l";
  SegmentOptions o = with(Method::kParagraph, 8, 3);
  o.target_tokens = 1;
  auto blocks = segment(text, o, count);
  EXPECT_EQ(blocks_problem(text, blocks, 8, count), "");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].tokens, 7u);
  EXPECT_EQ(blocks[1].tokens, 7u);
  // min_tokens larger than the whole text: one block.
  o = with(Method::kParagraph, 20, 20);
  o.target_tokens = 1;
  EXPECT_EQ(segment(text, o, count).size(), 1u);
}

}  // namespace
}  // namespace blockattn::segment
