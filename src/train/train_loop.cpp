#include "train/train_loop.h"

#include <cmath>
#include <memory>

#include "blockattn/error.h"
#include "model/model.h"
#include "model/model_io.h"
#include "model/torch_dtype.h"
#include "train/adamw.h"
#include "train/data_parallel.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/train_config.h"

namespace blockattn::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Every process must hold the same weights after every step; compares one checksum per process.
void check_in_sync(AdamW& opt, DataParallel& dp) {
  if (dp.world() == 1) return;
  torch::NoGradGuard no_grad;
  double checksum = 0;
  for (const Param& p : opt.params()) checksum += p.master.to(torch::kFloat64).sum().item<double>();
  torch::Tensor all =
      torch::zeros({dp.world()}, torch::TensorOptions().dtype(torch::kFloat64));  // [world]
  all[dp.rank()] = checksum;
  if (opt.params().front().master.is_cuda()) all = all.to(opt.params().front().master.device());
  dp.all_reduce_sum({all});
  all = all.to(torch::kCPU);
  for (int r = 0; r < dp.world(); ++r)
    if (all[r].item<double>() != checksum)
      throw Error("data-parallel processes diverged: weights checksum of rank " +
                  std::to_string(r) + " is " + std::to_string(all[r].item<double>()) + ", rank " +
                  std::to_string(dp.rank()) + " has " + std::to_string(checksum));
}

bool several_processes(const TrainLoopOptions& o) {
  return o.data_parallel && o.data_parallel->world() > 1;
}

// The task's micro-batches, the all-reduce, clipping and the AdamW update at `lr` of one step;
// returns the step's loss (waiting for the device).
double optimizer_step(const TrainLoopOptions& o, TrainTask& task, AdamW& opt, TrainState& state,
                      double lr, uint64_t& tokens) {
  StepLoss step = task.run_step(state, opt);
  if (several_processes(o)) {
    o.data_parallel->all_reduce_sum(opt.gradients());
    o.data_parallel->all_reduce_sum({step.sum});
  }
  opt.clip_grads();
  opt.step(state.step, lr);
  const double loss = step.sum.item<double>() / step.divisor;
  if (!std::isfinite(loss))
    throw Error("training diverged: loss is " + std::to_string(loss) + " at step " +
                std::to_string(state.step) + " (" + o.diverged_hint + ")");
  tokens = step.tokens;
  return loss;
}

void save(const TrainLoopOptions& o, AdamW& opt, const TrainState& state) {
  if (o.data_parallel) check_in_sync(opt, *o.data_parallel);
  if (o.writes_files) save_checkpoint(o.out_dir, opt, state);
  if (o.data_parallel) o.data_parallel->barrier();
}

// --max-minutes: every process stops at the same step, when any one of them is out of time.
bool out_of_time(const TrainLoopOptions& o) {
  bool out = o.max_minutes > 0 && seconds_since(o.run_start) >= o.max_minutes * 60.0;
  if (several_processes(o)) out = o.data_parallel->all_reduce_sum(out ? 1.0 : 0.0) > 0;
  return out;
}

}  // namespace

TrainLoopResult run_train_loop(const TrainConfig& t, const TrainLoopOptions& o, TrainTask& task,
                               AdamW& opt, TrainState& state, ProgressLine& progress,
                               MetricsLog* metrics) {
  TrainLoopResult r;
  if (o.validate_at_start && state.step == 0 && t.eval_every > 0)
    task.validate(state.step, progress, metrics);  // the starting point
  while (state.step < t.total_steps) {
    const Clock::time_point step_start = Clock::now();
    const double lr = lr_at(t, state.step);
    uint64_t step_tokens = 0;
    const double loss = optimizer_step(o, task, opt, state, lr, step_tokens);
    ++state.step;
    ++r.run_steps;
    state.tokens_seen += step_tokens;
    r.tokens += step_tokens;
    const double step_s = seconds_since(step_start);
    r.train_s += step_s;
    state.elapsed_s += step_s;
    r.losses.push_back(loss);
    const double tps = static_cast<double>(r.tokens) / r.train_s;
    progress.update(state.step, loss, lr, tps,
                    (t.total_steps - state.step) * r.train_s / r.run_steps);

    const bool last = state.step == t.total_steps;
    if (metrics && t.log_every > 0 && (state.step % t.log_every == 0 || last))
      metrics->log_step(state.step, loss, lr, tps, static_cast<int64_t>(state.tokens_seen));
    if (t.eval_every > 0 && (state.step % t.eval_every == 0 || last))
      task.validate(state.step, progress, metrics);
    const bool stop_for_time = out_of_time(o);
    const bool stop_for_steps = o.max_steps > 0 && r.run_steps >= o.max_steps;
    if (last || stop_for_time || stop_for_steps ||
        (t.checkpoint_every > 0 && state.step % t.checkpoint_every == 0))
      save(o, opt, state);
    if (!last && (stop_for_time || stop_for_steps)) {
      progress.message("stopped at step " + std::to_string(state.step) + "/" +
                       std::to_string(t.total_steps) + "; checkpoint in " + o.out_dir +
                       "/checkpoint (re-run with --resume to continue)");
      break;
    }
  }
  return r;
}

std::string checkpoint_to_resume(const std::string& out_dir, bool resume, TrainState& state) {
  const std::string checkpoint = find_checkpoint(out_dir);
  if (checkpoint.empty()) return checkpoint;
  if (!resume)
    throw InputError(
        out_dir +
        " already holds a checkpoint: pass --resume to continue it, or use another --out");
  state = read_checkpoint_state(checkpoint);
  return checkpoint;
}

void check_saved_model_reproduces(const Model& trained, const std::string& dir,
                                  const torch::Tensor& ids) {
  ModelLoadOptions lo;
  lo.device = trained.device().str();
  lo.dtype = float_dtype_name(trained.dtype());
  std::shared_ptr<Model> loaded = Model::load(dir, lo);
  torch::NoGradGuard no_grad;
  torch::Tensor a = trained.forward_train(ids), b = loaded->forward_train(ids);  // [B, T, V]
  if (!torch::equal(a, b))
    throw Error("the saved model in " + dir +
                " does not reproduce the trained weights' logits (max |diff| " +
                std::to_string((a - b).abs().max().item<double>()) + ")");
}

}  // namespace blockattn::train
