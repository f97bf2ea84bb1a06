#include "blockattn/model_config.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "blockattn/error.h"
#include "core/io.h"
#include "expect_error.h"
#include "test_util.h"

namespace blockattn {
namespace {

using json = nlohmann::json;

using test::error_of;

std::string config_path(const std::string& model) {
  return test::fixture("models/" + model + "/config.json");
}
json fixture_json(const std::string& model) { return json::parse(read_file(config_path(model))); }
ModelConfig parse(const json& j) { return ModelConfig::from_json(j.dump(), "test-config.json"); }

TEST(ModelConfig, TinyLlama) {
  ModelConfig c = ModelConfig::load(test::fixture("models/tiny-llama"));
  EXPECT_EQ(c.arch, Architecture::kLlama);
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.architecture_name(), "LlamaForCausalLM");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 128);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.rope.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 64);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.qkv_bias || c.o_bias || c.mlp_bias || c.qk_norm);
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{0});
  EXPECT_FALSE(c.bos_token_id.has_value());
  EXPECT_EQ(c.block_sink_tokens, 0);
  EXPECT_FALSE(c.block_sink_token_id.has_value());
  EXPECT_EQ(c.num_parameters(), 139584);  // index.json metadata.total_parameters
}

TEST(ModelConfig, TinyMistral) {
  ModelConfig c = ModelConfig::load(test::fixture("models/tiny-mistral"));
  EXPECT_EQ(c.arch, Architecture::kMistral);
  EXPECT_EQ(c.architecture_name(), "MistralForCausalLM");
  EXPECT_EQ(c.rope.type, "default");
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_FALSE(c.qkv_bias || c.o_bias || c.mlp_bias || c.qk_norm || c.tie_word_embeddings);
}

TEST(ModelConfig, TinyQwen2) {
  ModelConfig c = ModelConfig::load(test::fixture("models/tiny-qwen2"));
  EXPECT_EQ(c.arch, Architecture::kQwen2);
  EXPECT_EQ(c.head_dim, 16);  // absent: hidden / heads
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias || c.mlp_bias || c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rope.theta, 1e6);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
}

TEST(ModelConfig, TinyQwen3) {
  ModelConfig c = ModelConfig::load(test::fixture("models/tiny-qwen3"));
  EXPECT_EQ(c.arch, Architecture::kQwen3);
  EXPECT_EQ(c.head_dim, 32);  // != hidden / heads
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.qkv_bias || c.o_bias || c.mlp_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

// Llama 3.1-style file as transformers 4 saved it.
const char* const kLegacyLlama = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
  "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
  "rope_theta": 500000.0,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "attention_bias": false, "mlp_bias": false, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]
})";

TEST(ModelConfig, LegacyStyle) {
  ModelConfig c = ModelConfig::from_json(kLegacyLlama, "legacy.json");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_kv_heads, 8);
  EXPECT_EQ(c.rope.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.rope.factor, 8.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.num_parameters(), 8030261248);  // Llama 3.1 8B

  // Older still: "type" instead of "rope_type"; plain RoPE as rope_scaling null.
  json j = json::parse(kLegacyLlama);
  j["rope_scaling"].erase("rope_type");
  j["rope_scaling"]["type"] = "llama3";
  EXPECT_EQ(parse(j).rope.type, "llama3");
  j["rope_scaling"] = nullptr;
  j.erase("num_key_value_heads");
  j["rope_theta"] = 1e6;
  ModelConfig plain = parse(j);
  EXPECT_EQ(plain.rope.type, "default");
  EXPECT_DOUBLE_EQ(plain.rope.theta, 1e6);
  EXPECT_EQ(plain.num_kv_heads, 32);

  // Only "architectures", no model_type.
  j.erase("model_type");
  EXPECT_EQ(parse(j).arch, Architecture::kLlama);
  j["architectures"] = {"Qwen2ForCausalLM"};
  EXPECT_EQ(parse(j).arch, Architecture::kQwen2);
}

TEST(ModelConfig, RoundTrip) {
  std::vector<ModelConfig> configs;
  for (const char* model : {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"})
    configs.push_back(ModelConfig::load(test::fixture(std::string("models/") + model)));
  configs.push_back(ModelConfig::from_json(kLegacyLlama, "legacy.json"));
  ModelConfig ext = configs[0];
  ext.block_sink_tokens = 2;
  ext.block_sink_token_id = 7;
  ext.qkv_bias = ext.o_bias = ext.mlp_bias = true;
  ext.eos_token_ids.clear();
  ext.torch_dtype.clear();
  ext.rms_norm_eps = 1.0 / 3.0;  // needs every digit
  configs.push_back(ext);
  ModelConfig qwen3_bias = configs[3];
  qwen3_bias.qkv_bias = qwen3_bias.o_bias = true;
  configs.push_back(qwen3_bias);

  for (const ModelConfig& c : configs) {
    SCOPED_TRACE(c.model_type);
    const std::string text = c.to_json();
    ModelConfig back = ModelConfig::from_json(text, "roundtrip.json");
    EXPECT_TRUE(back == c) << text;
    EXPECT_EQ(back.to_json(), text);
    // Both RoPE styles are written.
    json j = json::parse(text);
    EXPECT_TRUE(j.contains("rope_parameters"));
    EXPECT_EQ(j["rope_theta"], c.rope.theta);
    EXPECT_TRUE(j.contains("rope_scaling"));
    EXPECT_EQ(j["architectures"][0], c.architecture_name());
    // Each style alone reads back the same config.
    json modern = j, legacy = j;
    modern.erase("rope_theta");
    modern.erase("rope_scaling");
    legacy.erase("rope_parameters");
    EXPECT_TRUE(parse(modern) == c);
    EXPECT_TRUE(parse(legacy) == c);
  }
  EXPECT_EQ(json::parse(configs[0].to_json())["rope_scaling"]["rope_type"], "llama3");
  ModelConfig back = ModelConfig::from_json(ext.to_json(), "x");
  EXPECT_EQ(back.block_sink_tokens, 2);
  EXPECT_EQ(back.block_sink_token_id, 7);
}

TEST(ModelConfig, UnknownModelTypeListsSupported) {
  json j = fixture_json("tiny-llama");
  j["model_type"] = "gemma";
  std::string msg = error_of<UnsupportedError>([&] { parse(j); });
  EXPECT_CONTAINS(msg, "test-config.json");
  EXPECT_CONTAINS(msg, "\"gemma\"");
  EXPECT_CONTAINS(msg, "llama, mistral, qwen2, qwen3");
  j.erase("model_type");
  j["architectures"] = {"GemmaForCausalLM"};
  EXPECT_CONTAINS(error_of<UnsupportedError>([&] { parse(j); }), "GemmaForCausalLM");
  j.erase("architectures");
  EXPECT_CONTAINS(error_of<FormatError>([&] { parse(j); }), "model_type");
}

TEST(ModelConfig, BadSizes) {
  json j = fixture_json("tiny-llama");
  j["num_key_value_heads"] = 3;
  std::string msg = error_of<FormatError>([&] { parse(j); });
  EXPECT_CONTAINS(msg, "test-config.json");
  EXPECT_CONTAINS(msg, "not a multiple of num_key_value_heads 3");

  j = fixture_json("tiny-qwen2");  // no head_dim
  j["num_attention_heads"] = 5;
  j["num_key_value_heads"] = 5;
  msg = error_of<FormatError>([&] { parse(j); });
  EXPECT_CONTAINS(msg, "not divisible by num_attention_heads 5");

  j = fixture_json("tiny-qwen2");
  j["num_attention_heads"] = 0;
  EXPECT_THROW(parse(j), FormatError);

  j = fixture_json("tiny-llama");
  j.erase("hidden_size");
  msg = error_of<FormatError>([&] { parse(j); });
  EXPECT_CONTAINS(msg, "test-config.json");
  EXPECT_CONTAINS(msg, "\"hidden_size\" is missing");

  j = fixture_json("tiny-llama");
  j["vocab_size"] = "512";
  EXPECT_CONTAINS(error_of<FormatError>([&] { parse(j); }), "\"vocab_size\" must be an integer");
  j = fixture_json("tiny-llama");
  j["vocab_size"] = 0;
  EXPECT_CONTAINS(error_of<FormatError>([&] { parse(j); }), "vocab_size must be positive");
  j = fixture_json("tiny-llama");
  j["rms_norm_eps"] = 0.0;
  EXPECT_CONTAINS(error_of<FormatError>([&] { parse(j); }), "rms_norm_eps");
  j = fixture_json("tiny-llama");
  j["blockattn"] = {{"block_sink_tokens", 1}, {"block_sink_token_id", 512}};
  EXPECT_CONTAINS(error_of<FormatError>([&] { parse(j); }), "block_sink_token_id");
  // Issue 13 item 8: an out-of-range sink count in the file is the file's error, not "--sinks".
  for (int64_t bad : {int64_t{-7}, int64_t{65}, int64_t{1} << 40}) {
    j = fixture_json("tiny-llama");
    j["blockattn"] = {{"block_sink_tokens", bad}};
    const std::string msg = error_of<FormatError>([&] { parse(j); });
    EXPECT_CONTAINS(msg, "test-config.json");
    EXPECT_CONTAINS(msg, "block_sink_tokens");
    EXPECT_CONTAINS(msg, std::to_string(bad) + " is out of range (0..64)");
    EXPECT_EQ(msg.find("--sinks"), std::string::npos) << msg;
  }

  EXPECT_CONTAINS(error_of<FormatError>([] { ModelConfig::from_json("{ nope", "bad.json"); }),
                  "bad.json");
  EXPECT_THROW(ModelConfig::from_json("[]", "bad.json"), FormatError);
  EXPECT_CONTAINS(error_of<IoError>([] { ModelConfig::load("/nonexistent-model"); }),
                  "/nonexistent-model/config.json");
}

TEST(ModelConfig, RopeErrors) {
  json j = fixture_json("tiny-llama");
  j["rope_parameters"].erase("factor");
  std::string msg = error_of<FormatError>([&] { parse(j); });
  EXPECT_CONTAINS(msg, "\"rope_parameters.factor\" is missing");

  j = fixture_json("tiny-llama");
  j["rope_parameters"]["rope_type"] = "yarn";
  msg = error_of<UnsupportedError>([&] { parse(j); });
  EXPECT_CONTAINS(msg, "\"yarn\"");
  EXPECT_CONTAINS(msg, "test-config.json");

  j = fixture_json("tiny-llama");
  j["rope_parameters"]["low_freq_factor"] = 4.0;  // == high_freq_factor: division by zero
  EXPECT_THROW(parse(j), FormatError);
}

TEST(ModelConfig, SlidingWindowIsRejected) {
  json j = fixture_json("tiny-mistral");
  j["sliding_window"] = 4096;  // == max_position_embeddings: never slides
  EXPECT_NO_THROW(parse(j));
  j["sliding_window"] = 1024;
  std::string msg = error_of<UnsupportedError>([&] { parse(j); });
  EXPECT_CONTAINS(msg, "sliding-window attention not supported");
  EXPECT_CONTAINS(msg, "test-config.json");

  for (const char* model : {"tiny-qwen2", "tiny-qwen3"}) {
    j = fixture_json(model);
    j["sliding_window"] = 1024;  // ignored while use_sliding_window is false
    EXPECT_NO_THROW(parse(j));
    j["use_sliding_window"] = true;
    EXPECT_CONTAINS(error_of<UnsupportedError>([&] { parse(j); }),
                    "sliding-window attention not supported");
    j = fixture_json(model);
    j["layer_types"][1] = "sliding_attention";
    EXPECT_THROW(parse(j), UnsupportedError);
  }
}

TEST(ModelConfig, ValidateThrowsInputError) {
  ModelConfig c = ModelConfig::load(test::fixture("models/tiny-qwen2"));
  c.validate();
  ModelConfig bad = c;
  bad.num_kv_heads = 3;
  EXPECT_THROW(bad.validate(), InputError);
  bad = c;
  bad.qkv_bias = false;  // qwen2 always has q/k/v biases
  EXPECT_THROW(bad.validate(), InputError);
  bad = c;
  bad.model_type = "llama";
  EXPECT_THROW(bad.validate(), InputError);
  bad = c;
  bad.head_dim = 0;
  EXPECT_THROW(bad.validate(), InputError);
  EXPECT_THROW(bad.to_json(), InputError);
}

}  // namespace
}  // namespace blockattn
