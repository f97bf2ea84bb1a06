// Training throughput and MFU of a pretrain config on random tokens (no corpus needed):
//   bench_pretrain --config configs/reference-10m-h200.json --tokenizer
//   models/blockattn-10m/tokenizer.model
//                  [--steps 60] [--device auto]
// Writes random-token shards (one dataset per data_mix entry) into a temporary directory and
// runs `pretrain` for --steps steps (the first 10 are warm-up, not timed: CUDA kernels are chosen
// then). Prints tokens/s and MFU as the trainer computes them (docs/training.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <random>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "data/token_shard.h"
#include "train/pretrain.h"
#include "train/train_config.h"

namespace fs = std::filesystem;
using namespace blockattn;

// A dataset of random ids in [7, vocab) with documents of 2000..6000 tokens.
static void write_random_dataset(const std::string& dir, const std::string& tokenizer_path,
                                 uint64_t tokens, uint64_t seed) {
  auto tok = Tokenizer::from_file(tokenizer_path);
  TokenShardWriter w(dir + "/train", tok->vocab_size(), tok->fingerprint());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> id(7, tok->vocab_size() - 1);
  std::uniform_int_distribution<int> len(2000, 6000);
  for (uint64_t n = 0; n < tokens;) {
    std::vector<int32_t> doc(len(rng));
    for (auto& t : doc) t = id(rng);
    n += doc.size();
    w.add_document(doc);
  }
  w.finish();
  DatasetInfo info;
  info.tokenizer_file = "tokenizer" + fs::path(tokenizer_path).extension().string();
  info.tokenizer_fingerprint = tok->fingerprint();
  info.tokenizer_vocab_size = tok->vocab_size();
  info.eos_id = tok->eos_id() ? *tok->eos_id() : -1;
  info.train_tokens = w.total_tokens();
  info.documents = w.total_docs();
  fs::copy_file(tokenizer_path, dir + "/" + info.tokenizer_file,
                fs::copy_options::overwrite_existing);
  info.save(dir);
}

int main(int argc, char** argv) {
  CLI::App app{"Pretraining throughput (tokens/s, MFU) of a config on random tokens"};
  std::string config, tokenizer, device = "auto";
  int64_t steps = 60;
  app.add_option("--config", config, "pretrain config (model + training)")->required();
  app.add_option("--tokenizer", tokenizer, "tokenizer file whose vocabulary the data uses")
      ->required();
  app.add_option("--steps", steps, "steps to run (10 of them warm-up)")->capture_default_str();
  app.add_option("--device", device, "auto | cpu | cuda")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    train::PretrainConfig c = train::PretrainConfig::load(config);
    nlohmann::json j = nlohmann::json::parse(read_file(config));
    j["training"]["device"] = device;
    j["training"]["eval_every"] = 0;
    j["training"]["checkpoint_every"] = 0;
    const fs::path tmp =
        fs::temp_directory_path() / ("bench_pretrain_" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    write_file_atomic((tmp / "config.json").string(), j.dump());
    const uint64_t tokens = static_cast<uint64_t>(c.train.tokens_per_step()) * 4 + 100000;
    if (c.train.data_mix.empty()) {
      write_random_dataset((tmp / "data").string(), tokenizer, tokens, 1);
    } else {
      for (size_t i = 0; i < c.train.data_mix.size(); ++i)
        write_random_dataset((tmp / "data" / c.train.data_mix[i].dir).string(), tokenizer, tokens,
                             i + 1);
    }
    train::PretrainOptions o;
    o.config_path = (tmp / "config.json").string();
    o.data_dir = (tmp / "data").string();
    o.progress = nullptr;
    o.out_dir = (tmp / "warmup").string();
    o.max_steps = std::min<int64_t>(10, steps);
    train::run_pretrain(o);
    o.out_dir = (tmp / "timed").string();
    o.max_steps = steps;
    train::PretrainResult r = train::run_pretrain(o);
    const auto& t = c.train;
    std::printf("config %s: %.2f M params, batch %lld x seq %lld = %lld tokens/step\n",
                config.c_str(), c.model.num_parameters() / 1e6,
                (long long)t.batch_size * t.grad_accum, (long long)t.seq_len,
                (long long)t.tokens_per_step());
    std::printf("%lld timed steps: %.0f tokens/s, MFU %s\n", (long long)(r.end_step - r.start_step),
                r.tokens_per_s,
                r.mfu >= 0 ? (std::to_string(100 * r.mfu).substr(0, 5) + "% of " +
                              std::to_string(static_cast<int>(t.peak_flops / 1e12)) + " TFLOP/s")
                                 .c_str()
                           : "n/a (CPU)");
    fs::remove_all(tmp);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
