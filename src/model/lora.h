// LoRA adapters: low-rank updates of a decoder's projections, stored in Hugging Face PEFT's
// layout so adapters move between blockattn and PEFT unchanged.
//
// A targeted projection y = x W^T (+ bias) becomes y + scale * (x A^T) B^T with A [rank, in],
// B [out, rank] and scale = alpha / rank (alpha / sqrt(rank) with rsLoRA). Only A and B train; W
// stays frozen, so one copy of the base weights serves as teacher (adapter off) and student.
//
// On disk (PEFT's save_pretrained of a causal LM):
//   adapter_config.json        {"peft_type": "LORA", "r", "lora_alpha", "lora_dropout",
//                               "target_modules", "use_rslora", "base_model_name_or_path", ...}
//   adapter_model.safetensors  base_model.model.model.layers.<i>.<self_attn|mlp>.<module>
//                              .lora_<A|B>.weight
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "blockattn/model_config.h"

namespace blockattn {

struct LayerWeights;  // model/weights.h

// The projections an adapter may target, in PEFT's module names.
enum class LoraTarget : uint8_t { kQ, kK, kV, kO, kGate, kUp, kDown };
constexpr int kLoraTargets = 7;
const char* lora_target_name(LoraTarget t);  // "q_proj", ..., "down_proj"
// {in_features, out_features} of target t in a model of `config`.
std::pair<int64_t, int64_t> lora_target_dims(const ModelConfig& config, LoraTarget t);

struct LoraConfig {
  int64_t rank = 16;
  double alpha = 16;    // scale = alpha / rank (or alpha / sqrt(rank) with rslora)
  double dropout = 0;   // on the adapter's input, training only
  bool rslora = false;  // PEFT's use_rslora
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
  std::string base_model;  // base_model_name_or_path (informational)

  double scale() const;
  // InputError naming the field: rank < 1, alpha <= 0, dropout outside [0, 1), an unknown or
  // repeated target, or no target.
  void validate() const;
  bool targets_module(LoraTarget t) const;
  // From a JSON object with PEFT's keys ("r", "lora_alpha", "lora_dropout", "target_modules",
  // "use_rslora") or ours ("rank", "alpha", "dropout", "targets"); missing keys keep their
  // defaults. InputError for a wrong type or value.
  static LoraConfig from_json(const std::string& json, const std::string& where);
};

// One targeted projection's update. Both undefined where the target is not adapted.
struct LoraPair {
  torch::Tensor a;  // [rank, in]
  torch::Tensor b;  // [out, rank]
  bool defined() const { return a.defined(); }
};

struct LoraAdapter {
  LoraConfig config;
  std::vector<std::array<LoraPair, kLoraTargets>> layers;  // [n_layer][target]

  // Every tensor with its PEFT name, layer by layer, A before B, in target order. The trainer's
  // parameter list, the writer and the fingerprint walk this.
  std::vector<std::pair<std::string, torch::Tensor*>> named();
  // Hex hash of the config and every tensor's bytes (part of a block-cache key via the merged
  // model's fingerprint).
  std::string fingerprint() const;
};

// PEFT's name of one tensor, e.g. "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight".
std::string peft_tensor_name(int64_t layer, LoraTarget t, bool b_matrix);

// A fresh adapter as PEFT initialises one: A uniform in ±1/sqrt(in) (kaiming_uniform with
// a = sqrt(5)), B zero, so the adapted model starts equal to the base. `b_std` > 0 draws B from
// N(0, b_std) instead (tests and parity fixtures, where a zero B would test nothing).
// Tensors are float32 on `device` (the trainer's master copy). validate()s `config`.
LoraAdapter new_lora_adapter(const ModelConfig& model, const LoraConfig& config,
                             torch::Device device, uint64_t seed, double b_std = 0);

// Reads <dir>/adapter_config.json and <dir>/adapter_model.safetensors into float32 tensors on
// `device`. FormatError naming the file and tensor for: a peft_type other than LORA, a feature
// we do not apply (DoRA, rank/alpha patterns, layers_to_transform, modules_to_save, bias
// training, fan_in_fan_out), a target module the model lacks, a tensor of the wrong shape (an
// adapter of another base), a missing or unexpected tensor. IoError if a file is unreadable.
LoraAdapter load_lora_adapter(const std::string& dir, const ModelConfig& model,
                              torch::Device device);

// Writes the two files (atomically each) in PEFT's layout; tensors as float32.
void save_lora_adapter(LoraAdapter& adapter, const std::string& dir);

// What blockattn records beside an adapter it trained for block attention, in
// <dir>/blockattn_adapter.json (PEFT ignores the file): the block sinks the adapter was trained
// with (the engine uses them in block mode) and the base it was trained on.
struct LoraBlockSettings {
  int32_t sink_tokens = 0;
  int32_t sink_token_id = -1;    // -1: none recorded
  std::string base_fingerprint;  // Model::fingerprint() of the base
};
// nullopt when the file is absent; FormatError naming it when malformed.
std::optional<LoraBlockSettings> read_lora_block_settings(const std::string& dir);
// `base` with the block sinks an adapter was trained with: what block mode of base + adapter
// serves and evaluates with (the engine, `adapter merge`, `eval --adapter`). A recorded count
// of 0 means no sinks; a count without a token id leaves the id to resolve_sinks's fallbacks.
ModelConfig with_lora_block_settings(ModelConfig base, const LoraBlockSettings& settings);
void write_lora_block_settings(const LoraBlockSettings& s, const std::string& dir);

// W += scale * B A for every adapted projection of `layers` (computed in float32, rounded once
// to W's dtype). The tensors are updated in place.
void merge_lora_into(const LoraAdapter& adapter, std::vector<LayerWeights>& layers);

}  // namespace blockattn
