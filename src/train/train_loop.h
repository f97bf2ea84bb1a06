// The optimizer-step loop every training mode shares (pretraining, distillation, block
// fine-tuning): learning-rate schedule, gradient clipping and the AdamW step, the data-parallel
// all-reduce, progress and metrics lines, periodic validation, checkpoints, and the stop on
// --max-minutes / --max-steps. A mode supplies only its data and loss (TrainTask).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/train_checkpoint.h"

namespace blockattn {
class Model;
}

namespace blockattn::train {

class AdamW;
class DataParallel;
class MetricsLog;
class ProgressLine;
struct TrainConfig;

// One optimizer step's summed loss, as the task's micro-batches produced it.
struct StepLoss {
  torch::Tensor sum;    // [] on the device; all-reduced across data-parallel processes
  double divisor = 1;   // the step's loss is sum / divisor (after the reduction)
  uint64_t tokens = 0;  // tokens this step consumed (counted into the tokens/s figure)
};

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  // Forward and backward of every micro-batch of the step `state.step` (gradients accumulated
  // into `opt` with accumulate_grads), with the data cursor in `state` advanced past them.
  virtual StepLoss run_step(TrainState& state, AdamW& opt) = 0;
  // Validation after the step `step` (0: before training), reported through `progress` and
  // `metrics` (null on processes that write no files). Does nothing without validation data.
  virtual void validate(int64_t step, ProgressLine& progress, MetricsLog* metrics) = 0;
};

struct TrainLoopOptions {
  std::string out_dir;     // where checkpoints go
  double max_minutes = 0;  // > 0: checkpoint and stop after this much wall time since run_start
  int64_t max_steps = 0;   // > 0: checkpoint and stop after this many steps in this run
  bool validate_at_start = false;  // validate before the first step of a fresh run
  std::string diverged_hint;       // appended to the "training diverged" error
  std::chrono::steady_clock::time_point run_start = std::chrono::steady_clock::now();
  DataParallel* data_parallel = nullptr;  // null: one process
  bool writes_files = true;               // false on data-parallel ranks other than 0
};

struct TrainLoopResult {
  std::vector<double> losses;  // training loss of each step run here
  int64_t run_steps = 0;
  double train_s = 0;   // wall time inside optimizer steps (no validation, no checkpoints)
  uint64_t tokens = 0;  // consumed by this run
};

// Runs steps from state.step until t.total_steps or a stop; `state` ends at the last step done
// and is what the last checkpoint holds. Error "training diverged" on a non-finite loss.
TrainLoopResult run_train_loop(const TrainConfig& t, const TrainLoopOptions& options,
                               TrainTask& task, AdamW& opt, TrainState& state,
                               ProgressLine& progress, MetricsLog* metrics);

// ---- The parts of a run around the loop that every mode shares.

// The checkpoint under `out_dir` to resume ("" when there is none); InputError when one exists
// and `resume` is false. `state` receives its state.json.
std::string checkpoint_to_resume(const std::string& out_dir, bool resume, TrainState& state);

// The trained model saved in `dir` must reproduce `trained`'s logits bit for bit on `ids`
// ([B, T] int64 on the model's device): loads it on the same device and dtype and compares.
// Error naming `dir` (and the largest difference) when it does not.
void check_saved_model_reproduces(const Model& trained, const std::string& dir,
                                  const torch::Tensor& ids);

}  // namespace blockattn::train
