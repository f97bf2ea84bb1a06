// Sampler: greedy, top-k, top-p and seed reproducibility (engine/sampler.h).
#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "blockattn/error.h"

namespace blockattn {
namespace {

// Logits whose softmax is exactly `probs`.
torch::Tensor logits_of(const std::vector<double>& probs) {
  std::vector<double> logs;
  for (double p : probs) logs.push_back(std::log(p));
  return torch::tensor(logs, torch::kFloat64).to(torch::kFloat32);  // [vocab]
}

std::map<int32_t, int> draw_counts(const SamplingParams& params, const torch::Tensor& logits,
                                   int draws) {
  Sampler sampler(params);
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[sampler.next(logits)];
  return counts;
}

const std::vector<double> kProbs = {0.05, 0.5, 0.15, 0.3};  // most likely: 1, 3, 2, 0

TEST(Sampler, GreedyIsTheArgmaxWhateverTheShape) {
  Sampler greedy(SamplingParams{});
  EXPECT_EQ(greedy.next(logits_of(kProbs)), 1);
  EXPECT_EQ(greedy.next(logits_of(kProbs).unsqueeze(0)), 1);  // [1, vocab]
}

TEST(Sampler, SameSeedSameTokensOtherSeedOtherTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  const torch::Tensor logits = logits_of(kProbs);
  Sampler a(p), b(p);
  std::vector<int32_t> first, second, other;
  for (int i = 0; i < 200; ++i) first.push_back(a.next(logits)), second.push_back(b.next(logits));
  EXPECT_EQ(first, second);
  p.seed = 43;
  Sampler c(p);
  for (int i = 0; i < 200; ++i) other.push_back(c.next(logits));
  EXPECT_NE(first, other);
}

TEST(Sampler, TopKDrawsOnlyTheKMostLikelyTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 2;
  const std::map<int32_t, int> counts = draw_counts(p, logits_of(kProbs), 4000);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_TRUE(counts.count(1) && counts.count(3));
  // Renormalised over the two: 0.5 / 0.8.
  EXPECT_NEAR(counts.at(1) / 4000.0, 0.625, 0.03);
  p.top_k = 1;
  EXPECT_EQ(draw_counts(p, logits_of(kProbs), 100), (std::map<int32_t, int>{{1, 100}}));
  p.top_k = 100;  // larger than the vocabulary: every token can come
  EXPECT_EQ(draw_counts(p, logits_of(kProbs), 4000).size(), 4u);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingTheMass) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.5 + 0.3: tokens 1 and 3
  std::map<int32_t, int> counts = draw_counts(p, logits_of(kProbs), 4000);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts.at(1) / 4000.0, 0.625, 0.03);
  p.top_p = 0.9f;  // 0.8 < 0.9 <= 0.95: three tokens, never token 0
  counts = draw_counts(p, logits_of(kProbs), 4000);
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts.count(0), 0u);
  p.top_p = 0.1f;  // below the top token's own mass: that token alone
  EXPECT_EQ(draw_counts(p, logits_of(kProbs), 100), (std::map<int32_t, int>{{1, 100}}));
}

TEST(Sampler, LowTemperatureSharpensHighFlattens) {
  SamplingParams p;
  p.temperature = 0.05f;
  EXPECT_EQ(draw_counts(p, logits_of(kProbs), 200), (std::map<int32_t, int>{{1, 200}}));
  p.temperature = 100.0f;  // nearly uniform
  const std::map<int32_t, int> counts = draw_counts(p, logits_of(kProbs), 8000);
  ASSERT_EQ(counts.size(), 4u);
  for (const auto& [token, n] : counts) EXPECT_NEAR(n / 8000.0, 0.25, 0.03) << token;
}

TEST(Sampler, RejectsOutOfRangeParameters) {
  SamplingParams p;
  p.temperature = -1.0f;
  EXPECT_THROW(Sampler{p}, InputError);
  p = SamplingParams{};
  p.top_k = -1;
  EXPECT_THROW(Sampler{p}, InputError);
  p = SamplingParams{};
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler{p}, InputError);
  p.top_p = 1.5f;
  EXPECT_THROW(Sampler{p}, InputError);
}

}  // namespace
}  // namespace blockattn
