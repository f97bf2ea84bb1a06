// `blockattn distill` and `blockattn blockft`: training a model to keep its full-attention quality
// under block attention (docs/distillation.md). Torch-free header.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "train/distill_config.h"

namespace blockattn::train {

struct DistillOptions {
  BlockTrainMethod method = BlockTrainMethod::kDistill;
  std::string config_path;  // "" = the method's defaults (then training.total_steps must come from
                            // overrides)
  std::string
      teacher_dir;  // distill: the frozen full-attention teacher; blockft: the model to fine-tune
  std::string student_dir;  // optional start of the student (default: a copy of teacher_dir); must
                            // share the teacher's architecture, sizes and tokenizer
  std::string data_dir;     // train/*.jsonl block samples, validation/*.jsonl (optional)
  std::string out_dir;      // checkpoint/, metrics.jsonl and, at the end, model/
  bool resume = false;
  double max_minutes = 0;  // > 0: checkpoint and stop after this much wall time
  int64_t max_steps = 0;   // > 0: checkpoint and stop after this many steps in this run
  uint64_t max_shard_bytes = 0;
  size_t threads = 4;            // tokenizer threads while loading samples
  int rank = 0, world = 1;       // data-parallel process (see data_parallel.h); rank 0 writes files
  std::string store_path;        // c10d rendezvous file when world > 1
  std::FILE* progress = stderr;  // nullptr: silent
};

struct DistillResult {
  int64_t start_step = 0, end_step = 0, total_steps = 0;
  bool finished = false;
  std::vector<double> losses;  // training loss of each step run here
  std::vector<std::pair<int64_t, double>>
      val_losses;  // (step, block-mode validation CE), step 0 first
  std::vector<std::pair<int64_t, double>>
      val_kl;                       // (step, validation KL to the teacher; 0 for blockft)
  double content_tokens_per_s = 0;  // sample tokens consumed per second
  uint64_t content_tokens = 0;      // consumed by this run
  std::string model_dir;            // OUT/model, or OUT/adapter with distill.lora
};

// Errors before training starts: IoError/FormatError/InputError for bad paths, configs or samples;
// FormatError when the student's config or tokenizer differs from the teacher's; InputError for an
// existing checkpoint without `resume`, or a checkpoint of another config, teacher or tokenizer.
DistillResult run_distill(const DistillOptions& options);

}  // namespace blockattn::train
