#include "checkpoint/checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "blockattn/model_config.h"
#include "checkpoint/weight_names.h"
#include "core/io.h"
#include "expect_error.h"
#include "test_util.h"

namespace blockattn {
namespace {

namespace fs = std::filesystem;

using test::error_of;

const char* const kModels[] = {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"};

std::string model_dir(const std::string& model) { return test::fixture("models/" + model); }

// A writable copy of a fixture model directory.
void copy_model(const std::string& model, const test::TempDir& dir) {
  for (const auto& e : fs::directory_iterator(model_dir(model)))
    fs::copy_file(e.path(), dir / e.path().filename().string());
}

TEST(Checkpoint, FixturesMatchTheirConfigs) {
  for (const char* model : kModels) {
    SCOPED_TRACE(model);
    const ModelConfig config = ModelConfig::load(model_dir(model));
    const Checkpoint ck = Checkpoint::open(model_dir(model));
    EXPECT_EQ(ck.dir(), model_dir(model));

    const std::vector<ExpectedTensor> expected = expected_tensors(config);
    std::vector<std::string> expected_names;
    int64_t params = 0;
    for (const ExpectedTensor& e : expected) {
      expected_names.push_back(e.name);
      const TensorInfo& t = ck.at(e.name);
      EXPECT_EQ(t.shape, e.shape) << e.name;
      int64_t n = 1;
      for (int64_t d : e.shape) n *= d;
      params += n;
    }
    std::sort(expected_names.begin(), expected_names.end());
    EXPECT_EQ(ck.names(), expected_names);
    EXPECT_EQ(ck.size(), expected.size());
    EXPECT_EQ(params, config.num_parameters());
    EXPECT_NO_THROW(check_checkpoint_matches(ck, config));

    const DType stored = config.torch_dtype == "bfloat16" ? DType::kBF16 : DType::kF32;
    for (const std::string& name : ck.names()) EXPECT_EQ(ck.at(name).dtype, stored) << name;
    EXPECT_EQ(ck.total_bytes(), static_cast<uint64_t>(params) * dtype_size(stored));
  }
}

TEST(Checkpoint, ShardedFollowsTheIndex) {
  const std::string dir = model_dir("tiny-llama");
  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_EQ(ck.files().size(), 6u);
  const nlohmann::json index =
      nlohmann::json::parse(read_file(dir + "/model.safetensors.index.json"));
  EXPECT_EQ(ck.total_bytes(), index["metadata"]["total_size"].get<uint64_t>());
  EXPECT_EQ(ModelConfig::load(dir).num_parameters(),
            index["metadata"]["total_parameters"].get<int64_t>());
  for (const auto& [name, file] : index["weight_map"].items()) {
    EXPECT_EQ(ck.file_of(name), dir + "/" + file.get<std::string>());
    // Bytes through the checkpoint equal bytes read from the shard directly.
    const TensorInfo& t = ck.at(name);
    std::vector<char> a(t.nbytes), b(t.nbytes);
    ck.read(name, a.data());
    SafetensorsFile shard = SafetensorsFile::open(ck.file_of(name));
    shard.read(shard.at(name), b.data());
    EXPECT_EQ(a, b) << name;
  }
}

TEST(Checkpoint, SingleFileReads) {
  const std::string dir = model_dir("tiny-qwen2");
  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_EQ(ck.files().size(), 1u);
  EXPECT_EQ(ck.file_of("model.norm.weight"), dir + "/model.safetensors");
  std::vector<float> norm(64);
  ck.read("model.norm.weight", norm.data());
  EXPECT_EQ(ck.find("lm_head.weight"), nullptr);  // tied
  std::string msg = error_of<FormatError>([&] { ck.at("lm_head.weight"); });
  EXPECT_CONTAINS(msg, dir);
  EXPECT_CONTAINS(msg, "'lm_head.weight'");
  EXPECT_THROW(ck.read("nope", norm.data()), FormatError);
  EXPECT_THROW(ck.file_of("nope"), FormatError);
}

TEST(Checkpoint, NoWeightsIsAnIoErrorNamingBothFiles) {
  test::TempDir dir;
  std::string msg = error_of<IoError>([&] { Checkpoint::open(dir.path()); });
  EXPECT_CONTAINS(msg, dir.path());
  EXPECT_CONTAINS(msg, "model.safetensors ");
  EXPECT_CONTAINS(msg, "model.safetensors.index.json");
}

TEST(Checkpoint, DirectoryPathForms) {
  const Checkpoint ck = Checkpoint::open(model_dir("tiny-qwen3") + "/");
  EXPECT_EQ(ck.file_of("model.norm.weight"), model_dir("tiny-qwen3") + "/model.safetensors");
  std::string msg = error_of<IoError>([] { Checkpoint::open("/nonexistent-model-dir"); });
  EXPECT_CONTAINS(msg, "/nonexistent-model-dir");
}

TEST(Checkpoint, MissingShardIsAnIoErrorNamingIt) {
  test::TempDir dir;
  copy_model("tiny-llama", dir);
  fs::remove(dir / "model-00004-of-00006.safetensors");
  std::string msg = error_of<IoError>([&] { Checkpoint::open(dir.path()); });
  EXPECT_CONTAINS(msg, "model-00004-of-00006.safetensors");
}

void rewrite_index(const test::TempDir& dir, const std::function<void(nlohmann::json&)>& edit) {
  const std::string path = dir / "model.safetensors.index.json";
  nlohmann::json index = nlohmann::json::parse(read_file(path));
  edit(index);
  write_file_atomic(path, index.dump());
}

TEST(Checkpoint, BadIndexIsAFormatError) {
  test::TempDir dir;
  copy_model("tiny-llama", dir);
  rewrite_index(dir, [](nlohmann::json& j) {
    j["weight_map"]["model.norm.weight"] = "model-00001-of-00006.safetensors";
  });
  std::string msg = error_of<FormatError>([&] { Checkpoint::open(dir.path()); });
  EXPECT_CONTAINS(msg, "'model.norm.weight'");
  EXPECT_CONTAINS(msg, "model-00001-of-00006.safetensors");

  rewrite_index(
      dir, [](nlohmann::json& j) { j["weight_map"]["model.norm.weight"] = "../x.safetensors"; });
  EXPECT_THROW(Checkpoint::open(dir.path()), FormatError);
  rewrite_index(dir, [](nlohmann::json& j) { j["weight_map"]["model.norm.weight"] = 3; });
  EXPECT_THROW(Checkpoint::open(dir.path()), FormatError);
  rewrite_index(dir, [](nlohmann::json& j) { j.erase("weight_map"); });
  msg = error_of<FormatError>([&] { Checkpoint::open(dir.path()); });
  EXPECT_CONTAINS(msg, "model.safetensors.index.json");
  write_file_atomic(dir / "model.safetensors.index.json", "{\"weight_map\": ");
  EXPECT_THROW(Checkpoint::open(dir.path()), FormatError);
}

// ---------------------------------------------------------------- check_checkpoint_matches

// Writes a single-file checkpoint holding `tensors` (zero-filled F32).
void write_checkpoint(const test::TempDir& dir, const std::vector<ExpectedTensor>& tensors) {
  SafetensorsWriter w;
  for (const ExpectedTensor& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    std::vector<float> zeros(static_cast<size_t>(n));
    w.add_copy(t.name, DType::kF32, t.shape, zeros.data(), zeros.size() * sizeof(float));
  }
  w.write(dir / "model.safetensors");
}

TEST(Checkpoint, MatchReportsMissingUnexpectedAndMisshapen) {
  ModelConfig config = ModelConfig::load(model_dir("tiny-llama"));
  config.qkv_bias = config.o_bias = config.mlp_bias = true;
  std::vector<ExpectedTensor> tensors = expected_tensors(config);
  EXPECT_EQ(tensors.size(), 1 + 2 * (4 + 4 + 6 + 2) + 1 + 1u);
  {
    test::TempDir dir;
    write_checkpoint(dir, tensors);
    EXPECT_NO_THROW(check_checkpoint_matches(Checkpoint::open(dir.path()), config));
  }
  std::vector<ExpectedTensor> bad = tensors;
  bad.erase(bad.begin() + 3);                                            // layer 0 v_proj.weight
  bad[1].shape = {63, 64};                                               // layer 0 q_proj.weight
  bad.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {8}});  // accepted
  bad.push_back({"model.extra.weight", {2}});
  test::TempDir dir;
  write_checkpoint(dir, bad);
  std::string msg = error_of<FormatError>(
      [&] { check_checkpoint_matches(Checkpoint::open(dir.path()), config); });
  EXPECT_CONTAINS(msg, dir.path());
  EXPECT_CONTAINS(msg, "missing tensor 'model.layers.0.self_attn.v_proj.weight'");
  EXPECT_CONTAINS(msg, "tensor 'model.layers.0.self_attn.q_proj.weight' in " +
                           (dir / "model.safetensors") + " has shape [63, 64], expected [64, 64]");
  EXPECT_CONTAINS(msg, "unexpected tensor 'model.extra.weight'");
  EXPECT_EQ(msg.find("inv_freq"), std::string::npos) << msg;
}

// Issue 13 item 3: num_hidden_layers 1e6 used to build ~11 million expected tensor names (4.2 GB)
// before reporting the mismatch; the layer count is now checked against the checkpoint first.
TEST(Checkpoint, LayerCountIsCheckedAgainstTheCheckpointFirst) {
  ModelConfig config = ModelConfig::load(model_dir("tiny-llama"));
  test::TempDir dir;
  write_checkpoint(dir, expected_tensors(config));
  const Checkpoint ck = Checkpoint::open(dir.path());
  config.num_layers = 1000000;
  std::string msg = error_of<FormatError>([&] { check_checkpoint_matches(ck, config); });
  EXPECT_CONTAINS(msg, dir.path());
  EXPECT_CONTAINS(
      msg,
      "config.json has num_hidden_layers 1000000 but the checkpoint holds tensors for 2 layers");
  config.num_layers = int64_t{1} << 60;
  EXPECT_THROW(check_checkpoint_matches(ck, config), FormatError);
  config.num_layers = 1;  // fewer layers than stored: the detailed listing names the extras
  msg = error_of<FormatError>([&] { check_checkpoint_matches(ck, config); });
  EXPECT_CONTAINS(msg, "unexpected tensor 'model.layers.1.");
}

TEST(Checkpoint, TiedModelMayStillStoreLmHead) {
  ModelConfig config = ModelConfig::load(model_dir("tiny-qwen2"));
  ASSERT_TRUE(config.tie_word_embeddings);
  std::vector<ExpectedTensor> tensors = expected_tensors(config);
  tensors.push_back({"lm_head.weight", {config.vocab_size, config.hidden_size}});
  test::TempDir dir;
  write_checkpoint(dir, tensors);
  EXPECT_NO_THROW(check_checkpoint_matches(Checkpoint::open(dir.path()), config));

  // The untied model of the same shape must have lm_head.
  config.tie_word_embeddings = false;
  tensors.pop_back();
  test::TempDir dir2;
  write_checkpoint(dir2, tensors);
  std::string msg = error_of<FormatError>(
      [&] { check_checkpoint_matches(Checkpoint::open(dir2.path()), config); });
  EXPECT_CONTAINS(msg, "missing tensor 'lm_head.weight'");
}

TEST(Checkpoint, ExpectedTensorsAgreeWithNumParameters) {
  for (const char* model : kModels) {
    ModelConfig base = ModelConfig::load(model_dir(model));
    for (int variant = 0; variant < 4; ++variant) {
      ModelConfig c = base;
      c.tie_word_embeddings = variant & 1;
      if (variant & 2 && c.arch == Architecture::kLlama) c.qkv_bias = c.o_bias = c.mlp_bias = true;
      if (variant & 2 && c.arch == Architecture::kQwen3) c.qkv_bias = c.o_bias = true;
      c.validate();
      int64_t sum = 0;
      for (const ExpectedTensor& e : expected_tensors(c)) {
        int64_t n = 1;
        for (int64_t d : e.shape) n *= d;
        sum += n;
      }
      EXPECT_EQ(sum, c.num_parameters()) << model << " variant " << variant;
    }
  }
}

}  // namespace
}  // namespace blockattn
