// The block-attention mask for training (block fine-tuning, block distillation).
//
// A sequence of T tokens is cut into consecutive blocks (sink tokens count as part of the block
// they precede). A token of a context block attends causally within its own block only; a token
// of the last block (the question, or any block marked global) attends causally to everything
// before it. With RoPE this is exactly what inference computes in block mode — each block encoded
// alone, then re-rotated to its offset — because attention scores depend only on relative
// positions (tests/engine/block_mask_test.cpp checks the logits against the engine's prefill).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace blockattn::train {

// [T, T] bool on `device`, T = Σ block_lengths; true = may attend. Blocks listed in `global`
// (indices) attend to every earlier token; the last block is always global. InputError for an
// empty list or a non-positive length.
torch::Tensor block_attention_mask(const std::vector<int64_t>& block_lengths, torch::Device device,
                                   const std::vector<size_t>& global = {});

}  // namespace blockattn::train
