// Properties over many random texts, every method and random granularity settings: blocks are
// contiguous, non-overlapping, reproduce the input exactly, start on character boundaries, and
// never exceed max_tokens by an exact count.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "segment/segment.h"
#include "segment/validate.h"

namespace blockattn::segment {
namespace {

std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {
      "word",  "the", "Hello", "héllo", "wörld", "日本語", "😀",   "naïve", "x",
      "cafés", ".",   "!",     "?",     ",",     "\"",     "Dr.", "e.g.",  "。",
      "！",    "」",  "€",     "(",     ")",     "{",      "}",   ";"};
  static const std::vector<std::string> lines = {"def f(x):",  "    return x", "}",
                                                 "};",         "class C {",    "#include <x.h>",
                                                 "@decorator", "import os",    "func main() {",
                                                 "// comment", "end",          "  indented text",
                                                 "# Heading"};
  std::uniform_int_distribution<int> pick(0, 99);
  size_t target = std::uniform_int_distribution<size_t>(0, 8000)(rng);
  std::string out;
  while (out.size() < target) {
    int r = pick(rng);
    if (r < 55) {
      out += pieces[rng() % pieces.size()];
    } else if (r < 75) {
      out += " ";
    } else if (r < 82) {
      out += "\n";
    } else if (r < 86) {
      out += "\n\n";
    } else if (r < 92) {
      out += "\n" + lines[rng() % lines.size()] + "\n";
    } else if (r < 94) {
      out += std::string(rng() % 3000, 'x');  // a long unbroken run
    } else if (r < 96) {
      out += std::string(rng() % 2000, ' ');
    } else if (r < 97) {
      out += std::string(rng() % 500, '\n');
    } else if (r < 98) {
      out += "\t\r\n\f";
    } else {
      for (int i = rng() % 400; i > 0; --i) out += "字";
    }
  }
  return out;
}

// Non-additive and charging for whitespace, like a real subword tokenizer: runs of letters
// (and non-ASCII bytes) cost ceil(bytes / 4), other visible characters 1 each, whitespace runs
// of two or more ceil(len / 8).
size_t pseudo_bpe(std::string_view s) {
  size_t tokens = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t j = i + 1;
    if (std::isalpha(c) || c >= 0x80) {
      while (j < s.size() && (std::isalpha(static_cast<unsigned char>(s[j])) ||
                              static_cast<unsigned char>(s[j]) >= 0x80))
        ++j;
      tokens += (j - i + 3) / 4;
    } else if (std::isspace(c)) {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j - i > 1) tokens += (j - i + 7) / 8;
    } else {
      tokens += 1;
    }
    i = j;
  }
  return tokens;
}

TEST(SegmentProperty, RandomTextsEveryMethodAndGranularity) {
  std::mt19937 rng(20240607);
  const std::vector<TokenCounter> counters = {word_counter(), byte_counter(3), pseudo_bpe};
  const size_t min_max[] = {1, 2, 1};  // a single character never costs more than this
  const Method methods[] = {Method::kFixed,     Method::kRecursive,  Method::kSentence,
                            Method::kParagraph, Method::kTextTiling, Method::kLearned};
  int runs = 0;
  for (int iter = 0; iter < 120; ++iter) {
    std::string text = random_text(rng);
    for (size_t ci = 0; ci < counters.size(); ++ci) {
      const TokenCounter& count = counters[ci];
      for (Method m : methods) {
        SegmentOptions o;
        o.method = m;
        o.max_tokens = std::uniform_int_distribution<size_t>(min_max[ci], 300)(rng);
        o.min_tokens = std::uniform_int_distribution<size_t>(0, o.max_tokens)(rng) / 2;
        o.target_tokens = std::uniform_int_distribution<size_t>(min_max[ci], o.max_tokens)(rng);
        if (rng() % 4 == 0) o.target_tokens = 0;
        o.threshold = std::uniform_real_distribution<double>(0, 1)(rng);
        size_t window = o.target_tokens ? o.target_tokens : o.max_tokens;
        if (m == Method::kFixed && rng() % 2) o.overlap_tokens = rng() % window;
        uint32_t seed = rng();
        o.scorer = [seed](std::string_view, const std::vector<Candidate>& c) {
          std::mt19937 r(seed);
          std::vector<double> s;
          for (size_t i = 0; i < c.size(); ++i)
            s.push_back(std::uniform_real_distribution<double>(0, 1)(r));
          return s;
        };
        SCOPED_TRACE("iter " + std::to_string(iter) + " counter " + std::to_string(ci) + " " +
                     method_name(m) + " max " + std::to_string(o.max_tokens) + " min " +
                     std::to_string(o.min_tokens) + " size " + std::to_string(text.size()));
        Segmentation seg = segment_detailed(text, o, count);
        ASSERT_EQ(blocks_problem(text, seg.blocks, o.max_tokens, count, o.overlap_tokens > 0), "");
        std::string joined;
        if (o.overlap_tokens == 0) {
          for (const Block& b : seg.blocks) joined.append(text, b.begin, b.end - b.begin);
          ASSERT_EQ(joined, text);
        }
        // A block starts at 0, at a candidate of the type it reports, or at a forced cut.
        size_t ci2 = 0;
        for (const Block& b : seg.blocks) {
          if (b.cut == CutType::kStart) {
            EXPECT_EQ(b.begin, 0u);
            continue;
          }
          if (b.cut == CutType::kForced) continue;
          while (ci2 < seg.candidates.size() && seg.candidates[ci2].offset < b.begin) ++ci2;
          ASSERT_LT(ci2, seg.candidates.size());
          EXPECT_EQ(seg.candidates[ci2].offset, b.begin);
          EXPECT_EQ(seg.candidates[ci2].type, b.cut);
          EXPECT_EQ(seg.scores[ci2], b.score);
        }
        ++runs;
      }
    }
  }
  EXPECT_EQ(runs, 120 * 3 * 6);
}

TEST(SegmentProperty, CandidatesAreOrderedCharacterBoundaries) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 200; ++iter) {
    std::string text = random_text(rng);
    size_t prev = 0;
    for (const Candidate& c : find_candidates(text)) {
      ASSERT_GT(c.offset, prev);
      ASSERT_LT(c.offset, text.size());
      ASSERT_NE(static_cast<unsigned char>(text[c.offset]) & 0xC0, 0x80);
      ASSERT_TRUE(c.is(c.type));
      prev = c.offset;
    }
  }
}

}  // namespace
}  // namespace blockattn::segment
