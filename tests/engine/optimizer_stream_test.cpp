// AdamW (train/adamw.h) against the update written out directly, and SampleStream
// (train/sample_stream.h) resuming from a cursor.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "train/adamw.h"
#include "train/sample_stream.h"

namespace blockattn::train {
namespace {

TrainConfig optimizer_config() {
  TrainConfig t;
  t.beta1 = 0.9;
  t.beta2 = 0.95;
  t.eps = 1e-8;
  t.weight_decay = 0.1;
  t.grad_clip = 0;
  return t;
}

// One AdamW update of one value, written out: decoupled decay, moments, bias correction.
struct DirectAdamW {
  double w, m = 0, v = 0;
  bool decay;
  void step(const TrainConfig& t, int64_t step, double lr, double g) {
    const double n = static_cast<double>(step + 1);
    if (decay) w *= 1.0 - lr * t.weight_decay;
    m = t.beta1 * m + (1.0 - t.beta1) * g;
    v = t.beta2 * v + (1.0 - t.beta2) * g * g;
    const double m_hat = m / (1.0 - std::pow(t.beta1, n));
    const double v_hat = v / (1.0 - std::pow(t.beta2, n));
    w -= lr * m_hat / (std::sqrt(v_hat) + t.eps);
  }
};

TEST(AdamW, MatchesTheUpdateComputedDirectly) {
  const TrainConfig t = optimizer_config();
  torch::Tensor matrix = torch::tensor({0.5, -1.0, 2.0, 0.25, 0.0, -0.75}, torch::kFloat32)
                             .view({3, 2})
                             .clone();                               // [3, 2] decays
  torch::Tensor bias = torch::tensor({1.0, -2.0}, torch::kFloat32);  // [2] does not
  AdamW opt(t, {{"layer.weight", &matrix}, {"layer.bias", &bias}});
  std::vector<DirectAdamW> direct;
  for (int64_t i = 0; i < 6; ++i) direct.push_back({matrix.view(-1)[i].item<double>(), 0, 0, true});
  for (int64_t i = 0; i < 2; ++i) direct.push_back({bias[i].item<double>(), 0, 0, false});
  const std::vector<double> lrs = {1e-2, 3e-2, 5e-3};
  for (int64_t step = 0; step < 3; ++step) {
    // Gradients that change sign and size from step to step.
    std::vector<double> grads;
    for (int64_t i = 0; i < 8; ++i) grads.push_back(std::sin(1.0 + i + 2.0 * step) * (step + 1));
    matrix.mutable_grad() = torch::tensor(std::vector<double>(grads.begin(), grads.begin() + 6))
                                .to(torch::kFloat32)
                                .view({3, 2});
    bias.mutable_grad() =
        torch::tensor(std::vector<double>(grads.begin() + 6, grads.end())).to(torch::kFloat32);
    opt.accumulate_grads();
    opt.step(step, lrs[step]);
    for (size_t i = 0; i < direct.size(); ++i) direct[i].step(t, step, lrs[step], grads[i]);
  }
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_NEAR(matrix.view(-1)[i].item<double>(), direct[i].w, 1e-6) << "weight " << i;
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_NEAR(bias[i].item<double>(), direct[6 + i].w, 1e-6) << "bias " << i;
  // The decay made a difference (the comparison can fail): without it the matrix would differ.
  DirectAdamW undecayed{0.5, 0, 0, false}, decayed{0.5, 0, 0, true};
  for (int64_t step = 0; step < 3; ++step) {
    const double g = std::sin(1.0 + 2.0 * step) * (step + 1);
    undecayed.step(t, step, lrs[step], g);
    decayed.step(t, step, lrs[step], g);
  }
  EXPECT_GT(std::abs(undecayed.w - decayed.w), 1e-4);
}

TEST(AdamW, ClipScalesTheGlobalNormToTheLimit) {
  TrainConfig t = optimizer_config();
  t.grad_clip = 1.0;
  torch::Tensor a = torch::zeros({2, 2}), b = torch::zeros({2});  // [2, 2], [2]
  AdamW opt(t, {{"a", &a}, {"b", &b}});
  a.mutable_grad() = torch::full({2, 2}, 3.0);  // squared sum 36
  b.mutable_grad() = torch::full({2}, 4.0);     // squared sum 32: global norm sqrt(68)
  const double norm = opt.clip_grads().item<double>();
  EXPECT_NEAR(norm, std::sqrt(68.0), 1e-5);
  std::vector<torch::Tensor> grads = opt.gradients();
  const double clipped =
      std::sqrt(grads[0].pow(2).sum().item<double>() + grads[1].pow(2).sum().item<double>());
  EXPECT_NEAR(clipped, 1.0, 1e-5);
  EXPECT_NEAR(grads[0][0][0].item<double>(), 3.0 / std::sqrt(68.0), 1e-5);
}

SampleSet numbered_samples(size_t n) {
  SampleSet set;
  for (size_t i = 0; i < n; ++i) {
    BlockSample s;
    // Lengths 2..4 content tokens, so rows hold different numbers of samples.
    s.blocks = {std::vector<int32_t>(1 + i % 3, static_cast<int32_t>(i)), {7}};
    set.content_tokens += s.content_tokens();
    set.samples.push_back(std::move(s));
  }
  return set;
}

TEST(SampleStream, EachEpochVisitsEverySampleOnceInItsOwnOrder) {
  const SampleSet set = numbered_samples(20);
  const SampleStream stream(set, 5);
  std::vector<size_t> epoch0, epoch1;
  for (uint64_t i = 0; i < 20; ++i) epoch0.push_back(stream.at(i));
  for (uint64_t i = 20; i < 40; ++i) epoch1.push_back(stream.at(i));
  EXPECT_EQ(std::set<size_t>(epoch0.begin(), epoch0.end()).size(), 20u);
  EXPECT_EQ(std::set<size_t>(epoch1.begin(), epoch1.end()).size(), 20u);
  EXPECT_NE(epoch0, epoch1);
}

TEST(SampleStream, ResumingAtACursorGivesTheRowsOfAnUninterruptedStream) {
  const SampleSet set = numbered_samples(13);
  const SampleStream uninterrupted(set, 11);
  uint64_t cursor = 0;
  std::vector<std::vector<std::vector<uint64_t>>> steps;
  for (int s = 0; s < 6; ++s) steps.push_back(uninterrupted.next_rows(cursor, 3, 6));
  for (int stop = 1; stop < 6; ++stop) {
    // A fresh stream (a new process) fed only the cursor saved after step `stop - 1`.
    uint64_t saved = 0;
    const SampleStream before(set, 11);
    for (int s = 0; s < stop; ++s) before.next_rows(saved, 3, 6);
    const SampleStream resumed(set, 11);
    for (int s = stop; s < 6; ++s) {
      const auto rows = resumed.next_rows(saved, 3, 6);
      EXPECT_EQ(rows, steps[s]) << "stopped after " << stop << ", step " << s;
      for (const auto& row : rows)
        for (uint64_t pos : row) EXPECT_EQ(resumed.at(pos), uninterrupted.at(pos));
    }
  }
  EXPECT_EQ(cursor, steps.back().back().back() + 1);
  // Rows respect the token budget (6) but always hold at least one sample.
  for (const auto& step : steps)
    for (const auto& row : step) {
      ASSERT_FALSE(row.empty());
      size_t tokens = 0;
      for (uint64_t pos : row) tokens += set.samples[uninterrupted.at(pos)].content_tokens();
      EXPECT_TRUE(tokens <= 6 || row.size() == 1);
    }
  // Another seed, another order (the comparison can fail).
  const SampleStream other(set, 12);
  std::vector<size_t> a, b;
  for (uint64_t i = 0; i < 13; ++i) a.push_back(uninterrupted.at(i)), b.push_back(other.at(i));
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace blockattn::train
