// `blockattn shard` (JSONL -> token shards) and `blockattn pretrain` (train from scratch).
#include <cstdio>
#include <algorithm>
#include <memory>
#include <thread>

#include "blockattn/error.h"
#include "commands.h"
#include "data/token_shard.h"
#include "train/pretrain.h"

namespace blockattn::cli {

Runner add_shard(CLI::App& app) {
  auto* cmd = app.add_subcommand("shard", "Tokenize JSONL documents into token shards for `pretrain`");
  struct Args {
    std::string tokenizer, out;
    std::vector<std::string> inputs;
    uint64_t tokens_per_shard = 100'000'000, validation_every = 100;
    unsigned threads = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json / tokenizer.model")->required();
  cmd->add_option("--in", a->inputs, "JSONL files (one {\"text\": ...} per line), comma-separated")
      ->required()
      ->delimiter(',');
  cmd->add_option("--out", a->out, "Output data directory (train/, validation/, dataset.json, tokenizer)")->required();
  cmd->add_option("--tokens-per-shard", a->tokens_per_shard, "Roll to a new shard after this many tokens")
      ->capture_default_str();
  cmd->add_option("--validation-every", a->validation_every, "Every Nth document goes to validation/ (0: none)")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "Tokenizer threads (0: all cores); the output is the same for any count")
      ->capture_default_str();
  return [a] {
    ShardBuildOptions opts;
    opts.tokens_per_shard = a->tokens_per_shard;
    opts.validation_every = a->validation_every;
    opts.threads = a->threads > 0 ? a->threads : std::max(1u, std::thread::hardware_concurrency());
    opts.progress = [](const std::string& line) { std::fprintf(stderr, "shard: %s\n", line.c_str()); };
    build_token_dataset(a->tokenizer, a->inputs, a->out, opts);
    return 0;
  };
}

Runner add_pretrain(CLI::App& app) {
  auto* cmd = app.add_subcommand("pretrain", "Train a Llama-family model from scratch on token shards");
  auto o = std::make_shared<train::PretrainOptions>();
  cmd->add_option("--config", o->config_path, "JSON: {\"model\": HF config, \"training\": {...}}")->required();
  cmd->add_option("--data", o->data_dir, "Data directory made by `blockattn shard`")->required();
  cmd->add_option("--out", o->out_dir, "Output directory (checkpoint/, model/)")->required();
  cmd->add_option("--tokenizer", o->tokenizer_path, "Tokenizer file (default: the data directory's copy)");
  cmd->add_flag("--resume", o->resume, "Continue from OUT/checkpoint (starts fresh if there is none)");
  cmd->add_option("--max-minutes", o->max_minutes, "Checkpoint and stop after this many minutes");
  cmd->add_option("--max-steps", o->max_steps, "Checkpoint and stop after this many steps in this run");
  auto shard_mb = std::make_shared<double>(0);
  cmd->add_option("--max-shard-mb", *shard_mb,
                  "Save the final model as Hugging Face shards of at most this many MiB (0: one file)")
      ->capture_default_str();
  return [o, shard_mb] {
    if (*shard_mb < 0) throw InputError("--max-shard-mb must be >= 0");
    o->max_shard_bytes = static_cast<uint64_t>(*shard_mb * 1024 * 1024);
    train::PretrainResult r = train::run_pretrain(*o);
    (void)r;  // a run paused by --max-minutes/--max-steps is a success too: re-run with --resume
    return 0;
  };
}

}  // namespace blockattn::cli
