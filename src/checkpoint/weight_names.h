// The tensors a Hugging Face checkpoint of a supported architecture holds, and a check that a
// checkpoint matches its config.json before any weight is loaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "blockattn/model_config.h"
#include "checkpoint/checkpoint.h"

namespace blockattn {

struct ExpectedTensor {
  std::string name;  // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;
};

// Every tensor the checkpoint must hold, in model order. lm_head.weight is absent when the
// embeddings are tied. The element counts sum to config.num_parameters().
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// Throws FormatError listing every problem: a missing tensor (naming the checkpoint
// directory), a shape mismatch or a non-float dtype (naming the tensor, its file, expected and
// actual shape), an unexpected tensor (naming it and its file). Accepted extras:
// lm_head.weight in a tied model (with the right shape) and the rotary_emb.inv_freq buffers
// older transformers saved.
void check_checkpoint_matches(const Checkpoint& checkpoint, const ModelConfig& config);

}  // namespace blockattn
