// The tensors a Hugging Face checkpoint of a supported architecture holds, and a check that a
// checkpoint matches its config.json before any weight is loaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "blockattn/model_config.h"
#include "checkpoint/checkpoint.h"

namespace blockattn {

// What a tensor is in the decoder, independent of its name (ModelWeights maps it to a member).
// clang-format off
enum class WeightRole : uint8_t {
  // Once per model.
  kEmbed, kFinalNorm, kLmHead,
  // Once per layer.
  kInputNorm, kQProj, kKProj, kVProj, kOProj, kQBias, kKBias, kVBias, kOBias, kQNorm, kKNorm,
  kPostNorm, kGateProj, kUpProj, kDownProj, kGateBias, kUpBias, kDownBias,
};
// clang-format on

struct ExpectedTensor {
  std::string name;  // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;
  WeightRole role = WeightRole::kEmbed;
  int64_t layer = -1;  // the layer of a per-layer tensor, -1 for the others
};

// The one weight-name table, in two orders. Both list every tensor the checkpoint must hold;
// lm_head.weight is absent when the embeddings are tied; the element counts sum to
// config.num_parameters().
//
// expected_tensors: checkpoint order (Hugging Face's state_dict: per layer the attention and MLP
// tensors, then the two sublayer norms).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);
// weights_in_storage_order: the order in which the model initialises (Model::random draws in it),
// loads, fingerprints, saves and trains its weights (ModelWeights::named): per layer each
// sublayer's norm, then its tensors. Changing it changes random models and fingerprints.
std::vector<ExpectedTensor> weights_in_storage_order(const ModelConfig& config);

// Throws FormatError listing every problem: a missing tensor (naming the checkpoint
// directory), a shape mismatch or a non-float dtype (naming the tensor, its file, expected and
// actual shape), an unexpected tensor (naming it and its file). Accepted extras:
// lm_head.weight in a tied model (with the right shape) and the rotary_emb.inv_freq buffers
// older transformers saved.
void check_checkpoint_matches(const Checkpoint& checkpoint, const ModelConfig& config);

}  // namespace blockattn
