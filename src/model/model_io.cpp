// Model::load / Model::random and save_model: moving weights between safetensors and memory.
#include "model/model_io.h"

#include "blockattn/error.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/weight_names.h"
#include "core/hash.h"
#include "core/io.h"
#include "model/model.h"
#include "model/torch_dtype.h"

namespace blockattn {

namespace {

torch::ScalarType resolve_dtype(const std::string& name, torch::Device device) {
  if (name == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  return parse_float_dtype(name);
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
    torch::Tensor host = torch::empty(info.shape, torch::TensorOptions().dtype(to_torch(info.dtype)));
    checkpoint.read(name, host.data_ptr());
    fingerprint.update_field(name);
    fingerprint.update(host.data_ptr(), info.nbytes);
    *tensor = host.to(device, dtype);
  }
  tie_or_check(model->weights_, config);
  model->fingerprint_ = fingerprint.digest().hex();
  return model;
}

std::shared_ptr<Model> Model::random(const ModelConfig& config, const ModelLoadOptions& options, uint64_t seed) {
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

void save_model(Model& model, const std::string& dir, torch::ScalarType dtype) {
  SafetensorsWriter writer;
  std::vector<torch::Tensor> keep_alive;
  for (auto& [name, tensor] : model.weights().named(model.config())) {
    torch::Tensor host = tensor->detach().to(torch::kCPU, dtype).contiguous();
    keep_alive.push_back(host);
    std::vector<int64_t> shape(host.sizes().begin(), host.sizes().end());
    writer.add(name, from_torch(dtype), shape, host.data_ptr(), host.numel() * host.element_size());
  }
  writer.set_metadata("format", "pt");
  ModelConfig config = model.config();
  config.torch_dtype = float_dtype_name(dtype);
  write_file_atomic(dir + "/config.json", config.to_json());
  writer.write(dir + "/model.safetensors");
}

}  // namespace blockattn
