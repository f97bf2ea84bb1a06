// Candidate cut points on small hand-made texts.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "segment/candidates.h"

namespace blockattn::segment {
namespace {

// "offset:type" for each candidate, for readable failures.
std::vector<std::pair<std::string, std::string>> cuts(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Candidate& c : find_candidates(text))
    out.emplace_back(text.substr(c.offset, 6), cut_type_name(c.type));
  return out;
}

using Cuts = std::vector<std::pair<std::string, std::string>>;

TEST(SegmentCandidates, ProseTypesAndPlacementAfterWhitespace) {
  std::string text = "Hello world. This is it.\nNext line here\n\n  Para two! ok";
  EXPECT_EQ(cuts(text), (Cuts{{"world.", "word"},
                              {"This i", "sentence"},
                              {"is it.", "word"},
                              {"it.\nNe", "word"},
                              {"Next l", "line"},
                              {"line h", "word"},
                              {"here\n\n", "word"},
                              {"Para t", "paragraph"},
                              {"two! o", "word"},
                              {"ok", "word"}}));
  // The cut lands after the whitespace: the next block starts with a visible character.
  for (const Candidate& c : find_candidates(text)) {
    EXPECT_GT(c.offset, 0u);
    EXPECT_LT(c.offset, text.size());
    EXPECT_NE(text[c.offset], ' ');
    EXPECT_NE(text[c.offset], '\n');
  }
}

TEST(SegmentCandidates, KindsCarryEveryApplicableType) {
  std::string text = "The end.\n\nNew part";
  auto c = find_candidates(text);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(text.substr(c[1].offset, 3), "New");
  EXPECT_EQ(c[1].type, CutType::kParagraph);
  EXPECT_TRUE(c[1].is(CutType::kSentence));
  EXPECT_TRUE(c[1].is(CutType::kLine));
  EXPECT_FALSE(c[1].is(CutType::kWord));
  EXPECT_EQ(c[0].kinds, cut_bit(CutType::kWord));
}

TEST(SegmentCandidates, SentenceEndsAndAbbreviations) {
  // Not sentence ends: Dr., an initial, e.g., a lowercase continuation.
  auto types = [](const std::string& t) {
    std::vector<std::string> out;
    for (const Candidate& c : find_candidates(t)) out.push_back(cut_type_name(c.type));
    return out;
  };
  EXPECT_EQ(types("Ask Dr. Who"), (std::vector<std::string>{"word", "word"}));
  EXPECT_EQ(types("By J. Smith"), (std::vector<std::string>{"word", "word"}));
  EXPECT_EQ(types("Use e.g. this"), (std::vector<std::string>{"word", "word"}));
  EXPECT_EQ(types("approx. five"), (std::vector<std::string>{"word"}));
  EXPECT_EQ(types("He said \"Stop.\" Then"),
            (std::vector<std::string>{"word", "word", "sentence"}));
  EXPECT_EQ(types("Why? Because"), (std::vector<std::string>{"sentence"}));
  EXPECT_EQ(types("Wait... Then"), (std::vector<std::string>{"sentence"}));
}

TEST(SegmentCandidates, CjkSentenceEndsNeedNoSpace) {
  std::string text = "今日は晴れ。明日は雨！「本当？」そう";
  auto c = find_candidates(text);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(text.substr(c[0].offset, 3), "明");
  EXPECT_EQ(text.substr(c[1].offset, 3), "「");
  EXPECT_EQ(text.substr(c[2].offset, 3), "そ");  // after the closing 」
  for (const Candidate& x : c) EXPECT_EQ(x.type, CutType::kSentence);
}

TEST(SegmentCandidates, CodeStructure) {
  std::string py =
      "import os\nimport sys\ndef f(x):\n    return x\ndef g():\n    pass\n@decorator\n@other\n"
      "class C:\n    y = 1\n";
  Cuts got = cuts(py);
  auto type_at = [&](const std::string& prefix) {
    for (auto& [at, type] : got)
      if (at.rfind(prefix, 0) == 0) return type;
    return std::string("none");
  };
  EXPECT_EQ(type_at("import"), "line");  // continues the import run
  EXPECT_EQ(type_at("def f("), "code");
  EXPECT_EQ(type_at("return"), "line");  // indented
  EXPECT_EQ(type_at("def g("), "code");  // after an indented body
  EXPECT_EQ(type_at("@decor"), "code");
  EXPECT_EQ(type_at("@other"), "line");
  EXPECT_EQ(type_at("class "), "line");  // follows a decorator line, not a new construct

  std::string c = "int f() {\n  return 1;\n}\nstatic int x;\n}\n  y;\n#include <a>\n#endif\nz";
  Cuts cg = cuts(c);
  ASSERT_GE(cg.size(), 6u);
  std::vector<std::string> types;
  for (auto& [at, type] : cg) types.push_back(at.substr(0, 3) + ":" + type);
  EXPECT_EQ(types, (std::vector<std::string>{"f()"
                                             ":word",
                                             "{\n "
                                             ":word",
                                             "ret:line", "1;\n:word", "}\ns:line", "sta:code",
                                             "int:word", "x;\n:word", "}\n :line", "y;\n:code",
                                             "#in:code", "<a>:word", "#en:line", "z:line"}));
}

TEST(SegmentCandidates, EdgesAndMultibyte) {
  EXPECT_TRUE(find_candidates("").empty());
  EXPECT_TRUE(find_candidates("   ").empty());
  EXPECT_TRUE(find_candidates("\n\nword").empty());   // leading whitespace: no cut
  EXPECT_TRUE(find_candidates("word \n\n").empty());  // trailing whitespace: no cut
  std::string text = "héllo wörld\r\n\r\nÜber\fnext";
  auto c = find_candidates(text);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].type, CutType::kWord);
  EXPECT_EQ(c[1].type, CutType::kParagraph);  // CRLF CRLF is a blank line
  EXPECT_EQ(text.substr(c[1].offset, 2), "Ü");
  EXPECT_EQ(c[2].type, CutType::kParagraph);  // form feed: a page break
}

}  // namespace
}  // namespace blockattn::segment
