// The tensors of a Llama-family decoder, named as in Hugging Face checkpoints.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "blockattn/model_config.h"
#include "model/lora.h"

namespace blockattn {

struct LayerWeights {
  torch::Tensor input_norm;                      // [hidden]
  torch::Tensor q_proj, k_proj, v_proj, o_proj;  // [n_head*hd, hidden], [n_kv*hd, hidden] ×2, [hidden, n_head*hd]
  torch::Tensor q_bias, k_bias, v_bias;          // [n_head*hd], [n_kv*hd] ×2; undefined unless qkv_bias
  torch::Tensor o_bias;                          // [hidden]; undefined unless o_bias
  torch::Tensor q_norm, k_norm;                  // [head_dim]; undefined unless qk_norm (Qwen3)
  torch::Tensor post_norm;                       // [hidden]
  torch::Tensor gate_proj, up_proj, down_proj;   // [inter, hidden] ×2, [hidden, inter]
  torch::Tensor gate_bias, up_bias, down_bias;   // undefined unless mlp_bias
  // Set by Model::fuse_projections (else undefined): q/k/v_proj (and biases) are row views of
  // qkv_proj, gate/up_proj of gate_up_proj.
  torch::Tensor qkv_proj;      // [(n_head + 2 n_kv) * hd, hidden]
  torch::Tensor qkv_bias;      // [(n_head + 2 n_kv) * hd]; undefined unless qkv_bias
  torch::Tensor gate_up_proj;  // [2 * inter, hidden]
  torch::Tensor gate_up_bias;  // [2 * inter]; undefined unless mlp_bias
  // Set by Model::attach_adapter (else undefined): a LoRA adapter applied unmerged, indexed by
  // LoraTarget. Not part of named(): the base weights stay what the checkpoint holds.
  std::array<LoraPair, kLoraTargets> lora;
};

struct ModelWeights {
  torch::Tensor embed;       // [vocab, hidden]
  std::vector<LayerWeights> layers;
  torch::Tensor final_norm;  // [hidden]
  torch::Tensor lm_head;     // [vocab, hidden]; the same tensor as `embed` when tied

  // Every distinct stored tensor with its HF name (lm_head omitted when tied), in the fixed
  // order of weights_in_storage_order (checkpoint/weight_names.h, the one weight-name table):
  // the loader, the writer and the optimizer all walk this list.
  std::vector<std::pair<std::string, torch::Tensor*>> named(const ModelConfig& config);
};

}  // namespace blockattn
