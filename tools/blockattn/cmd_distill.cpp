// `blockattn distill` (block distillation from a frozen full-attention teacher) and
// `blockattn blockft` (block fine-tuning, the Block-Attention baseline). docs/distillation.md.
#include <algorithm>
#include <memory>
#include <thread>

#include "blockattn/error.h"
#include "commands.h"
#include "launch.h"
#include "train/distill.h"

namespace blockattn::cli {

namespace {

Runner add_block_training(CLI::App& app, train::BlockTrainMethod method) {
  const bool distill = method == train::BlockTrainMethod::kDistill;
  auto* cmd = app.add_subcommand(distill ? "distill" : "blockft",
                                 distill ? "Block distillation: train a copy of a full-attention "
                                           "model to keep its predictions under block "
                                           "attention, guided by the frozen original (KL), with "
                                           "block sinks, block dropout and token weighting"
                                         : "Block fine-tuning (the Block-Attention baseline): "
                                           "cross-entropy under the block mask, full- and "
                                           "block-attention copies of the samples mixed");
  auto o = std::make_shared<train::DistillOptions>();
  o->method = method;
  auto nproc = std::make_shared<int>(1);
  auto shard_mb = std::make_shared<double>(0);
  auto threads = std::make_shared<unsigned>(0);
  cmd->add_option(distill ? "--teacher" : "--model", o->teacher_dir,
                  distill ? "Teacher model directory (frozen; the student starts as a copy)"
                          : "Model directory to fine-tune")
      ->required();
  if (distill)
    cmd->add_option("--student", o->student_dir,
                    "Start the student from this model instead (same architecture and tokenizer as "
                    "the teacher)");
  cmd->add_option("--data", o->data_dir,
                  "Directory of block samples: train/*.jsonl and optionally validation/*.jsonl "
                  "(`blockattn blockdata`, `blockattn synth --format blocks`)")
      ->required();
  cmd->add_option("--out", o->out_dir, "Output directory (checkpoint/, metrics.jsonl, model/)")
      ->required();
  cmd->add_option(
      "--config", o->config_path,
      "JSON {\"training\": {...}, \"distill\": {...}} (docs/distillation.md); training.total_steps "
      "or total_tokens is required");
  cmd->add_flag("--resume", o->resume, "Continue from OUT/checkpoint");
  cmd->add_option("--max-minutes", o->max_minutes, "Checkpoint and stop after this many minutes");
  cmd->add_option("--max-steps", o->max_steps,
                  "Checkpoint and stop after this many steps in this run");
  cmd->add_option("--max-shard-mb", *shard_mb,
                  "Save the model as HF shards of at most this many MiB (0: one file)")
      ->capture_default_str();
  cmd->add_option(
         "--nproc", *nproc,
         "Data-parallel processes on this host (c10d: NCCL, one GPU each; Gloo on CPU); the global "
         "batch stays training.batch_size rows")
      ->capture_default_str();
  cmd->add_option("--threads", *threads, "Tokenizer threads while loading samples (0: all cores)")
      ->capture_default_str();
  return [o, nproc, shard_mb, threads] {
    if (*shard_mb < 0) throw InputError("--max-shard-mb must be >= 0");
    o->max_shard_bytes = static_cast<uint64_t>(*shard_mb * 1024 * 1024);
    o->threads = *threads > 0 ? *threads : std::max(1u, std::thread::hardware_concurrency());
    return run_processes(*nproc, o->out_dir, [o](int rank, int world, const std::string& store) {
      train::DistillOptions mine = *o;
      mine.rank = rank;
      mine.world = world;
      mine.store_path = store;
      if (rank > 0) mine.threads = std::max<size_t>(1, mine.threads / static_cast<size_t>(world));
      train::run_distill(mine);
      return 0;
    });
  };
}

}  // namespace

Runner add_distill(CLI::App& app) {
  return add_block_training(app, train::BlockTrainMethod::kDistill);
}
Runner add_blockft(CLI::App& app) {
  return add_block_training(app, train::BlockTrainMethod::kBlockFt);
}

}  // namespace blockattn::cli
