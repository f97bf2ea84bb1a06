// Answer-span scores (eval/answer_match.h) against hand-worked examples.
#include <gtest/gtest.h>

#include "eval/answer_match.h"

namespace blockattn::eval {
namespace {

TEST(AnswerMatch, Tokens) {
  EXPECT_EQ(answer_tokens("  The Alder-Club!  "), (std::vector<std::string>{"alder", "club"}));
  EXPECT_EQ(answer_tokens("a an the"), std::vector<std::string>{});
  EXPECT_EQ(answer_tokens("14 March 1987."), (std::vector<std::string>{"14", "march", "1987"}));
}

TEST(AnswerMatch, ExactMatch) {
  EXPECT_TRUE(answer_exact_match("Nora Quill", "nora quill."));
  EXPECT_TRUE(answer_exact_match("the old mill", "Old Mill"));
  EXPECT_FALSE(answer_exact_match("Nora", "Nora Quill"));
  EXPECT_FALSE(answer_exact_match("48213", "48231"));
  EXPECT_TRUE(answer_exact_match("", ""));
}

TEST(AnswerMatch, TokenF1HandWorked) {
  // pred {nora}, ref {nora, quill}: P = 1, R = 1/2, F1 = 2/3.
  EXPECT_NEAR(answer_token_f1("Nora", "Nora Quill"), 2.0 / 3.0, 1e-12);
  // pred {340, tonnes, total}, ref {340, tonnes}: P = 2/3, R = 1, F1 = 0.8.
  EXPECT_NEAR(answer_token_f1("340 tonnes total", "340 tonnes"), 0.8, 1e-12);
  // Multiplicity: pred {red, red, gate}, ref {red, lantern, gate}: common 2, P = R = 2/3.
  EXPECT_NEAR(answer_token_f1("red red gate", "red lantern gate"), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(answer_token_f1("12 June 2004", "12 june 2004"), 1.0);
  EXPECT_DOUBLE_EQ(answer_token_f1("48213", "51102"), 0.0);
  EXPECT_DOUBLE_EQ(answer_token_f1("", "x"), 0.0);
  EXPECT_DOUBLE_EQ(answer_token_f1("the", "a"), 1.0);  // both empty after normalisation
}

}  // namespace
}  // namespace blockattn::eval
