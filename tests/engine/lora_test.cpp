// LoRA adapters (model/lora.h): the switch-off is the base bit for bit, merged equals unmerged,
// files round-trip, wrong adapters are refused by name, gradients are right, and the engine
// serves an adapter in block mode while full mode stays the base.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "core/io.h"
#include "engine_test_util.h"
#include "expect_error.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/model_io.h"

namespace blockattn {
namespace {

const std::vector<std::string> kAllTargets = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                              "gate_proj", "up_proj", "down_proj"};

std::shared_ptr<Model> load_cpu(const std::string& arch) {
  ModelLoadOptions lo;
  lo.device = "cpu";
  lo.dtype = "float32";
  return Model::load(test::model_fixture(arch), lo);
}

LoraConfig all_targets(int64_t rank = 4) {
  LoraConfig c;
  c.rank = rank;
  c.alpha = 8;
  c.targets = kAllTargets;
  return c;
}

torch::Tensor logits_of(const Model& m, const torch::Tensor& ids) {  // [T] -> [T, V]
  return m.forward_train(ids.unsqueeze(0))[0];
}

torch::Tensor sample_ids(const Model& m) {  // [24]
  auto v = test::ids_range(5, 24, static_cast<int32_t>(m.config().vocab_size));
  return torch::tensor(std::vector<int64_t>(v.begin(), v.end()), torch::kInt64);
}

class LoraArch : public ::testing::TestWithParam<std::string> {};

TEST_P(LoraArch, ZeroInitialisedAdapterAndBaseOnlyScopeGiveTheBaseBitForBit) {
  auto model = load_cpu(GetParam());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = sample_ids(*model);
  torch::Tensor base = logits_of(*model, ids);  // [T, V]

  model->attach_adapter(std::make_shared<LoraAdapter>(
      new_lora_adapter(model->config(), all_targets(), torch::kCPU, 1)));
  EXPECT_TRUE(torch::equal(logits_of(*model, ids), base)) << "B = 0 must leave the output as is";

  model->attach_adapter(std::make_shared<LoraAdapter>(
      new_lora_adapter(model->config(), all_targets(), torch::kCPU, 1, /*b_std=*/0.05)));
  torch::Tensor adapted = logits_of(*model, ids);
  EXPECT_GT(test::max_abs_diff(adapted, base), 1e-3) << "a non-zero B must change the output";
  {
    Model::BaseOnly off;
    EXPECT_TRUE(torch::equal(logits_of(*model, ids), base));
    KVCache cache = model->new_cache(64);
    torch::Tensor last = model->forward(ids, cache, LogitsFor::kLast);  // [1, V]
    EXPECT_LT(test::max_abs_diff(last[0], base[-1]), 1e-4);
  }
  EXPECT_TRUE(torch::equal(logits_of(*model, ids), adapted)) << "the scope ended";
  model->detach_adapter();
  EXPECT_TRUE(torch::equal(logits_of(*model, ids), base));
}

TEST_P(LoraArch, MergedWeightsEqualTheUnmergedAdapterOnEveryForward) {
  auto model = load_cpu(GetParam());
  torch::NoGradGuard no_grad;
  LoraAdapter adapter = new_lora_adapter(model->config(), all_targets(), torch::kCPU, 2, 0.05);
  auto merged = model->merged_with(adapter);
  EXPECT_NE(merged->fingerprint(), model->fingerprint());
  model->attach_adapter(std::make_shared<LoraAdapter>(adapter));
  torch::Tensor ids = sample_ids(*model);
  torch::Tensor want = logits_of(*model, ids);  // [T, V], unmerged
  EXPECT_LT(test::max_abs_diff(logits_of(*merged, ids), want), 1e-4);
  // The inference paths (cache, fused projections) of the merged copy.
  merged->fuse_projections();
  KVCache cache = merged->new_cache(64);
  torch::Tensor all = merged->forward(ids, cache, LogitsFor::kAll);  // [T, V]
  EXPECT_LT(test::max_abs_diff(all, want), 1e-4);
  // Unmerged through the cache path too (decode graphs are off with an adapter attached).
  KVCache cache2 = model->new_cache(64);
  EXPECT_LT(test::max_abs_diff(model->forward(ids, cache2, LogitsFor::kAll), want), 1e-4);
}

// Golden logits of transformers + PEFT (scripts/device/make_lora_fixtures.py on the GPU machine):
// an adapter PEFT made and saved, loaded here; and an adapter we wrote (`blockattn adapter init`),
// loaded by PEFT there.
TEST_P(LoraArch, LogitsMatchPeftBothWays) {
  const std::string dir = test::fixture("lora/tiny-" + GetParam());
  auto model = load_cpu(GetParam());
  torch::NoGradGuard no_grad;
  torch::Tensor ids = test::read_tensor(dir + "/reference.safetensors", "input_ids");  // [T]
  for (const char* which : {"peft", "ours"}) {
    torch::Tensor want =  // [T, V]
        test::read_tensor(dir + "/reference.safetensors", std::string("logits_") + which);
    LoraAdapter adapter = load_lora_adapter(dir + "/" + which, model->config(), torch::kCPU);
    model->attach_adapter(std::make_shared<LoraAdapter>(adapter));
    EXPECT_LT(test::max_abs_diff(logits_of(*model, ids), want), 1e-3) << which << " unmerged";
    {
      Model::BaseOnly off;
      torch::Tensor base =
          test::read_tensor(dir + "/reference.safetensors", "logits_base");  // [T, V]
      EXPECT_LT(test::max_abs_diff(logits_of(*model, ids), base), 1e-3) << which << " off";
      EXPECT_GT(test::max_abs_diff(want, base), 0.1) << which << " changes the output";
    }
    model->detach_adapter();
    EXPECT_LT(test::max_abs_diff(logits_of(*model->merged_with(adapter), ids), want), 1e-3)
        << which << " merged";
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, LoraArch, ::testing::ValuesIn(test::fixture_archs()),
                         [](const auto& info) { return info.param; });

TEST(Lora, FilesRoundTripInPeftLayout) {
  auto model = load_cpu("qwen3");
  LoraConfig c = all_targets(3);
  c.alpha = 5;
  c.rslora = true;
  c.dropout = 0.1;
  LoraAdapter a = new_lora_adapter(model->config(), c, torch::kCPU, 3, 0.05);
  test::TempDir tmp;
  save_lora_adapter(a, tmp / "adapter");
  LoraAdapter b = load_lora_adapter(tmp / "adapter", model->config(), torch::kCPU);
  EXPECT_EQ(b.config.rank, 3);
  EXPECT_DOUBLE_EQ(b.config.alpha, 5);
  EXPECT_TRUE(b.config.rslora);
  EXPECT_DOUBLE_EQ(b.config.scale(), 5 / std::sqrt(3.0));
  EXPECT_DOUBLE_EQ(b.config.dropout, 0.1);
  EXPECT_EQ(b.config.targets, kAllTargets);
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  auto na = a.named(), nb = b.named();
  ASSERT_EQ(na.size(), nb.size());
  ASSERT_EQ(na.size(), static_cast<size_t>(2 * 7 * model->config().num_layers));
  for (size_t i = 0; i < na.size(); ++i) {
    EXPECT_EQ(na[i].first, nb[i].first);
    EXPECT_TRUE(torch::equal(*na[i].second, *nb[i].second)) << na[i].first;
  }
  EXPECT_EQ(na[0].first, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(na[9].first, "base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight");
}

TEST(Lora, ConfigAcceptsPeftAndOurKeys) {
  LoraConfig p = LoraConfig::from_json(
      R"({"r": 8, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"]})",
      "x");
  EXPECT_EQ(p.rank, 8);
  EXPECT_DOUBLE_EQ(p.scale(), 4);
  EXPECT_EQ(p.targets, (std::vector<std::string>{"q_proj", "v_proj"}));
  LoraConfig o = LoraConfig::from_json(R"({"rank": 2, "alpha": 4, "targets": "all-linear"})", "x");
  EXPECT_EQ(o.rank, 2);
  EXPECT_EQ(o.targets, kAllTargets);
  EXPECT_CONTAINS(test::error_of<InputError>([] { LoraConfig::from_json(R"({"r": 0})", "cfg"); }),
                  "rank must be at least 1");
  EXPECT_CONTAINS(test::error_of<InputError>(
                      [] { LoraConfig::from_json(R"({"target_modules": ["lm_head"]})", "cfg"); }),
                  "unknown LoRA target module 'lm_head'");
  EXPECT_CONTAINS(test::error_of<InputError>(
                      [] { LoraConfig::from_json(R"({"target_modules": ".*proj"})", "cfg"); }),
                  "is a pattern");
  EXPECT_CONTAINS(test::error_of<InputError>([] { LoraConfig::from_json(R"({"r": "8"})", "cfg"); }),
                  "'r' must be a number");
}

TEST(Lora, WrongAdaptersAreRefusedNamingTheTensor) {
  auto llama = load_cpu("llama");
  auto qwen3 = load_cpu("qwen3");  // head_dim 32: other q/k/v/o shapes than llama's
  test::TempDir tmp;
  LoraAdapter a = new_lora_adapter(llama->config(), all_targets(), torch::kCPU, 4, 0.05);
  save_lora_adapter(a, tmp / "llama");
  // Another base: shapes do not fit.
  EXPECT_CONTAINS(test::error_of<FormatError>(
                      [&] { load_lora_adapter(tmp / "llama", qwen3->config(), torch::kCPU); }),
                  "self_attn.q_proj.lora_B.weight' has shape [64, 4], the model needs [128, 4]");
  EXPECT_CONTAINS(
      test::error_of<InputError>([&] { qwen3->attach_adapter(std::make_shared<LoraAdapter>(a)); }),
      "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight has shape");
  // A config naming a module the files lack, an unknown module, an unsupported feature.
  auto rewrite_config = [&](const std::string& from, const std::string& to) {
    std::string text = read_file(tmp / "llama/adapter_config.json");
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    write_file_atomic(tmp / "llama/adapter_config.json", text);
  };
  rewrite_config("\"r\": 4", "\"r\": 4, \"lora_extra\": 1");
  rewrite_config("\"down_proj\"", "\"down_proj\", \"embed_tokens\"");
  EXPECT_CONTAINS(test::error_of<FormatError>(
                      [&] { load_lora_adapter(tmp / "llama", llama->config(), torch::kCPU); }),
                  "unknown LoRA target module 'embed_tokens'");
  rewrite_config("\"down_proj\", \"embed_tokens\"", "\"down_proj\"");
  rewrite_config("\"use_dora\": false", "\"use_dora\": true");
  EXPECT_CONTAINS(test::error_of<FormatError>(
                      [&] { load_lora_adapter(tmp / "llama", llama->config(), torch::kCPU); }),
                  "use_dora (DoRA) is not supported");
  rewrite_config("\"use_dora\": true", "\"use_dora\": false");
  // Targets the file does not hold.
  LoraConfig fewer = all_targets();
  fewer.targets = {"q_proj"};
  LoraAdapter q_only = new_lora_adapter(llama->config(), fewer, torch::kCPU, 5);
  save_lora_adapter(q_only, tmp / "q");
  std::string cfg = read_file(tmp / "q/adapter_config.json");
  cfg.replace(cfg.find("\"q_proj\""), 8, "\"q_proj\", \"v_proj\"");
  write_file_atomic(tmp / "q/adapter_config.json", cfg);
  EXPECT_CONTAINS(test::error_of<FormatError>(
                      [&] { load_lora_adapter(tmp / "q", llama->config(), torch::kCPU); }),
                  "no tensor 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight'");
  EXPECT_CONTAINS(test::error_of<IoError>(
                      [&] { load_lora_adapter(tmp / "none", llama->config(), torch::kCPU); }),
                  "does not exist");
}

TEST(Lora, GradientsReachTheAdapterAndMatchFiniteDifferences) {
  auto model = load_cpu("mistral");
  for (auto& [name, t] : model->weights().named(model->config())) t->set_requires_grad(false);
  auto adapter = std::make_shared<LoraAdapter>(
      new_lora_adapter(model->config(), all_targets(2), torch::kCPU, 6, 0.05));
  for (auto& [name, t] : adapter->named()) t->set_requires_grad(true);
  model->attach_adapter(adapter);
  torch::Tensor ids = sample_ids(*model);
  auto loss_of = [&] {
    torch::Tensor logits = logits_of(*model, ids);  // [T, V]
    return torch::nn::functional::cross_entropy(logits.narrow(0, 0, 23), ids.narrow(0, 1, 23));
  };
  torch::Tensor loss = loss_of();
  loss.backward();
  for (auto& [name, t] : model->weights().named(model->config()))
    EXPECT_FALSE(t->grad().defined()) << name << " is frozen";
  for (auto& [name, t] : adapter->named()) {
    ASSERT_TRUE(t->grad().defined()) << name;
    EXPECT_GT(t->grad().abs().max().item<double>(), 0) << name;
  }
  // One element of a B and of an A against a central difference (float64 would be exact; in
  // float32 the difference is good to ~1e-3 relative).
  for (auto [layer, target, b_matrix] :
       {std::tuple{0, LoraTarget::kDown, true}, std::tuple{1, LoraTarget::kQ, false}}) {
    torch::Tensor& m = b_matrix ? adapter->layers[layer][static_cast<int>(target)].b
                                : adapter->layers[layer][static_cast<int>(target)].a;
    const double analytic = m.grad()[0][1].item<double>();
    const double h = 1e-2;
    double up, down;
    {
      torch::NoGradGuard no_grad;
      m[0][1] += h;
      up = loss_of().item<double>();
      m[0][1] -= 2 * h;
      down = loss_of().item<double>();
      m[0][1] += h;
    }
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(analytic, numeric, 2e-3 + 2e-2 * std::abs(numeric))
        << peft_tensor_name(layer, target, b_matrix);
  }
}

TEST(Lora, EngineServesTheAdapterInBlockModeAndTheBaseInFullMode) {
  test::TempDir tmp;
  auto model = load_cpu("llama");
  LoraAdapter a = new_lora_adapter(model->config(), all_targets(), torch::kCPU, 7, 0.2);
  save_lora_adapter(a, tmp / "adapter");
  EngineConfig base_cfg;
  base_cfg.model_dir = test::model_fixture("llama");
  base_cfg.device = "cpu";
  EngineConfig lora_cfg = base_cfg;
  lora_cfg.adapter_dir = tmp / "adapter";
  auto base = Engine::create(base_cfg);
  auto adapted = Engine::create(lora_cfg);
  EXPECT_CONTAINS(adapted->info().adapter, "LoRA rank 4");
  EXPECT_EQ(adapted->info().fingerprint, base->info().fingerprint);

  GenerateRequest r;
  r.blocks = {"The Alder archive is kept in the north tower. Its access code is 48213.\n",
              "Rivers carry water from the hills to the sea.\n"};
  r.query = "What is the access code of the Alder archive?";
  r.max_new_tokens = 12;
  r.top_logprobs = 0;
  r.mode = AttentionMode::kFull;
  GenerateResult full_base = base->generate(r), full_adapted = adapted->generate(r);
  EXPECT_EQ(full_adapted.tokens, full_base.tokens) << "full mode is the base";
  ASSERT_EQ(full_adapted.logprobs.size(), full_base.logprobs.size());
  for (size_t i = 0; i < full_base.logprobs.size(); ++i)
    EXPECT_EQ(full_adapted.logprobs[i].logprob, full_base.logprobs[i].logprob);

  r.mode = AttentionMode::kBlock;
  GenerateResult block_base = base->generate(r), block_adapted = adapted->generate(r);
  ASSERT_EQ(block_adapted.blocks.size(), 2u);
  EXPECT_NE(block_adapted.blocks[0].key, block_base.blocks[0].key) << "KV of adapters never mixes";
  EXPECT_NE(adapted->block_key(r.blocks[0]), base->block_key(r.blocks[0]));
  bool differs = block_adapted.tokens != block_base.tokens;
  for (size_t i = 0; !differs && i < block_base.logprobs.size(); ++i)
    differs = block_adapted.logprobs[i].logprob != block_base.logprobs[i].logprob;
  EXPECT_TRUE(differs) << "block mode uses the adapter";
  // The adapted block mode equals the merged model run directly.
  auto merged = model->merged_with(a);
  std::filesystem::create_directories(tmp / "merged");
  save_model(*merged, tmp / "merged", torch::kFloat32);
  copy_tokenizer_files(test::model_fixture("llama"), tmp / "merged");
  EngineConfig merged_cfg = base_cfg;
  merged_cfg.model_dir = tmp / "merged";
  EXPECT_EQ(Engine::create(merged_cfg)->generate(r).tokens, block_adapted.tokens);

  // Decoding sessions of both models in one step_batch.
  lora_cfg.adapter_mode = AdapterMode::kBlock;
  auto s_block = adapted->start(r);
  r.mode = AttentionMode::kFull;
  auto s_full = adapted->start(r);
  s_block->prefill();
  s_full->prefill();
  while (!s_block->finished() || !s_full->finished())
    adapted->step_batch({s_block.get(), s_full.get()});
  EXPECT_EQ(s_block->result().tokens, block_adapted.tokens);
  EXPECT_EQ(s_full->result().tokens, full_base.tokens);

  lora_cfg.adapter_mode = AdapterMode::kAlways;
  EXPECT_EQ(Engine::create(lora_cfg)->generate(r).tokens,
            Engine::create(merged_cfg)->generate(r).tokens)
      << "always: full mode uses the adapter too";
}

}  // namespace
}  // namespace blockattn
