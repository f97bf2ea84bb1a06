// The one weight-name table (checkpoint/weight_names.h) in its two orders.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "blockattn/model_config.h"
#include "checkpoint/weight_names.h"
#include "test_util.h"

namespace blockattn {
namespace {

ModelConfig every_option(bool tied) {
  ModelConfig c = ModelConfig::load(test::fixture("models/tiny-llama"));
  c.qkv_bias = c.o_bias = c.mlp_bias = c.qk_norm = true;
  c.tie_word_embeddings = tied;
  return c;
}

std::vector<std::string> names_of(const std::vector<ExpectedTensor>& tensors) {
  std::vector<std::string> names;
  for (const ExpectedTensor& t : tensors) names.push_back(t.name);
  return names;
}

TEST(WeightTable, BothOrdersListTheSameTensorsWithTheSameShapesAndRoles) {
  for (bool tied : {false, true}) {
    const ModelConfig c = every_option(tied);
    std::vector<ExpectedTensor> checkpoint = expected_tensors(c);
    std::vector<ExpectedTensor> storage = weights_in_storage_order(c);
    ASSERT_EQ(checkpoint.size(), storage.size());
    auto by_name = [](const ExpectedTensor& a, const ExpectedTensor& b) { return a.name < b.name; };
    std::sort(checkpoint.begin(), checkpoint.end(), by_name);
    std::sort(storage.begin(), storage.end(), by_name);
    for (size_t i = 0; i < checkpoint.size(); ++i) {
      EXPECT_EQ(checkpoint[i].name, storage[i].name);
      EXPECT_EQ(checkpoint[i].shape, storage[i].shape) << checkpoint[i].name;
      EXPECT_EQ(checkpoint[i].role, storage[i].role) << checkpoint[i].name;
      EXPECT_EQ(checkpoint[i].layer, storage[i].layer) << checkpoint[i].name;
    }
    int64_t params = 0;
    for (const ExpectedTensor& t : storage) {
      int64_t n = 1;
      for (int64_t d : t.shape) n *= d;
      params += n;
    }
    EXPECT_EQ(params, c.num_parameters());
  }
}

// The storage order is what Model::random draws weights in and what fingerprints hash: it must
// stay exactly this (each sublayer's norm first), or random models and cache keys change.
TEST(WeightTable, StorageOrderOpensEachSublayerWithItsNorm) {
  ModelConfig c = every_option(false);
  c.num_layers = 1;
  const std::vector<std::string> expected = {
      "model.embed_tokens.weight",
      "model.layers.0.input_layernorm.weight",
      "model.layers.0.self_attn.q_proj.weight",
      "model.layers.0.self_attn.k_proj.weight",
      "model.layers.0.self_attn.v_proj.weight",
      "model.layers.0.self_attn.o_proj.weight",
      "model.layers.0.self_attn.q_proj.bias",
      "model.layers.0.self_attn.k_proj.bias",
      "model.layers.0.self_attn.v_proj.bias",
      "model.layers.0.self_attn.o_proj.bias",
      "model.layers.0.self_attn.q_norm.weight",
      "model.layers.0.self_attn.k_norm.weight",
      "model.layers.0.post_attention_layernorm.weight",
      "model.layers.0.mlp.gate_proj.weight",
      "model.layers.0.mlp.up_proj.weight",
      "model.layers.0.mlp.down_proj.weight",
      "model.layers.0.mlp.gate_proj.bias",
      "model.layers.0.mlp.up_proj.bias",
      "model.layers.0.mlp.down_proj.bias",
      "model.norm.weight",
      "lm_head.weight",
  };
  EXPECT_EQ(names_of(weights_in_storage_order(c)), expected);
  // Checkpoint order: the same layer with its two sublayer norms moved to the end.
  std::vector<std::string> checkpoint = expected;
  checkpoint.erase(checkpoint.begin() + 12);  // post_attention_layernorm
  checkpoint.erase(checkpoint.begin() + 1);   // input_layernorm
  checkpoint.insert(checkpoint.begin() + 17, {"model.layers.0.input_layernorm.weight",
                                              "model.layers.0.post_attention_layernorm.weight"});
  EXPECT_EQ(names_of(expected_tensors(c)), checkpoint);
}

TEST(WeightTable, OptionalTensorsFollowTheConfig) {
  ModelConfig c = ModelConfig::load(test::fixture("models/tiny-llama"));
  c.qkv_bias = c.o_bias = c.mlp_bias = c.qk_norm = false;
  c.tie_word_embeddings = true;
  for (const ExpectedTensor& t : weights_in_storage_order(c)) {
    EXPECT_EQ(t.name.find("bias"), std::string::npos) << t.name;
    EXPECT_EQ(t.name.find("q_norm"), std::string::npos) << t.name;
    EXPECT_NE(t.name, "lm_head.weight");
    EXPECT_EQ(t.layer >= 0, t.name.rfind("model.layers.", 0) == 0) << t.name;
  }
}

}  // namespace
}  // namespace blockattn
