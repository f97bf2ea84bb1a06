// The `blockattn distill` / `blockattn blockft` configuration file:
//   {"training": {… as pretrain (docs/training.md) …}, "distill": {…}}
// See docs/distillation.md for every field and the defaults' measurements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/lora.h"
#include "train/train_config.h"

namespace blockattn::train {

enum class BlockTrainMethod {
  kDistill,  // KL(frozen full-attention teacher ‖ block-attention student) (+ optional CE)
  kBlockFt,  // block fine-tuning (Block-Attention): CE on the data, no teacher
};

struct DistillSettings {
  BlockTrainMethod method = BlockTrainMethod::kDistill;
  double temperature = 1.0;  // τ of the KL term
  double kl_weight = 1.0;    // distill only
  double ce_weight = 0.0;    // distill: optional CE on the data; blockft always uses CE alone
  int32_t sink_tokens =
      4;  // k sinks before every context block (0 disables); recorded in the model
  std::string sink_token =
      "<|block_sink|>";  // the sink's token (must be one token of the vocabulary)
  double block_dropout =
      0.5;  // probability that a context block (index ≥ 1) is also supervised as a query copy
  double token_weighting =
      1.0;  // α of the sensitivity weights (0 disables; needs the teacher's block-mode pass)
  double full_fraction =
      0.25;  // share of samples laid out in full attention (keeps full mode intact)
  // "lora": {...} (model/lora.h's keys, PEFT's or ours): train a LoRA adapter on the frozen
  // base instead of every weight; distillation's teacher is then the same base with the
  // adapter switched off (one copy of the weights). The result is OUT/adapter.
  std::optional<LoraConfig> lora;
};

struct DistillConfig {
  TrainConfig train;
  DistillSettings distill;
  std::string canonical_json;  // both sections, stored in checkpoints

  // `method` fixes the method and its defaults (blockft: no sinks, no dropout, no weighting, CE);
  // a config file may still set them. FormatError for malformed JSON or unknown/mistyped fields;
  // InputError for inconsistent values (τ ≤ 0, fractions outside [0, 1], negative sinks, no
  // training signal, seq_len over `max_positions`).
  static DistillConfig from_json(const std::string& text, const std::string& source,
                                 BlockTrainMethod method, int64_t max_positions);
  // An empty path means the built-in defaults for `method` (training section defaults too).
  static DistillConfig load(const std::string& path, BlockTrainMethod method,
                            int64_t max_positions);

  std::string resume_mismatch(const DistillConfig& other) const;
};

const char* method_name(BlockTrainMethod m);  // "distill" | "blockft"

}  // namespace blockattn::train
