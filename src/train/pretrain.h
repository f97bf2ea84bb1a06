// `blockattn pretrain`: trains a Llama-family model from scratch on token shards (see
// docs/training.md). Torch-free header: the CLI and tests need only these structs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace blockattn::train {

struct PretrainOptions {
  std::string config_path;     // {"model": ..., "training": ...}
  std::string data_dir;        // train/, validation/ (optional), dataset.json, tokenizer file
  std::string out_dir;         // checkpoint/ and, at the end, model/
  std::string tokenizer_path;  // overrides the data dir's tokenizer copy (must match its fingerprint)
  bool resume = false;         // continue from OUT/checkpoint (required if one exists)
  double max_minutes = 0;      // > 0: checkpoint and stop once this much wall time has passed
  int64_t max_steps = 0;       // > 0: checkpoint and stop after this many steps in this run
  uint64_t max_shard_bytes = 0;  // > 0: the saved model is split into HF shards of at most this size
  std::FILE* progress = stderr;  // nullptr: silent
};

struct PretrainResult {
  int64_t start_step = 0, end_step = 0, total_steps = 0;
  bool finished = false;                  // reached total_steps; the model was saved
  std::vector<double> losses;             // training loss of each step run here
  std::vector<std::pair<int64_t, double>> val_losses;  // (step, loss)
  double tokens_per_s = 0;
  double mfu = -1;                        // < 0: n/a (CPU)
  std::string model_dir;                  // OUT/model when finished
};

// Errors (before any training): IoError/InputError for a missing data dir or shards,
// FormatError for a bad config or a shard from another tokenizer, InputError for inconsistent
// sizes, an existing checkpoint without `resume`, or a checkpoint from a different config.
PretrainResult run_pretrain(const PretrainOptions& options);

}  // namespace blockattn::train
