// ModelConfig: architecture names, validation, parameter count, equality.
// Parsing lives in model_config_parse.cpp, serialization in model_config_write.cpp.
#include "blockattn/model_config.h"

#include <cmath>

#include "blockattn/error.h"
#include "checkpoint/model_config_names.h"

namespace blockattn {

namespace {

constexpr ArchitectureNames kArchitectures[] = {
    {Architecture::kLlama, "llama", "LlamaForCausalLM"},
    {Architecture::kMistral, "mistral", "MistralForCausalLM"},
    {Architecture::kQwen2, "qwen2", "Qwen2ForCausalLM"},
    {Architecture::kQwen3, "qwen3", "Qwen3ForCausalLM"},
};

[[noreturn]] void invalid(const std::string& what) { throw InputError("model config: " + what); }

void require_positive(const char* name, int64_t v) {
  if (v <= 0) invalid(std::string(name) + " must be positive, got " + std::to_string(v));
}

// The flags each architecture can express in transformers; anything else could not be loaded
// by transformers nor round-trip through config.json.
void validate_flags(const ModelConfig& c) {
  switch (c.arch) {
    case Architecture::kLlama:
      if (c.qkv_bias != c.o_bias)
        invalid("llama has attention_bias on q/k/v/o together or not at all");
      if (c.qk_norm) invalid("llama has no qk_norm");
      break;
    case Architecture::kMistral:
      if (c.qkv_bias || c.o_bias || c.mlp_bias || c.qk_norm)
        invalid("mistral has no biases and no qk_norm");
      break;
    case Architecture::kQwen2:
      if (!c.qkv_bias || c.o_bias || c.mlp_bias || c.qk_norm)
        invalid("qwen2 has q/k/v biases only (qkv_bias true, o_bias/mlp_bias/qk_norm false)");
      break;
    case Architecture::kQwen3:
      if (c.qkv_bias != c.o_bias)
        invalid("qwen3 has attention_bias on q/k/v/o together or not at all");
      if (c.mlp_bias) invalid("qwen3 has no mlp_bias");
      if (!c.qk_norm) invalid("qwen3 always has qk_norm");
      break;
  }
}

void validate_rope(const RopeConfig& r) {
  if (!(r.theta > 0) || !std::isfinite(r.theta)) invalid("rope theta must be positive");
  if (r.type == "default") return;
  if (r.type != "llama3")
    throw UnsupportedError("model config: RoPE type \"" + r.type +
                           "\" is not supported (supported: default, llama3)");
  if (!(r.factor >= 1.0) || !std::isfinite(r.factor)) invalid("llama3 RoPE factor must be >= 1");
  // The llama3 formula interpolates between the two wavelength bounds: it divides by
  // (high_freq_factor - low_freq_factor).
  if (!(r.low_freq_factor > 0) || !(r.high_freq_factor > r.low_freq_factor) ||
      !std::isfinite(r.high_freq_factor))
    invalid("llama3 RoPE needs 0 < low_freq_factor < high_freq_factor");
  require_positive("rope original_max_position_embeddings", r.original_max_position_embeddings);
}

}  // namespace

const ArchitectureNames& architecture_names(Architecture arch) {
  for (const ArchitectureNames& a : kArchitectures)
    if (a.arch == arch) return a;
  throw InputError("model config: invalid Architecture value " +
                   std::to_string(static_cast<int>(arch)));
}

const ArchitectureNames* find_architecture_by_model_type(std::string_view model_type) {
  for (const ArchitectureNames& a : kArchitectures)
    if (model_type == a.model_type) return &a;
  return nullptr;
}

const ArchitectureNames* find_architecture_by_class(std::string_view class_name) {
  for (const ArchitectureNames& a : kArchitectures)
    if (class_name == a.class_name) return &a;
  return nullptr;
}

std::string supported_model_types() {
  std::string out;
  for (const ArchitectureNames& a : kArchitectures)
    out += std::string(out.empty() ? "" : ", ") + a.model_type;
  return out;
}

std::string ModelConfig::architecture_name() const { return architecture_names(arch).class_name; }

void ModelConfig::validate() const {
  if (model_type != architecture_names(arch).model_type)
    invalid("model_type \"" + model_type + "\" does not match the architecture (" +
            architecture_name() + ")");
  require_positive("vocab_size", vocab_size);
  require_positive("hidden_size", hidden_size);
  require_positive("intermediate_size", intermediate_size);
  require_positive("num_hidden_layers", num_layers);
  require_positive("num_attention_heads", num_heads);
  require_positive("num_key_value_heads", num_kv_heads);
  require_positive("head_dim", head_dim);
  require_positive("max_position_embeddings", max_position_embeddings);
  if (num_heads % num_kv_heads != 0)
    invalid("num_attention_heads " + std::to_string(num_heads) +
            " is not a multiple of num_key_value_heads " + std::to_string(num_kv_heads));
  if (head_dim % 2 != 0) invalid("head_dim " + std::to_string(head_dim) + " must be even for RoPE");
  if (!(rms_norm_eps > 0) || !std::isfinite(rms_norm_eps))
    invalid("rms_norm_eps must be positive, got " + std::to_string(rms_norm_eps));
  validate_rope(rope);
  validate_flags(*this);
  for (int32_t id : eos_token_ids)
    if (id < 0) invalid("eos_token_id " + std::to_string(id) + " is negative");
  if (bos_token_id && *bos_token_id < 0) invalid("bos_token_id is negative");
  if (block_sink_tokens < 0 || block_sink_tokens > kMaxBlockSinkTokens)
    invalid("blockattn.block_sink_tokens " + std::to_string(block_sink_tokens) +
            " is out of range (0.." + std::to_string(kMaxBlockSinkTokens) + ")");
  if (block_sink_token_id && (*block_sink_token_id < 0 || *block_sink_token_id >= vocab_size))
    invalid("blockattn.block_sink_token_id " + std::to_string(*block_sink_token_id) +
            " is outside the vocabulary (size " + std::to_string(vocab_size) + ")");
}

// Closed form, kept independent of expected_tensors() so each checks the other in the tests.
int64_t ModelConfig::num_parameters() const {
  const int64_t q_dim = num_heads * head_dim, kv_dim = num_kv_heads * head_dim;
  int64_t attn = hidden_size * (q_dim + 2 * kv_dim) + q_dim * hidden_size;
  if (qkv_bias) attn += q_dim + 2 * kv_dim;
  if (o_bias) attn += hidden_size;
  if (qk_norm) attn += 2 * head_dim;
  int64_t mlp = 3 * hidden_size * intermediate_size;
  if (mlp_bias) mlp += 2 * intermediate_size + hidden_size;
  const int64_t layer = attn + mlp + 2 * hidden_size;  // + input/post_attention norms
  const int64_t embed = vocab_size * hidden_size;
  return embed + (tie_word_embeddings ? 0 : embed) + num_layers * layer + hidden_size;
}

bool operator==(const RopeConfig& a, const RopeConfig& b) {
  if (a.theta != b.theta || a.type != b.type) return false;
  if (a.type != "llama3") return true;  // the scaling fields mean nothing for plain RoPE
  return a.factor == b.factor && a.low_freq_factor == b.low_freq_factor &&
         a.high_freq_factor == b.high_freq_factor &&
         a.original_max_position_embeddings == b.original_max_position_embeddings;
}
bool operator!=(const RopeConfig& a, const RopeConfig& b) { return !(a == b); }

bool operator==(const ModelConfig& a, const ModelConfig& b) {
  return a.arch == b.arch && a.model_type == b.model_type && a.vocab_size == b.vocab_size &&
         a.hidden_size == b.hidden_size && a.intermediate_size == b.intermediate_size &&
         a.num_layers == b.num_layers && a.num_heads == b.num_heads &&
         a.num_kv_heads == b.num_kv_heads && a.head_dim == b.head_dim &&
         a.max_position_embeddings == b.max_position_embeddings &&
         a.rms_norm_eps == b.rms_norm_eps && a.rope == b.rope &&
         a.tie_word_embeddings == b.tie_word_embeddings && a.qkv_bias == b.qkv_bias &&
         a.o_bias == b.o_bias && a.mlp_bias == b.mlp_bias && a.qk_norm == b.qk_norm &&
         a.torch_dtype == b.torch_dtype && a.eos_token_ids == b.eos_token_ids &&
         a.bos_token_id == b.bos_token_id && a.block_sink_tokens == b.block_sink_tokens &&
         a.block_sink_token_id == b.block_sink_token_id;
}
bool operator!=(const ModelConfig& a, const ModelConfig& b) { return !(a == b); }

}  // namespace blockattn
