// The fast paths of training forwards against the simple ones: attention by query spans against
// the dense mask, activation checkpointing against the plain backward, logits of a few rows
// against the full logits. fp32 on the CPU (the CUDA suite repeats the span comparison in bf16).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "block_sample_util.h"
#include "blockattn/error.h"
#include "engine_test_util.h"
#include "expect_error.h"
#include "model/lora.h"
#include "model/model.h"
#include "train/block_layout.h"

namespace blockattn {
namespace {

std::shared_ptr<Model> trainable(const std::string& arch) {
  ModelLoadOptions lo;
  lo.device = "cpu";
  lo.dtype = "float32";
  auto m = Model::load(test::model_fixture(arch), lo);
  for (auto& [name, t] : m->weights().named(m->config())) t->set_requires_grad(true);
  return m;
}

// Three random samples with sinks and query copies, packed as {{0, 1}, {2}} (row 1 padded).
struct Packed {
  std::vector<BlockSample> samples;
  std::vector<SampleLayout> layouts;
  train::PackedBatch batch;
  torch::Tensor real;  // [R*T] bool: not padding
};

Packed random_batch(uint32_t seed) {
  std::mt19937 rng(seed);
  Packed p;
  for (int i = 0; i < 3; ++i) p.samples.push_back(test::random_sample(rng, 5, 7));
  std::vector<const BlockSample*> ptrs;
  for (const BlockSample& s : p.samples) {
    LayoutOptions o = test::random_options(rng, s);
    o.block_mode = true;  // every row exercises prefixes
    p.layouts.push_back(lay_out_sample(s, o));
    ptrs.push_back(&s);
  }
  const std::vector<std::vector<size_t>> rows = {{0, 1}, {2}};
  p.batch = train::pack_rows(p.layouts, ptrs, rows, torch::kCPU);
  const int64_t T = p.batch.ids.size(1);
  p.real = torch::zeros({2 * T}, torch::kBool);
  for (int64_t r = 0; r < 2; ++r) {
    int64_t used = 0;
    for (size_t i : rows[static_cast<size_t>(r)])
      used += static_cast<int64_t>(p.layouts[i].ids.size());
    p.real.narrow(0, r * T, used).fill_(true);
  }
  return p;
}

// Every trainable tensor's gradient after backward of `loss`, by name (and cleared).
std::map<std::string, torch::Tensor> take_grads(
    const std::vector<std::pair<std::string, torch::Tensor*>>& params) {
  std::map<std::string, torch::Tensor> g;
  for (auto& [name, t] : params) {
    if (t->grad().defined()) g[name] = t->grad().clone();
    t->mutable_grad() = torch::Tensor();
  }
  return g;
}

void expect_same_grads(const std::map<std::string, torch::Tensor>& a,
                       const std::map<std::string, torch::Tensor>& b, double tol,
                       const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (auto& [name, g] : a) {
    ASSERT_TRUE(b.count(name)) << what << ": " << name;
    EXPECT_LE(test::max_abs_diff(g, b.at(name)), tol) << what << ": " << name;
  }
}

// Σ over the batch's supervised predictions of their cross-entropy, from logits [R*T, V].
torch::Tensor supervised_loss(const train::PackedBatch& b, const torch::Tensor& flat_logits) {
  return torch::nn::functional::cross_entropy(
      flat_logits.index_select(0, b.student_flat), b.targets,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

class SpanAttentionArch : public ::testing::TestWithParam<std::string> {};

TEST_P(SpanAttentionArch, EqualsTheMaskedPathOnLogitsAndGradients) {
  auto model = trainable(GetParam());
  auto params = model->weights().named(model->config());
  for (uint32_t seed : {1u, 2u, 3u}) {
    Packed p = random_batch(seed);
    const train::PackedBatch& b = p.batch;
    torch::Tensor masked = model->forward_train(b.ids, b.mask, b.positions);  // [R, T, V]
    const int64_t V = masked.size(-1);
    supervised_loss(b, masked.view({-1, V})).backward();
    auto masked_grads = take_grads(params);

    Model::TrainInputs in;
    in.ids = b.ids;
    in.positions = b.positions;
    in.spans = &b.spans;
    torch::Tensor spans = model->forward_train(in);  // [R, T, V]
    supervised_loss(b, spans.view({-1, V})).backward();
    auto span_grads = take_grads(params);

    torch::Tensor real = p.real.nonzero().view({-1});  // padding outputs are unspecified
    EXPECT_LE(test::max_abs_diff(masked.view({-1, V}).index_select(0, real),
                                 spans.view({-1, V}).index_select(0, real)),
              1e-4)
        << "seed " << seed;
    expect_same_grads(masked_grads, span_grads, 1e-4, "seed " + std::to_string(seed));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SpanAttentionArch, ::testing::ValuesIn(test::fixture_archs()));

TEST(SpanAttention, PlanRefusesSpansThatDoNotTileTheBatch) {
  EXPECT_CONTAINS(test::error_of<InputError>([] {
                    plan_span_attention({{0, 3, 0, 0}, {4, 2, 0, 2}}, 6, torch::kCPU);
                  }),
                  "does not continue");
  EXPECT_CONTAINS(test::error_of<InputError>([] {
                    plan_span_attention({{0, 3, 0, 0}, {3, 2, 1, 3}}, 5, torch::kCPU);
                  }),
                  "prefix does not end before it");
  EXPECT_CONTAINS(test::error_of<InputError>([] {
                    plan_span_attention({{0, 3, 0, 0}}, 5, torch::kCPU);
                  }),
                  "cover 3 of 5 tokens");
  auto model = trainable("llama");
  Packed p = random_batch(4);
  Model::TrainInputs in;
  in.ids = p.batch.ids.narrow(0, 0, 1);
  in.spans = &p.batch.spans;
  EXPECT_CONTAINS(test::error_of<InputError>([&] { model->forward_train(in); }),
                  "span attention needs");
}

TEST(TrainInputs, LogitRowsAreThoseRowsOfTheFullLogits) {
  auto model = trainable("qwen2");
  torch::NoGradGuard no_grad;
  Packed p = random_batch(5);
  Model::TrainInputs in;
  in.ids = p.batch.ids;
  in.positions = p.batch.positions;
  in.spans = &p.batch.spans;
  torch::Tensor full = model->forward_train(in);  // [R, T, V]
  in.logit_rows = p.batch.student_flat;
  torch::Tensor rows = model->forward_train(in);  // [N, V]
  ASSERT_EQ(rows.size(0), p.batch.predictions);
  EXPECT_LE(test::max_abs_diff(
                rows, full.view({-1, full.size(-1)}).index_select(0, p.batch.student_flat)),
            1e-5);
}

// Loss and gradients with and without activation checkpointing, for the three attention forms.
TEST(ActivationCheckpointing, GivesTheSameGradientsForEveryAttentionForm) {
  auto model = trainable("qwen3");
  auto params = model->weights().named(model->config());
  Packed p = random_batch(6);
  const train::PackedBatch& b = p.batch;
  for (const char* form : {"causal", "mask", "spans"}) {
    std::map<std::string, torch::Tensor> grads[2];
    double loss[2];
    for (int ckpt = 0; ckpt < 2; ++ckpt) {
      Model::TrainInputs in;
      in.ids = b.ids;
      if (std::string(form) != "causal") in.positions = b.positions;
      if (std::string(form) == "mask") in.mask = b.mask;
      if (std::string(form) == "spans") in.spans = &b.spans;
      in.checkpoint_layers = ckpt == 1;
      torch::Tensor logits = model->forward_train(in);  // [R, T, V]
      torch::Tensor l = supervised_loss(b, logits.view({-1, logits.size(-1)}));
      l.backward();
      loss[ckpt] = l.item<double>();
      grads[ckpt] = take_grads(params);
    }
    EXPECT_NEAR(loss[0], loss[1], 1e-5 * std::abs(loss[0])) << form;
    expect_same_grads(grads[0], grads[1], 1e-5, form);
  }
}

// With a LoRA adapter whose dropout draws random masks: the recomputation replays them.
TEST(ActivationCheckpointing, ReplaysLoraDropoutAndTrainsOnlyTheAdapter) {
  auto model = trainable("mistral");
  for (auto& [name, t] : model->weights().named(model->config())) t->set_requires_grad(false);
  LoraConfig c;
  c.rank = 3;
  c.alpha = 6;
  c.dropout = 0.3;
  c.targets = {"q_proj", "v_proj", "o_proj", "up_proj", "down_proj"};
  auto adapter =
      std::make_shared<LoraAdapter>(new_lora_adapter(model->config(), c, torch::kCPU, 9, 0.05));
  for (auto& [name, t] : adapter->named()) t->set_requires_grad(true);
  model->attach_adapter(adapter);
  auto params = adapter->named();
  Packed p = random_batch(7);
  std::map<std::string, torch::Tensor> grads[2];
  float next_draw[2];
  for (int ckpt = 0; ckpt < 2; ++ckpt) {
    torch::manual_seed(11);
    Model::TrainInputs in;
    in.ids = p.batch.ids;
    in.positions = p.batch.positions;
    in.spans = &p.batch.spans;
    in.logit_rows = p.batch.student_flat;
    in.checkpoint_layers = ckpt == 1;
    torch::Tensor logits = model->forward_train(in);  // [N, V]
    torch::nn::functional::cross_entropy(logits, p.batch.targets).backward();
    grads[ckpt] = take_grads(params);
    next_draw[ckpt] = torch::rand({1}).item<float>();
  }
  for (auto& [name, t] : model->weights().named(model->config()))
    EXPECT_FALSE(t->grad().defined()) << name << " is frozen";
  ASSERT_EQ(grads[0].size(), params.size());
  expect_same_grads(grads[0], grads[1], 1e-5, "LoRA dropout 0.3");
  // The generator ends where the plain run leaves it: the replay gave its state back.
  EXPECT_EQ(next_draw[0], next_draw[1]);
}

}  // namespace
}  // namespace blockattn
