// Training data mixtures: WindowSampler over several sources (weights, document-start windows,
// determinism) and `pretrain` with a data_mix config; sharded model export.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "core/io.h"
#include "data/token_shard.h"
#include "expect_error.h"
#include "test_util.h"
#include "train/pretrain.h"
#include "train/window_sampler.h"

namespace blockattn {
namespace {

using test::TempDir;
const std::string kFingerprint = "00112233445566778899aabbccddeeff";

// Documents of `doc_len` tokens; each starts with `marker` (which appears nowhere else) and is
// filled with `fill`.
TokenDataset make_source(const std::string& dir, int32_t marker, int32_t fill, int docs,
                         int doc_len) {
  TokenShardWriter w(dir, 100, kFingerprint, 50);
  for (int d = 0; d < docs; ++d) {
    std::vector<int32_t> ids(doc_len, fill);
    ids[0] = marker;
    w.add_document(ids);
  }
  w.finish();
  return TokenDataset::open(dir, kFingerprint);
}

TEST(WindowSampler, MixturesFollowWeightsAndDocumentStarts) {
  TempDir tmp;
  TokenDataset a = make_source(tmp / "a", 1, 2, 40, 30);  // windows anywhere
  TokenDataset b = make_source(tmp / "b", 7, 8, 40, 12);  // windows at document starts
  const int64_t T = 9;
  train::WindowSampler s({{&a, 3, false}, {&b, 1, true}}, T, 5, 0);
  std::vector<int64_t> w;
  const int n = 4000;
  s.next(n, w);
  int from_b = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t* row = &w[i * (T + 1)];
    const bool is_b = row[0] == 7 || row[0] == 8;
    if (is_b) {
      ++from_b;
      EXPECT_EQ(row[0], 7) << "window " << i
                           << " of a document-start source starts inside a document";
    }
  }
  EXPECT_NEAR(from_b / double(n), 0.25, 0.03);

  // Window i depends on (seed, stream, i) only.
  train::WindowSampler again({{&a, 3, false}, {&b, 1, true}}, T, 5, 0);
  again.set_cursor(1000);
  std::vector<int64_t> w2;
  again.next(10, w2);
  EXPECT_TRUE(std::equal(w2.begin(), w2.end(), w.begin() + 1000 * (T + 1)));

  EXPECT_THROW(train::WindowSampler({{&a, 0, false}}, T, 5, 0), InputError);
  EXPECT_THROW(train::WindowSampler({{&b, 1, true}}, 500, 5, 0), InputError);  // no window fits
}

TEST(PretrainDataMix, LogsPerSourceValidationAndExportsShards) {
  at::set_num_threads(1);
  TempDir tmp;
  const std::string tok = test::fixture("models/tiny-llama/tokenizer.json");
  for (const char* name : {"prose", "lists"}) {
    std::ofstream f(tmp / (std::string(name) + ".jsonl"));
    for (int d = 0; d < 40; ++d) {
      std::string text;
      for (int i = 0; i < 10; ++i)
        text += std::string(name) == "prose" ? "the cat sat on the mat. " : "1, 2, 3, 4; ";
      f << "{\"text\": \"" << text << "\"}\n";
    }
    f.close();
    ShardBuildOptions opts;
    opts.validation_every = 8;
    opts.threads = 2;
    build_token_dataset(tok, {tmp / (std::string(name) + ".jsonl")},
                        tmp / (std::string("data/") + name), opts);
  }
  const std::string config =
      R"({"model": {"model_type": "llama", "vocab_size": 512, "hidden_size": 32,
      "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true},
    "training": {"seq_len": 32, "batch_size": 4, "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 2, "total_steps": 6,
      "eval_every": 3, "eval_batches": 1, "log_every": 3, "seed": 3, "device": "cpu",
      "data_mix": [{"dir": "prose", "weight": 2}, {"dir": "lists", "weight": 1, "windows": "documents"}]}})";
  write_file_atomic(tmp / "mix.json", config);
  train::PretrainOptions o;
  o.config_path = tmp / "mix.json";
  o.data_dir = tmp / "data";
  o.out_dir = tmp / "run";
  o.progress = nullptr;
  o.max_shard_bytes = 20000;  // the micro model's 17k fp32 embedding + the rest: several shards
  train::PretrainResult r = train::run_pretrain(o);
  ASSERT_TRUE(r.finished);

  int val_lines = 0;
  std::ifstream metrics(tmp / "run/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("val")) continue;
    ++val_lines;
    EXPECT_TRUE(j["val"].contains("prose") && j["val"].contains("lists")) << line;
    const double mean = (2 * j["val"]["prose"].get<double>() + j["val"]["lists"].get<double>()) / 3;
    EXPECT_NEAR(j["val_loss"].get<double>(), mean, 1e-9);
  }
  EXPECT_EQ(val_lines, 2);

  EXPECT_TRUE(file_exists(tmp / "run/model/model.safetensors.index.json"));
  EXPECT_FALSE(file_exists(tmp / "run/model/model.safetensors"));
  EngineConfig ec;
  ec.model_dir = tmp / "run/model";
  ec.device = "cpu";
  auto engine = Engine::create(ec);
  GenerateRequest req;
  req.blocks = {"the cat"};
  req.query = "sat";
  req.max_new_tokens = 3;
  EXPECT_EQ(engine->generate(req).timings.blocks_total, 1);

  // A source made with another tokenizer is refused by name.
  TokenShardWriter w(tmp / "data/lists/train", 512, kFingerprint, 10);
  w.add_document(std::vector<int32_t>(40, 5));
  w.finish();
  o.out_dir = tmp / "run2";
  EXPECT_CONTAINS(test::error_of<FormatError>([&] { train::run_pretrain(o); }),
                  "was made with tokenizer " + kFingerprint);
}

}  // namespace
}  // namespace blockattn
