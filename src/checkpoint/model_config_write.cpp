// ModelConfig::to_json: a config.json that transformers (4 or 5) and from_json both load.
#include <nlohmann/json.hpp>

#include "blockattn/model_config.h"
#include "checkpoint/model_config_names.h"

namespace blockattn {

std::string ModelConfig::to_json() const {
  validate();  // never write a file that from_json would reject
  using json = nlohmann::json;
  json j;  // std::map-backed: keys come out sorted, as transformers writes them
  j["architectures"] = json::array({architecture_name()});
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_layers;
  j["num_attention_heads"] = num_heads;
  j["num_key_value_heads"] = num_kv_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = tie_word_embeddings;

  // RoPE both ways: transformers 5 reads rope_parameters, transformers 4 the legacy pair.
  json params = {{"rope_theta", rope.theta}, {"rope_type", rope.type}};
  json scaling = nullptr;
  if (rope.type == "llama3") {
    scaling = {{"rope_type", rope.type},
               {"factor", rope.factor},
               {"low_freq_factor", rope.low_freq_factor},
               {"high_freq_factor", rope.high_freq_factor},
               {"original_max_position_embeddings", rope.original_max_position_embeddings}};
    params.update(scaling);
  }
  j["rope_parameters"] = params;
  j["rope_theta"] = rope.theta;
  j["rope_scaling"] = scaling;

  switch (arch) {
    case Architecture::kLlama:
      j["attention_bias"] = qkv_bias;
      j["mlp_bias"] = mlp_bias;
      break;
    case Architecture::kMistral:
      j["sliding_window"] = nullptr;
      break;
    case Architecture::kQwen2:
      j["use_sliding_window"] = false;
      j["sliding_window"] = nullptr;
      break;
    case Architecture::kQwen3:
      j["attention_bias"] = qkv_bias;
      j["use_sliding_window"] = false;
      j["sliding_window"] = nullptr;
      break;
  }

  if (!torch_dtype.empty()) {
    j["dtype"] = torch_dtype;        // transformers >= 5
    j["torch_dtype"] = torch_dtype;  // transformers 4
  }
  if (eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else if (eos_token_ids.size() == 1) {
    j["eos_token_id"] = eos_token_ids[0];
  } else {
    j["eos_token_id"] = eos_token_ids;
  }
  j["bos_token_id"] = bos_token_id ? json(*bos_token_id) : json(nullptr);

  if (block_sink_tokens != 0 || block_sink_token_id) {
    json ext = {{"block_sink_tokens", block_sink_tokens}};
    if (block_sink_token_id) ext["block_sink_token_id"] = *block_sink_token_id;
    j["blockattn"] = ext;
  }
  return j.dump(2) + "\n";
}

}  // namespace blockattn
