// `blockattn pretrain` on a micro model: learning, exact resume, export, and input errors.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "data/token_shard.h"
#include "expect_error.h"
#include "test_util.h"
#include "train/pretrain.h"

namespace blockattn {
namespace {

using test::TempDir;

const std::string kTokenizer = test::fixture("models/tiny-llama/tokenizer.json");

// A micro Llama (hidden 32, 2 layers) and a short schedule; `overrides` patch the text.
std::string config_json(int64_t total_steps, const std::string& hidden = "32", double lr = 1e-2) {
  return R"({"model": {"model_type": "llama", "vocab_size": 512, "hidden_size": )" + hidden +
         R"(, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "max_position_embeddings": 64, "rope_theta": 10000.0,
             "rms_norm_eps": 1e-5, "tie_word_embeddings": true},
  "training": {"seq_len": 32, "batch_size": 4, "grad_accum": 2, "lr": )" +
         std::to_string(lr) + R"(, "min_lr": 1e-3, "warmup_steps": 5,
             "total_steps": )" + std::to_string(total_steps) + R"(, "weight_decay": 0.1, "grad_clip": 1.0,
             "eval_every": 20, "eval_batches": 2, "checkpoint_every": 0, "seed": 7, "device": "cpu"}})";
}

std::string write_config(const TempDir& tmp, const std::string& name, const std::string& text) {
  write_file_atomic(tmp / name, text);
  return tmp / name;
}

// Repetitive text: a handful of sentences in a fixed cycle, so a micro model can learn it.
std::string make_data(const TempDir& tmp) {
  const char* sentences[] = {"the cat sat on the mat. ", "a dog ran in the park. ", "we like green tea. ",
                             "birds sing at dawn. "};
  std::ofstream f(tmp / "docs.jsonl");
  for (int d = 0; d < 60; ++d) {
    std::string text;
    for (int i = 0; i < 12; ++i) text += sentences[(d + i) % 4];
    f << "{\"text\": \"" << text << "\"}\n";
  }
  f.close();
  ShardBuildOptions opts;
  opts.tokens_per_shard = 2000;
  opts.validation_every = 10;
  build_token_dataset(kTokenizer, {tmp / "docs.jsonl"}, tmp / "data", opts);
  return tmp / "data";
}

train::PretrainOptions options(const std::string& config, const std::string& data, const std::string& out) {
  train::PretrainOptions o;
  o.config_path = config;
  o.data_dir = data;
  o.out_dir = out;
  o.progress = nullptr;
  return o;
}

using test::error_of;

class Pretrain : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }
};

TEST_F(Pretrain, LossFallsAndTheSavedModelGenerates) {
  TempDir tmp;
  const std::string data = make_data(tmp);
  train::PretrainResult r = train::run_pretrain(options(write_config(tmp, "c.json", config_json(60)), data, tmp / "out"));
  ASSERT_TRUE(r.finished);
  ASSERT_EQ(r.losses.size(), 60u);
  std::printf("loss: start %.4f, end %.4f; validation %.4f at step %lld\n", r.losses.front(), r.losses.back(),
              r.val_losses.back().second, (long long)r.val_losses.back().first);
  EXPECT_LT(r.losses.back(), 0.5 * r.losses.front());
  EXPECT_LT(r.val_losses.back().second, 0.5 * r.losses.front());
  EXPECT_LT(r.mfu, 0);  // n/a on the CPU

  EngineConfig ec;
  ec.model_dir = r.model_dir;
  ec.device = "cpu";
  auto engine = Engine::create(ec);
  GenerateRequest req;
  req.blocks = {"the cat sat on the mat. a dog ran"};
  req.query = " in the";
  req.chat_template = false;
  req.max_new_tokens = 6;
  GenerateResult g = engine->generate(req);
  EXPECT_FALSE(g.tokens.empty());
}

TEST_F(Pretrain, ResumeFromACheckpointIsBitwiseIdentical) {
  TempDir tmp;
  const std::string data = make_data(tmp);
  const std::string config = write_config(tmp, "c.json", config_json(10));
  train::PretrainResult whole = train::run_pretrain(options(config, data, tmp / "a"));
  ASSERT_EQ(whole.losses.size(), 10u);

  train::PretrainOptions o = options(config, data, tmp / "b");
  o.max_steps = 4;
  train::PretrainResult first = train::run_pretrain(o);
  EXPECT_FALSE(first.finished);
  EXPECT_EQ(first.end_step, 4);
  o.max_steps = 0;
  o.resume = true;
  train::PretrainResult rest = train::run_pretrain(o);
  EXPECT_TRUE(rest.finished);
  EXPECT_EQ(rest.start_step, 4);
  std::vector<double> split = first.losses;
  split.insert(split.end(), rest.losses.begin(), rest.losses.end());
  ASSERT_EQ(split.size(), whole.losses.size());
  for (size_t i = 0; i < split.size(); ++i) EXPECT_EQ(split[i], whole.losses[i]) << "step " << i;  // bitwise
  EXPECT_EQ(read_file(tmp / "a/model/model.safetensors"), read_file(tmp / "b/model/model.safetensors"));
}

TEST_F(Pretrain, BadInputsGiveClearErrors) {
  TempDir tmp;
  const std::string data = make_data(tmp);
  const std::string good = write_config(tmp, "good.json", config_json(3));

  EXPECT_NE(error_of<FormatError>([&] {
              train::run_pretrain(options(write_config(tmp, "h.json", config_json(3, "30")), data, tmp / "o1"));
            }).find("not divisible by num_attention_heads"),
            std::string::npos);
  EXPECT_NE(error_of<IoError>([&] { train::run_pretrain(options(good, tmp / "nodata", tmp / "o2")); })
                .find("data directory " + (tmp / "nodata") + " does not exist"),
            std::string::npos);

  // A checkpoint from another config (different lr), and an existing one without --resume.
  train::PretrainOptions o = options(good, data, tmp / "o3");
  o.max_steps = 1;
  train::run_pretrain(o);
  EXPECT_NE(error_of<InputError>([&] { train::run_pretrain(options(good, data, tmp / "o3")); }).find("--resume"),
            std::string::npos);
  train::PretrainOptions other = options(write_config(tmp, "lr.json", config_json(3, "32", 5e-3)), data, tmp / "o3");
  other.resume = true;
  EXPECT_NE(error_of<InputError>([&] { train::run_pretrain(other); }).find("different config (training.lr differs"),
            std::string::npos);

  // A shard made with another tokenizer among the training shards.
  TokenShardWriter w(data + "/train", 512, "00112233445566778899aabbccddeeff", 10);
  w.add_document(std::vector<int32_t>(40, 5));
  w.finish();  // overwrites shard-00000.bats
  EXPECT_NE(error_of<FormatError>([&] { train::run_pretrain(options(good, data, tmp / "o4")); })
                .find("was made with tokenizer 00112233445566778899aabbccddeeff, not"),
            std::string::npos);
}

}  // namespace
}  // namespace blockattn
