// The `blockattn pretrain` configuration file: {"model": {HF Llama config}, "training": {...}}.
// See docs/training.md for every field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "blockattn/model_config.h"

namespace blockattn::train {

// One dataset of a training mixture: a subdirectory of `--data` made by `blockattn shard`.
struct DataSource {
  std::string dir;               // relative to --data
  double weight = 1;             // share of training windows (normalised over the mixture)
  bool document_starts = false;  // windows start at a document start (for task items meant to be
                                 // seen whole, e.g. synthetic retrieval); else at any token
  bool operator==(const DataSource& o) const {
    return dir == o.dir && weight == o.weight && document_starts == o.document_starts;
  }
  bool operator!=(const DataSource& o) const { return !(*this == o); }
};

struct TrainConfig {
  int64_t seq_len = 1024;
  int64_t batch_size = 8;  // sequences per micro-batch
  int64_t grad_accum = 1;  // micro-batches per optimizer step
  double lr = 3e-4;
  double min_lr = 3e-5;        // end of the cosine decay
  int64_t warmup_steps = 100;  // linear warm-up from lr/warmup_steps to lr
  int64_t total_steps = 0;     // or derived from total_tokens
  int64_t total_tokens = 0;    // used when total_steps is 0
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double grad_clip = 1.0;          // global-norm clip; <= 0 disables
  int64_t eval_every = 100;        // steps; 0 disables validation
  int64_t eval_batches = 8;        // micro-batches per validation pass
  int64_t checkpoint_every = 500;  // steps; 0: only at the end / on --max-minutes expiry
  int64_t log_every = 10;          // plain progress lines when stderr is not a terminal
  uint64_t seed = 1234;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  std::string dtype = "auto";   // auto (bf16 compute + fp32 master weights on CUDA, fp32 on CPU) |
                                // float32 | bfloat16
  double peak_flops = 790e12;   // accelerator peak used for MFU (H200 bf16 dense)
  // Recompute each layer's activations in the backward pass (Model::TrainInputs): less memory,
  // about a third more compute, the same gradients. Not part of the trajectory.
  bool activation_checkpointing = false;
  // Empty: --data is one dataset, windows anywhere. Else each window draws its source by weight.
  std::vector<DataSource> data_mix;

  int64_t tokens_per_step() const { return seq_len * batch_size * grad_accum; }
};

struct PretrainConfig {
  ModelConfig model;
  TrainConfig train;
  std::string canonical_json;  // canonical JSON of both sections, stored in checkpoints

  // Parses and checks a config file's text; `source` prefixes errors. FormatError for malformed
  // JSON / unknown or mistyped fields / a bad model section (e.g. hidden_size not divisible by
  // num_attention_heads), InputError for inconsistent training values (seq_len >
  // max_position_embeddings, non-positive sizes, no total_steps/total_tokens).
  static PretrainConfig from_json(const std::string& text, const std::string& source);
  static PretrainConfig load(const std::string& path);

  // The name of the first optimisation-relevant field that differs ("model", "training.lr", ...),
  // or "" when a checkpoint written under `other` may be resumed under this config. Fields that
  // do not change the trajectory (eval/checkpoint/log cadence, device, peak_flops) may differ.
  std::string resume_mismatch(const PretrainConfig& other) const;
};

// The "training" section on its own, shared by every training config (pretrain, distill).
// parse_training: FormatError for unknown or mistyped fields, prefixed by `where`.
void parse_training(const nlohmann::json& section, TrainConfig& t, const std::string& where);
nlohmann::json training_json(const TrainConfig& t);
// total_steps from total_tokens when only the latter is given.
void derive_total_steps(TrainConfig& t);
// InputError for inconsistent values (see PretrainConfig::from_json).
void check_training(const TrainConfig& t, int64_t max_positions, const std::string& where);
// The first optimisation-relevant field that differs ("training.lr", …), or "".
std::string training_mismatch(const TrainConfig& a, const TrainConfig& b);

}  // namespace blockattn::train
