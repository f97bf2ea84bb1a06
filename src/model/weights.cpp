#include "model/weights.h"

#include "blockattn/error.h"
#include "checkpoint/weight_names.h"

namespace blockattn {

namespace {

torch::Tensor* layer_member(LayerWeights& L, WeightRole role) {
  switch (role) {
    case WeightRole::kInputNorm:
      return &L.input_norm;
    case WeightRole::kQProj:
      return &L.q_proj;
    case WeightRole::kKProj:
      return &L.k_proj;
    case WeightRole::kVProj:
      return &L.v_proj;
    case WeightRole::kOProj:
      return &L.o_proj;
    case WeightRole::kQBias:
      return &L.q_bias;
    case WeightRole::kKBias:
      return &L.k_bias;
    case WeightRole::kVBias:
      return &L.v_bias;
    case WeightRole::kOBias:
      return &L.o_bias;
    case WeightRole::kQNorm:
      return &L.q_norm;
    case WeightRole::kKNorm:
      return &L.k_norm;
    case WeightRole::kPostNorm:
      return &L.post_norm;
    case WeightRole::kGateProj:
      return &L.gate_proj;
    case WeightRole::kUpProj:
      return &L.up_proj;
    case WeightRole::kDownProj:
      return &L.down_proj;
    case WeightRole::kGateBias:
      return &L.gate_bias;
    case WeightRole::kUpBias:
      return &L.up_bias;
    case WeightRole::kDownBias:
      return &L.down_bias;
    case WeightRole::kEmbed:
    case WeightRole::kFinalNorm:
    case WeightRole::kLmHead:
      break;
  }
  throw Error("internal: weight role " + std::to_string(static_cast<int>(role)) +
              " is not a layer tensor");
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor*>> ModelWeights::named(const ModelConfig& config) {
  if (static_cast<int64_t>(layers.size()) != config.num_layers)
    throw Error("internal: " + std::to_string(layers.size()) +
                " layers of weights for a config of " + std::to_string(config.num_layers));
  std::vector<std::pair<std::string, torch::Tensor*>> out;
  for (ExpectedTensor& t : weights_in_storage_order(config)) {
    torch::Tensor* member = t.role == WeightRole::kEmbed       ? &embed
                            : t.role == WeightRole::kFinalNorm ? &final_norm
                            : t.role == WeightRole::kLmHead
                                ? &lm_head
                                : layer_member(layers[static_cast<size_t>(t.layer)], t.role);
    out.emplace_back(std::move(t.name), member);
  }
  return out;
}

}  // namespace blockattn
