// LoRA adapters in PEFT's layout: config, initialisation, files and merging.
#include "model/lora.h"

#include <cmath>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "checkpoint/safetensors.h"
#include "core/hash.h"
#include "core/io.h"
#include "model/torch_dtype.h"
#include "model/weights.h"

namespace blockattn {

namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";

bool parse_target(const std::string& name, LoraTarget* out) {
  for (int t = 0; t < kLoraTargets; ++t)
    if (name == lora_target_name(static_cast<LoraTarget>(t))) {
      *out = static_cast<LoraTarget>(t);
      return true;
    }
  return false;
}

std::string all_target_names() {
  std::string s;
  for (int t = 0; t < kLoraTargets; ++t)
    s += std::string(t ? ", " : "") + lora_target_name(static_cast<LoraTarget>(t));
  return s;
}

// The projection weight a target adapts, in a layer.
torch::Tensor& target_weight(LayerWeights& w, LoraTarget t) {
  switch (t) {
    case LoraTarget::kQ:
      return w.q_proj;
    case LoraTarget::kK:
      return w.k_proj;
    case LoraTarget::kV:
      return w.v_proj;
    case LoraTarget::kO:
      return w.o_proj;
    case LoraTarget::kGate:
      return w.gate_proj;
    case LoraTarget::kUp:
      return w.up_proj;
    case LoraTarget::kDown:
      return w.down_proj;
  }
  throw Error("internal: bad LoRA target");
}

}  // namespace

const char* lora_target_name(LoraTarget t) {
  switch (t) {
    case LoraTarget::kQ:
      return "q_proj";
    case LoraTarget::kK:
      return "k_proj";
    case LoraTarget::kV:
      return "v_proj";
    case LoraTarget::kO:
      return "o_proj";
    case LoraTarget::kGate:
      return "gate_proj";
    case LoraTarget::kUp:
      return "up_proj";
    case LoraTarget::kDown:
      return "down_proj";
  }
  return "?";
}

std::pair<int64_t, int64_t> lora_target_dims(const ModelConfig& c, LoraTarget t) {
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  switch (t) {
    case LoraTarget::kQ:
      return {c.hidden_size, q};
    case LoraTarget::kK:
    case LoraTarget::kV:
      return {c.hidden_size, kv};
    case LoraTarget::kO:
      return {q, c.hidden_size};
    case LoraTarget::kGate:
    case LoraTarget::kUp:
      return {c.hidden_size, c.intermediate_size};
    case LoraTarget::kDown:
      return {c.intermediate_size, c.hidden_size};
  }
  throw Error("internal: bad LoRA target");
}

double LoraConfig::scale() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

bool LoraConfig::targets_module(LoraTarget t) const {
  for (const std::string& name : targets)
    if (name == lora_target_name(t)) return true;
  return false;
}

void LoraConfig::validate() const {
  if (rank < 1) throw InputError("LoRA rank must be at least 1 (got " + std::to_string(rank) + ")");
  if (!(alpha > 0))
    throw InputError("LoRA alpha must be positive (got " + std::to_string(alpha) + ")");
  if (!(dropout >= 0 && dropout < 1))
    throw InputError("LoRA dropout must be in [0, 1) (got " + std::to_string(dropout) + ")");
  if (targets.empty()) throw InputError("LoRA needs at least one target module");
  std::set<std::string> seen;
  for (const std::string& name : targets) {
    LoraTarget t;
    if (!parse_target(name, &t))
      throw InputError("unknown LoRA target module '" + name + "' (known: " + all_target_names() +
                       ")");
    if (!seen.insert(name).second)
      throw InputError("LoRA target module '" + name + "' given twice");
  }
}

LoraConfig LoraConfig::from_json(const std::string& text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw InputError(where + ": a LoRA config must be a JSON object");
  LoraConfig c;
  try {
    auto number = [&](std::initializer_list<const char*> keys, double* out) {
      for (const char* k : keys)
        if (j.contains(k) && !j[k].is_null()) {
          if (!j[k].is_number()) throw InputError(where + ": '" + k + "' must be a number");
          *out = j[k].get<double>();
        }
    };
    double rank = static_cast<double>(c.rank);
    number({"r", "rank"}, &rank);
    if (rank != std::floor(rank)) throw InputError(where + ": the LoRA rank must be an integer");
    c.rank = static_cast<int64_t>(rank);
    number({"lora_alpha", "alpha"}, &c.alpha);
    number({"lora_dropout", "dropout"}, &c.dropout);
    if (j.contains("use_rslora") && !j["use_rslora"].is_null()) {
      if (!j["use_rslora"].is_boolean())
        throw InputError(where + ": 'use_rslora' must be a boolean");
      c.rslora = j["use_rslora"].get<bool>();
    }
    for (const char* key : {"target_modules", "targets"}) {
      if (!j.contains(key) || j[key].is_null()) continue;
      const nlohmann::json& t = j[key];
      c.targets.clear();
      if (t.is_string()) {
        // PEFT's shorthand for every linear layer but the output head; other strings are regular
        // expressions over module paths, which we do not evaluate.
        const std::string s = t.get<std::string>();
        if (s == "all-linear") {
          for (int i = 0; i < kLoraTargets; ++i)
            c.targets.push_back(lora_target_name(static_cast<LoraTarget>(i)));
        } else {
          LoraTarget parsed;
          if (!parse_target(s, &parsed))
            throw InputError(where + ": target_modules \"" + s +
                             "\" is a pattern; give a list of module names (" + all_target_names() +
                             ")");
          c.targets.push_back(s);
        }
      } else if (t.is_array()) {
        for (const auto& e : t) {
          if (!e.is_string()) throw InputError(where + ": target modules must be strings");
          c.targets.push_back(e.get<std::string>());
        }
      } else {
        throw InputError(where + ": '" + key + "' must be a list of module names");
      }
    }
    if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
      c.base_model = j["base_model_name_or_path"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where + ": " + e.what());
  }
  try {
    c.validate();
  } catch (const InputError& e) {
    throw InputError(where + ": " + e.what());
  }
  return c;
}

std::string peft_tensor_name(int64_t layer, LoraTarget t, bool b_matrix) {
  const bool attention =
      t == LoraTarget::kQ || t == LoraTarget::kK || t == LoraTarget::kV || t == LoraTarget::kO;
  return "base_model.model.model.layers." + std::to_string(layer) +
         (attention ? ".self_attn." : ".mlp.") + lora_target_name(t) +
         (b_matrix ? ".lora_B.weight" : ".lora_A.weight");
}

std::vector<std::pair<std::string, torch::Tensor*>> LoraAdapter::named() {
  std::vector<std::pair<std::string, torch::Tensor*>> out;
  for (size_t l = 0; l < layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      LoraPair& p = layers[l][t];
      if (!p.defined()) continue;
      out.emplace_back(peft_tensor_name(static_cast<int64_t>(l), static_cast<LoraTarget>(t), false),
                       &p.a);
      out.emplace_back(peft_tensor_name(static_cast<int64_t>(l), static_cast<LoraTarget>(t), true),
                       &p.b);
    }
  return out;
}

std::string LoraAdapter::fingerprint() const {
  Hasher128 h;
  h.update_field("lora");
  h.update_pod(config.rank);
  h.update_pod(config.scale());
  for (size_t l = 0; l < layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const LoraPair& p = layers[l][t];
      if (!p.defined()) continue;
      h.update_field(peft_tensor_name(static_cast<int64_t>(l), static_cast<LoraTarget>(t), false));
      for (const torch::Tensor* m : {&p.a, &p.b}) {
        torch::Tensor host = m->detach().to(torch::kCPU, torch::kFloat32).contiguous();
        h.update(host.data_ptr(), static_cast<size_t>(host.numel()) * sizeof(float));
      }
    }
  return h.digest().hex();
}

LoraAdapter new_lora_adapter(const ModelConfig& model, const LoraConfig& config,
                             torch::Device device, uint64_t seed, double b_std) {
  config.validate();
  LoraAdapter a;
  a.config = config;
  a.layers.resize(static_cast<size_t>(model.num_layers));
  auto gen = at::detail::createCPUGenerator(seed);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  torch::NoGradGuard no_grad;
  for (auto& layer : a.layers)
    for (int t = 0; t < kLoraTargets; ++t) {
      if (!config.targets_module(static_cast<LoraTarget>(t))) continue;
      auto [in, out] = lora_target_dims(model, static_cast<LoraTarget>(t));
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      torch::Tensor A = at::empty({config.rank, in}, f32).uniform_(-bound, bound, gen);  // [r, in]
      torch::Tensor B = b_std > 0 ? at::normal(0.0, b_std, {out, config.rank}, gen, f32)
                                  : torch::zeros({out, config.rank}, f32);  // [out, r]
      layer[t] = {A.to(device), B.to(device)};
    }
  return a;
}

LoraAdapter load_lora_adapter(const std::string& dir, const ModelConfig& model,
                              torch::Device device) {
  if (!is_directory(dir)) throw IoError("adapter directory " + dir + " does not exist");
  const std::string config_path = dir + "/" + kConfigFile;
  const std::string text = read_file(config_path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(config_path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw FormatError(config_path + ": not a JSON object");
  const std::string type = j.value("peft_type", std::string());
  if (type != "LORA")
    throw FormatError(config_path + ": peft_type is '" + type + "'; only LORA adapters load");
  // Features that change what the adapter computes: refused rather than silently ignored.
  auto refuse_if = [&](const char* key, bool present, const char* what) {
    if (present) throw FormatError(config_path + ": " + key + " (" + what + ") is not supported");
  };
  auto nonempty = [&](const char* key) {
    return j.contains(key) && !j[key].is_null() && !j[key].empty() && j[key] != false;
  };
  refuse_if("use_dora", nonempty("use_dora"), "DoRA");
  refuse_if("rank_pattern", nonempty("rank_pattern"), "per-module ranks");
  refuse_if("alpha_pattern", nonempty("alpha_pattern"), "per-module alphas");
  refuse_if("layers_to_transform", nonempty("layers_to_transform"), "a subset of layers");
  refuse_if("modules_to_save", nonempty("modules_to_save"), "fully trained modules");
  refuse_if("fan_in_fan_out", nonempty("fan_in_fan_out"), "transposed weights");
  refuse_if("bias", j.contains("bias") && j["bias"] != "none", "trained biases");
  refuse_if("lora_bias", nonempty("lora_bias"), "a bias on lora_B");
  refuse_if("layer_replication", nonempty("layer_replication"), "replicated layers");
  refuse_if("exclude_modules", nonempty("exclude_modules"), "excluded module paths");
  refuse_if("trainable_token_indices", nonempty("trainable_token_indices"), "trained embeddings");
  refuse_if("target_parameters", nonempty("target_parameters"), "adapted parameters");
  refuse_if("use_qalora", nonempty("use_qalora"), "QA-LoRA");
  LoraConfig config;
  try {
    config = LoraConfig::from_json(text, config_path);
  } catch (const InputError& e) {
    throw FormatError(e.what());
  }

  const std::string weights_path = dir + "/" + kWeightsFile;
  SafetensorsFile file = SafetensorsFile::open(weights_path);
  LoraAdapter a;
  a.config = config;
  a.layers.resize(static_cast<size_t>(model.num_layers));
  std::set<std::string> expected;
  torch::NoGradGuard no_grad;
  for (int64_t l = 0; l < model.num_layers; ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const LoraTarget target = static_cast<LoraTarget>(t);
      if (!config.targets_module(target)) continue;
      auto [in, out] = lora_target_dims(model, target);
      torch::Tensor* dst[2] = {&a.layers[static_cast<size_t>(l)][t].a,
                               &a.layers[static_cast<size_t>(l)][t].b};
      const std::vector<int64_t> shapes[2] = {{config.rank, in}, {out, config.rank}};
      for (int m = 0; m < 2; ++m) {
        const std::string name = peft_tensor_name(l, target, m == 1);
        expected.insert(name);
        const TensorInfo* info = file.find(name);
        if (!info) throw FormatError(weights_path + ": no tensor '" + name + "'");
        if (info->shape != shapes[m])
          throw FormatError(weights_path + ": tensor '" + name + "' has shape " +
                            shape_string(info->shape) + ", the model needs " +
                            shape_string(shapes[m]) + " (an adapter of another base model?)");
        torch::Tensor host =
            torch::empty(info->shape, torch::TensorOptions().dtype(to_torch(info->dtype)));
        file.read(*info, host.data_ptr());
        *dst[m] = host.to(device, torch::kFloat32);
      }
    }
  for (const TensorInfo& info : file.tensors())
    if (!expected.count(info.name))
      throw FormatError(weights_path + ": unexpected tensor '" + info.name +
                        "' (not a LoRA matrix of a target module of this model)");
  return a;
}

void save_lora_adapter(LoraAdapter& adapter, const std::string& dir) {
  std::filesystem::create_directories(dir);
  nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"r", adapter.config.rank},
      {"lora_alpha", adapter.config.alpha},
      {"lora_dropout", adapter.config.dropout},
      {"use_rslora", adapter.config.rslora},
      {"target_modules", adapter.config.targets},
      {"base_model_name_or_path", adapter.config.base_model},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"use_dora", false},
      {"rank_pattern", nlohmann::json::object()},
      {"alpha_pattern", nlohmann::json::object()},
      {"modules_to_save", nullptr},
      {"layers_to_transform", nullptr},
  };
  std::vector<torch::Tensor> hosts;  // keeps the bytes alive until write()
  SafetensorsWriter writer;
  for (auto& [name, tensor] : adapter.named()) {
    torch::Tensor host = tensor->detach().to(torch::kCPU, torch::kFloat32).contiguous();
    hosts.push_back(host);
    std::vector<int64_t> shape(host.sizes().begin(), host.sizes().end());
    writer.add(name, DType::kF32, shape, host.data_ptr(),
               static_cast<size_t>(host.numel()) * sizeof(float));
  }
  writer.set_metadata("format", "pt");
  writer.write(dir + "/" + kWeightsFile);
  write_file_atomic(dir + "/" + kConfigFile, config.dump(2) + "\n");
}

ModelConfig with_lora_block_settings(ModelConfig base, const LoraBlockSettings& settings) {
  base.block_sink_tokens = settings.sink_tokens;
  base.block_sink_token_id.reset();
  if (settings.sink_tokens > 0 && settings.sink_token_id >= 0)
    base.block_sink_token_id = settings.sink_token_id;
  return base;
}

std::optional<LoraBlockSettings> read_lora_block_settings(const std::string& dir) {
  const std::string path = dir + "/blockattn_adapter.json";
  if (!file_exists(path)) return std::nullopt;
  LoraBlockSettings s;
  try {
    nlohmann::json j = nlohmann::json::parse(read_file(path));
    s.sink_tokens = j.value("block_sink_tokens", 0);
    s.sink_token_id = j.value("block_sink_token_id", -1);
    s.base_fingerprint = j.value("base_fingerprint", std::string());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": " + e.what());
  }
  if (s.sink_tokens < 0 || s.sink_tokens > 64)
    throw FormatError(path + ": block_sink_tokens must be in [0, 64]");
  return s;
}

void write_lora_block_settings(const LoraBlockSettings& s, const std::string& dir) {
  nlohmann::json j = {{"block_sink_tokens", s.sink_tokens},
                      {"block_sink_token_id", s.sink_token_id},
                      {"base_fingerprint", s.base_fingerprint}};
  write_file_atomic(dir + "/blockattn_adapter.json", j.dump(2) + "\n");
}

void merge_lora_into(const LoraAdapter& adapter, std::vector<LayerWeights>& layers) {
  if (adapter.layers.size() != layers.size())
    throw InputError("the adapter has " + std::to_string(adapter.layers.size()) +
                     " layers, the model " + std::to_string(layers.size()));
  torch::NoGradGuard no_grad;
  const double scale = adapter.config.scale();
  for (size_t l = 0; l < layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const LoraPair& p = adapter.layers[l][t];
      if (!p.defined()) continue;
      torch::Tensor& w = target_weight(layers[l], static_cast<LoraTarget>(t));  // [out, in]
      torch::Tensor delta = torch::matmul(p.b.to(w.device(), torch::kFloat32),
                                          p.a.to(w.device(), torch::kFloat32));  // [out, in]
      w.copy_(w.to(torch::kFloat32).add_(delta, scale));
    }
}

}  // namespace blockattn
