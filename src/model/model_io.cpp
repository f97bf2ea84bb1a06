// Model::load / Model::random and save_model: moving weights between safetensors and memory.
#include "model/model_io.h"

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/weight_names.h"
#include "core/hash.h"
#include "core/io.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/torch_dtype.h"

namespace blockattn {

namespace {

torch::ScalarType resolve_dtype(const std::string& name, torch::Device device) {
  if (name == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  const torch::ScalarType dtype = parse_float_dtype(name);
  // libtorch's CPU kernels lack half-precision matrix products: refuse it here, not at the
  // first matmul with libtorch's own message.
  if (dtype == torch::kFloat16 && !device.is_cuda())
    throw UnsupportedError(
        "--dtype float16 needs a CUDA device; on the CPU use float32 or bfloat16");
  return dtype;
}

void tie_or_check(ModelWeights& w, const ModelConfig& config) {
  if (config.tie_word_embeddings) w.lm_head = w.embed;
}

}  // namespace

std::shared_ptr<Model> Model::load(const std::string& dir, const ModelLoadOptions& options) {
  if (!is_directory(dir)) throw IoError("model directory " + dir + " does not exist");
  ModelConfig config = ModelConfig::load(dir);
  Checkpoint checkpoint = Checkpoint::open(dir);
  check_checkpoint_matches(checkpoint, config);
  torch::Device device = resolve_device(options.device);
  torch::ScalarType dtype = resolve_dtype(options.dtype, device);
  std::shared_ptr<Model> model(new Model(config, device, dtype));

  Hasher128 fingerprint;
  fingerprint.update_field(config.to_json());
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : model->weights_.named(config)) {
    const TensorInfo& info = checkpoint.at(name);
    // Read into a host tensor of the stored dtype, then convert/move once. When the stored dtype
    // is the target and the device is the CPU, that host tensor *is* the final weight.
    torch::Tensor host =
        torch::empty(info.shape, torch::TensorOptions().dtype(to_torch(info.dtype)));
    checkpoint.read(name, host.data_ptr());
    fingerprint.update_field(name);
    fingerprint.update(host.data_ptr(), info.nbytes);
    *tensor = host.to(device, dtype);
  }
  tie_or_check(model->weights_, config);
  model->fingerprint_ = fingerprint.digest().hex();
  return model;
}

std::shared_ptr<Model> Model::random(const ModelConfig& config, const ModelLoadOptions& options,
                                     uint64_t seed) {
  config.validate();
  torch::Device device = resolve_device(options.device);
  torch::ScalarType dtype = resolve_dtype(options.dtype, device);
  std::shared_ptr<Model> model(new Model(config, device, dtype));
  auto gen = at::detail::createCPUGenerator(seed);
  torch::NoGradGuard no_grad;
  auto specs = expected_tensors(config);
  auto named = model->weights_.named(config);
  for (auto& [name, tensor] : named) {
    const ExpectedTensor* spec = nullptr;
    for (const auto& e : specs)
      if (e.name == name) spec = &e;
    if (!spec) throw Error("internal: no shape for " + name);
    torch::Tensor host;
    if (name.find("norm") != std::string::npos) {
      host = torch::ones(spec->shape, torch::kFloat32);
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      host = torch::zeros(spec->shape, torch::kFloat32);
    } else {
      host = at::normal(0.0, 0.02, spec->shape, gen, torch::TensorOptions().dtype(torch::kFloat32));
    }
    *tensor = host.to(device, dtype);
  }
  tie_or_check(model->weights_, config);
  Hasher128 fingerprint;
  fingerprint.update_field(config.to_json());
  fingerprint.update_field("random");
  fingerprint.update_pod(seed);
  model->fingerprint_ = fingerprint.digest().hex();
  return model;
}

std::shared_ptr<Model> Model::merged_with(const LoraAdapter& adapter,
                                          const LoraBlockSettings* block_settings) {
  std::shared_ptr<Model> merged(
      new Model(block_settings ? with_lora_block_settings(config_, *block_settings) : config_,
                device_, dtype_));
  torch::NoGradGuard no_grad;
  auto mine = weights_.named(config_);
  auto theirs = merged->weights_.named(config_);
  for (size_t i = 0; i < mine.size(); ++i) *theirs[i].second = mine[i].second->clone();
  tie_or_check(merged->weights_, config_);
  merge_lora_into(adapter, merged->weights_.layers);
  Hasher128 fingerprint;
  fingerprint.update_field(fingerprint_);
  fingerprint.update_field(adapter.fingerprint());
  merged->fingerprint_ = fingerprint.digest().hex();
  return merged;
}

void save_model(Model& model, const std::string& dir, torch::ScalarType dtype,
                uint64_t max_shard_bytes) {
  struct Host {
    std::string name;
    torch::Tensor tensor;  // contiguous, on the CPU, in `dtype`
    uint64_t bytes;
  };
  std::vector<Host> hosts;
  uint64_t total = 0;
  for (auto& [name, tensor] : model.weights().named(model.config())) {
    torch::Tensor host = tensor->detach().to(torch::kCPU, dtype).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(host.numel() * host.element_size());
    hosts.push_back({name, host, bytes});
    total += bytes;
  }
  // Greedy packing in weight order; a tensor larger than the limit gets a shard of its own.
  std::vector<std::vector<const Host*>> shards(1);
  uint64_t in_shard = 0;
  for (const Host& h : hosts) {
    if (max_shard_bytes > 0 && in_shard > 0 && in_shard + h.bytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&h);
    in_shard += h.bytes;
  }
  ModelConfig config = model.config();
  config.torch_dtype = float_dtype_name(dtype);
  write_file_atomic(dir + "/config.json", config.to_json());

  // Files of the other layout would make the directory ambiguous to Checkpoint::open.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string f = entry.path().filename().string();
    if (f.rfind("model", 0) == 0 && (f.find(".safetensors") != std::string::npos))
      std::filesystem::remove(entry.path());
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char file[64];
    std::snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    const std::string name = shards.size() == 1 ? "model.safetensors" : file;
    SafetensorsWriter writer;
    for (const Host* h : shards[i]) {
      std::vector<int64_t> shape(h->tensor.sizes().begin(), h->tensor.sizes().end());
      writer.add(h->name, from_torch(dtype), shape, h->tensor.data_ptr(), h->bytes);
      weight_map[h->name] = name;
    }
    writer.set_metadata("format", "pt");
    writer.write(dir + "/" + name);
  }
  if (shards.size() > 1)
    write_file_atomic(
        dir + "/model.safetensors.index.json",
        nlohmann::json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2) +
            "\n");
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const auto& e : std::filesystem::directory_iterator(from)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("tokenizer", 0) == 0)
      write_file_atomic(to + "/" + name, read_file(e.path().string()));
  }
}

}  // namespace blockattn
