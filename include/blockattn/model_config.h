// Model hyper-parameters, read from a Hugging Face config.json.
//
// Supported decoder families: Llama, Mistral, Qwen2, Qwen3. Both config.json styles are read:
// transformers >= 5 ("rope_parameters", "dtype") and older files (top-level "rope_theta",
// "rope_scaling", "torch_dtype"). Anything that would change the model's math and that
// blockattn does not implement (sliding-window attention, other RoPE scalings) is rejected
// with UnsupportedError rather than silently ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace blockattn {

enum class Architecture { kLlama, kMistral, kQwen2, kQwen3 };

// Rotary position embedding parameters.
struct RopeConfig {
  double theta = 10000.0;
  // "default" (plain RoPE) or "llama3" (Llama 3.1 frequency scaling; uses the fields below).
  std::string type = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  std::string model_type = "llama";  // "llama", "mistral", "qwen2", "qwen3"

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;    // num_hidden_layers
  int64_t num_heads = 0;     // num_attention_heads
  int64_t num_kv_heads = 0;  // num_key_value_heads (defaults to num_heads)
  int64_t head_dim = 0;      // defaults to hidden_size / num_heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  RopeConfig rope;

  bool tie_word_embeddings = false;  // lm_head shares model.embed_tokens.weight
  bool qkv_bias = false;  // q/k/v projections have biases: qwen2 always; llama/qwen3 attention_bias
  bool o_bias = false;    // o_proj has a bias: llama/qwen3 attention_bias
  bool mlp_bias = false;  // gate/up/down have biases: llama mlp_bias
  bool qk_norm = false;   // per-head RMSNorm on q and k before RoPE: qwen3

  // Storage dtype as written in the file: "float32", "bfloat16", "float16"; empty if absent.
  std::string torch_dtype;
  std::vector<int32_t> eos_token_ids;  // eos_token_id: int or list; empty if null/absent
  std::optional<int32_t> bos_token_id;

  // blockattn extensions, stored in config.json as
  //   "blockattn": {"block_sink_tokens": k, "block_sink_token_id": id}
  // Number of sink tokens prepended to every independently-encoded block (0: none).
  int32_t block_sink_tokens = 0;
  // Token id used for those sink tokens; absent: the engine's default choice.
  std::optional<int32_t> block_sink_token_id;

  // Parses config.json text. `source_name` (usually the path) prefixes every error message.
  // Throws FormatError for malformed JSON, missing or mistyped fields and inconsistent sizes;
  // UnsupportedError for an unknown model_type (the message lists the supported ones),
  // sliding-window attention, or a RoPE type other than default/llama3.
  static ModelConfig from_json(const std::string& json_text, const std::string& source_name);
  // Reads <model_dir>/config.json (IoError if unreadable).
  static ModelConfig load(const std::string& model_dir);

  // config.json text that transformers can load and from_json reads back to an equal config.
  // RoPE is written both ways: "rope_parameters" (transformers >= 5) and the legacy
  // "rope_theta" / "rope_scaling"; the dtype both as "dtype" and "torch_dtype".
  std::string to_json() const;

  // Checks internal consistency. Throws InputError: non-positive sizes, num_heads not a
  // multiple of num_kv_heads, eps <= 0, bad RoPE parameters, flags that the architecture
  // cannot have (e.g. qk_norm on llama), negative token ids. from_json calls it and reports
  // failures as FormatError naming the file.
  void validate() const;

  // Exact number of parameters stored in the checkpoint (the tied lm_head counted once).
  int64_t num_parameters() const;

  // Hugging Face class name: "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
  // "Qwen3ForCausalLM".
  std::string architecture_name() const;
};

// Field-wise equality; the llama3 scaling fields are compared only when type is "llama3"
// (they are unused, and not written to config.json, for plain RoPE).
bool operator==(const RopeConfig& a, const RopeConfig& b);
bool operator!=(const RopeConfig& a, const RopeConfig& b);
bool operator==(const ModelConfig& a, const ModelConfig& b);
bool operator!=(const ModelConfig& a, const ModelConfig& b);

}  // namespace blockattn
