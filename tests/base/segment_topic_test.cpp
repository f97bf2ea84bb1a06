// Topic signals (issue 12): the cohesion features against a direct computation, C99 against a
// hand-worked example and on two unrelated texts, the exact block count, and the topic-only
// dataset's joins (no formatting cue).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "data/synthetic_rng.h"
#include "segdata/dataset_instance.h"
#include "segdata/dataset_topic.h"
#include "segment/c99.h"
#include "segment/candidates.h"
#include "segment/cohesion.h"
#include "segment/learned_features.h"
#include "segment/segment.h"
#include "segment/validate.h"

namespace blockattn::segment {
namespace {

// Sentences of one subject from a fixed LCG: a subject's words, with a few shared function words.
std::vector<std::string> subject_sentences(const std::vector<std::string>& words, size_t n,
                                           uint64_t seed) {
  uint64_t x = seed;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  static const std::vector<std::string> glue = {"the", "and", "with", "for", "then"};
  std::vector<std::string> out;
  for (size_t s = 0; s < n; ++s) {
    std::string sentence;
    for (int i = 0; i < 10; ++i) {
      if (i > 0) sentence += ' ';
      std::string w = next() % 3 == 0 ? glue[next() % glue.size()] : words[next() % words.size()];
      if (i == 0) w[0] = static_cast<char>(w[0] - 32);
      sentence += w;
    }
    out.push_back(sentence + ".");
  }
  return out;
}

const std::vector<std::string> kBaking = {"flour",  "sugar", "oven",  "bake",  "dough", "butter",
                                          "recipe", "whisk", "yeast", "bread", "crust", "knead"};
const std::vector<std::string> kSpace = {"star",  "planet", "orbit",   "telescope", "galaxy",
                                         "comet", "nebula", "gravity", "moon",      "eclipse"};

std::string lines_of(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::string text;
  for (const auto* part : {&a, &b})
    for (const std::string& s : *part) text += (text.empty() ? "" : "\n") + s;
  return text;
}

TEST(Cohesion, WindowCosineMatchesADirectComputation) {
  const std::string text =
      "Oven bread, oven flour and the bread. Sugar whisk; dough? Bread oven yeast.\n"
      "Planet orbit and the star. Orbit moon comet orbit. Galaxy bread star.";
  const ContentWords words = content_words(text, 4);
  // Words of >= 3 bytes, not all digits, lowercased: "and" and "the" count, "a" would not.
  ASSERT_EQ(words.size(), 25u);
  EXPECT_EQ(words.term[0], words.term[2]);  // "Oven" and "oven"
  EXPECT_EQ(words.term[1], words.term[6]);  // "bread"
  EXPECT_NE(words.term[0], words.term[1]);
  WindowCosine cosine(words);
  for (size_t at = 0; at <= words.size(); ++at)
    for (size_t window : {1u, 3u, 6u, 30u}) {
      std::map<uint32_t, double> left, right;
      for (size_t k = at > window ? at - window : 0; k < at; ++k) left[words.term[k]] += 1;
      for (size_t k = at; k < std::min(words.size(), at + window); ++k) right[words.term[k]] += 1;
      double dot = 0, nl = 0, nr = 0;
      for (auto& [t, c] : left) nl += std::pow(c * words.idf[t], 2);
      for (auto& [t, c] : right) {
        nr += std::pow(c * words.idf[t], 2);
        if (left.count(t)) dot += left[t] * c * words.idf[t] * words.idf[t];
      }
      const double expected = nl == 0 || nr == 0 ? 0.0 : dot / std::sqrt(nl * nr);
      EXPECT_NEAR(cosine(at, window), expected, 1e-9) << "at " << at << " window " << window;
    }
  // idf over chunks of 4 words: "oven" (words 0, 2, 11) is in chunks 0 and 2 of 7 -> log(7/2) + 1.
  const size_t chunks = (words.size() + 3) / 4;
  EXPECT_NEAR(words.idf[words.term[0]], std::log(chunks / 2.0) + 1.0, 1e-6);
}

TEST(Cohesion, DepthAndLocalRankByHand) {
  const std::vector<double> s = {0.8, 0.5, 0.2, 0.6, 0.9};
  const std::vector<double> depth = depth_scores(s);
  EXPECT_NEAR(depth[2], (0.8 - 0.2) + (0.9 - 0.2), 1e-12);
  EXPECT_NEAR(depth[1], (0.8 - 0.5) + 0.0, 1e-12);  // the right side falls at once
  EXPECT_NEAR(depth[0], 0.0, 1e-12);
  EXPECT_NEAR(depth_scores(s, 1)[2], (0.5 - 0.2) + (0.6 - 0.2), 1e-12);  // one step each side
  const std::vector<double> rank = local_rank(s, 1);
  EXPECT_DOUBLE_EQ(rank[2], 1.0);  // both neighbours more cohesive
  EXPECT_DOUBLE_EQ(rank[0], 0.0);
  EXPECT_DOUBLE_EQ(rank[3], 0.5);
}

TEST(Cohesion, TheContentFeaturesChangeTheRowsOnlyWhenAsked) {
  const std::string text =
      lines_of(subject_sentences(kBaking, 6, 1), subject_sentences(kSpace, 6, 2));
  const std::vector<Candidate> cands = find_candidates(text);
  FeatureConfig plain;
  FeatureConfig content = plain;
  content.content_windows = default_content_windows();
  const CandidateFeatures a = extract_features(text, cands, plain);
  const CandidateFeatures b = extract_features(text, cands, content);
  ASSERT_EQ(a.which, b.which);
  for (size_t r = 0; r < a.rows(); ++r) {
    const size_t na = a.row_begin[r + 1] - a.row_begin[r], nb = b.row_begin[r + 1] - b.row_begin[r];
    // A cosine per window, rel, depth, rank, four local crosses and two with the text's totals.
    EXPECT_EQ(nb, na + 3 + 3 + 4 + 2) << r;
    EXPECT_TRUE(std::equal(a.ids.begin() + a.row_begin[r], a.ids.begin() + a.row_begin[r + 1],
                           b.ids.begin() + b.row_begin[r]));
  }
  content.content_windows = {30, 10};
  EXPECT_THROW(check_feature_config(content), InputError);
}

// Choi's example shape: two groups of units, similar within, dissimilar across.
TEST(C99, HandWorkedExample) {
  const std::vector<std::vector<double>> sim = {
      {1.0, 0.9, 0.1, 0.2}, {0.9, 1.0, 0.2, 0.1}, {0.1, 0.2, 1.0, 0.8}, {0.2, 0.1, 0.8, 1.0}};
  const auto rank = c99_rank(sim, 1);
  // (0,0): the 2x2 mask holds 1, .9, .9, 1: two of the three others are lower.
  EXPECT_NEAR(rank[0][0], 2.0 / 3.0, 1e-12);
  // (0,2) = .1: rows 0-1, columns 1-3 hold .9 .1 .2 / 1 .2 .1: none lower.
  EXPECT_NEAR(rank[0][2], 0.0, 1e-12);
  // (1,2) = .2: rows 0-2, columns 1-3: .9 .1 .2 / 1 .2 .1 / .2 1 .8: .1 and .1 are lower, of 8.
  EXPECT_NEAR(rank[1][2], 2.0 / 8.0, 1e-12);
  std::vector<size_t> order;
  std::vector<double> gain;
  c99_divide(rank, order, gain);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], 2u);  // between the groups
  // The first split's density by hand: inside squares [0,2) and [2,4) over their area 8.
  double inside = 0, all = 0;
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 4; ++j) {
      all += rank[i][j];
      if ((i < 2) == (j < 2)) inside += rank[i][j];
    }
  EXPECT_NEAR(gain[0], inside / 8.0 - all / 16.0, 1e-12);
  EXPECT_GT(gain[0], 0.0);
}

TEST(C99, FindsTheBoundaryOfTwoUnrelatedTexts) {
  const auto baking = subject_sentences(kBaking, 12, 7), space = subject_sentences(kSpace, 12, 8);
  const std::string text = lines_of(baking, space);
  const size_t join = text.find(space.front());
  SegmentOptions o;
  o.method = Method::kC99;
  o.max_tokens = 100000;
  o.blocks = 2;
  const auto two = segment(text, o, word_counter());
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].begin, join);
  // Choi's own count (threshold 0.5) keeps the join too.
  o.blocks = 0;
  const std::vector<size_t> starts = block_boundaries(segment(text, o, word_counter()));
  EXPECT_NE(std::find(starts.begin(), starts.end(), join), starts.end());
}

TEST(SegmentBlocks, GivesExactlyNBlocksAndStillHonoursTheCap) {
  std::string text = lines_of(subject_sentences(kBaking, 20, 3), subject_sentences(kSpace, 20, 4));
  SegmentOptions o;
  o.max_tokens = 100000;
  for (Method m : {Method::kC99, Method::kTextTiling, Method::kRecursive}) {
    o.method = m;
    o.texttiling.snap_to_lines = true;
    for (size_t n = 1; n <= 12; ++n) {
      o.blocks = n;
      const auto blocks = segment(text, o, word_counter());
      EXPECT_EQ(blocks.size(), n) << method_name(m);
      EXPECT_EQ(blocks_problem(text, blocks, o.max_tokens, word_counter()), "");
    }
  }
  // Two blocks cannot hold 40 sentences of 10 words under a 50-word cap: the cap wins.
  o.method = Method::kC99;
  o.blocks = 2;
  o.max_tokens = 50;
  const auto capped = segment(text, o, word_counter());
  EXPECT_GT(capped.size(), 2u);
  for (const Block& b : capped) EXPECT_LE(b.tokens, 50u);
  o.method = Method::kFixed;
  EXPECT_THROW(segment(text, o, word_counter()), InputError);
}

TEST(SegDataTopic, ProseSentencesDropHeadingsCodeAndLists) {
  const std::string doc =
      "Installing the Server\n\n"
      "The server runs on any host. It needs a disk of e.g. ten gigabytes. Start it right now!\n\n"
      "    $ server --start --port 8080 --verbose yes\n\n"
      "- a list item that is not running text at all\n\n"
      "Configuration\n"
      "The file lives in the home directory and is read at start, once only.\n";
  const auto s = prose_sentences(doc);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "The server runs on any host.");
  EXPECT_EQ(s[1], "It needs a disk of e.g. ten gigabytes.");
  EXPECT_EQ(s[2], "Start it right now!");
  EXPECT_EQ(s[3], "The file lives in the home directory and is read at start, once only.");
}

TEST(SegDataTopic, JoinsCarryNoFormattingCue) {
  for (TopicLayout layout : topic_layouts()) {
    data::SynthRng rng(5);
    std::vector<InstancePiece> pieces;
    const std::vector<std::vector<std::string>> vocab = {kBaking, kSpace, kBaking, kSpace};
    for (size_t d = 0; d < vocab.size(); ++d)
      for (RagItem& it :
           topic_items(subject_sentences(vocab[d], 60, d + 11), "pkg" + std::to_string(d),
                       {"doc" + std::to_string(d)}, layout, rng))
        pieces.push_back(it.piece);
    ASSERT_GT(pieces.size(), 4u) << topic_category(layout);
    std::string text;
    std::vector<size_t> boundaries;
    render_pieces(pieces, text, boundaries);
    const std::string sep = topic_separator(layout);
    // Every line is running text: it starts a sentence and ends one.
    size_t line_start = 0;
    std::vector<size_t> line_starts;
    while (line_start < text.size()) {
      size_t end = text.find('\n', line_start);
      if (end == std::string::npos) end = text.size();
      if (end > line_start) {
        line_starts.push_back(line_start);
        EXPECT_TRUE(text[line_start] >= 'A' && text[line_start] <= 'Z')
            << text.substr(line_start, 40);
        EXPECT_EQ(text[end - 1], '.');
      }
      line_start = end + 1;
    }
    if (layout != TopicLayout::kParagraphs) {
      EXPECT_EQ(text.find("\n\n"), std::string::npos) << topic_category(layout);
    }
    // At each join the whitespace before it is exactly the separator used inside the excerpts,
    // which also appears at lines that are not joins.
    size_t inner = 0;
    for (size_t b : boundaries) {
      ASSERT_GE(b, sep.size());
      EXPECT_EQ(text.substr(b - sep.size(), sep.size()), sep);
      EXPECT_NE(text[b - sep.size() - 1], '\n');
    }
    for (size_t ls : line_starts)
      if (ls > 0 && std::find(boundaries.begin(), boundaries.end(), ls) == boundaries.end() &&
          text.compare(ls - sep.size(), sep.size(), sep) == 0 && text[ls - sep.size() - 1] != '\n')
        ++inner;
    // The separator is no giveaway: it also ends lines inside excerpts (every line in
    // topic-lines, the paragraph breaks in the other two).
    if (layout == TopicLayout::kLines) {
      EXPECT_GT(inner, boundaries.size());
    } else {
      EXPECT_GT(inner, 0u) << topic_category(layout);
    }
  }
}

}  // namespace
}  // namespace blockattn::segment
