#include "model/weights.h"

namespace blockattn {

std::vector<std::pair<std::string, torch::Tensor*>> ModelWeights::named(const ModelConfig& config) {
  std::vector<std::pair<std::string, torch::Tensor*>> out;
  out.emplace_back("model.embed_tokens.weight", &embed);
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerWeights& L = layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.emplace_back(p + "input_layernorm.weight", &L.input_norm);
    out.emplace_back(p + "self_attn.q_proj.weight", &L.q_proj);
    out.emplace_back(p + "self_attn.k_proj.weight", &L.k_proj);
    out.emplace_back(p + "self_attn.v_proj.weight", &L.v_proj);
    out.emplace_back(p + "self_attn.o_proj.weight", &L.o_proj);
    if (config.qkv_bias) {
      out.emplace_back(p + "self_attn.q_proj.bias", &L.q_bias);
      out.emplace_back(p + "self_attn.k_proj.bias", &L.k_bias);
      out.emplace_back(p + "self_attn.v_proj.bias", &L.v_bias);
    }
    if (config.o_bias) out.emplace_back(p + "self_attn.o_proj.bias", &L.o_bias);
    if (config.qk_norm) {
      out.emplace_back(p + "self_attn.q_norm.weight", &L.q_norm);
      out.emplace_back(p + "self_attn.k_norm.weight", &L.k_norm);
    }
    out.emplace_back(p + "post_attention_layernorm.weight", &L.post_norm);
    out.emplace_back(p + "mlp.gate_proj.weight", &L.gate_proj);
    out.emplace_back(p + "mlp.up_proj.weight", &L.up_proj);
    out.emplace_back(p + "mlp.down_proj.weight", &L.down_proj);
    if (config.mlp_bias) {
      out.emplace_back(p + "mlp.gate_proj.bias", &L.gate_bias);
      out.emplace_back(p + "mlp.up_proj.bias", &L.up_bias);
      out.emplace_back(p + "mlp.down_proj.bias", &L.down_bias);
    }
  }
  out.emplace_back("model.norm.weight", &final_norm);
  if (!config.tie_word_embeddings) out.emplace_back("lm_head.weight", &lm_head);
  return out;
}

}  // namespace blockattn
