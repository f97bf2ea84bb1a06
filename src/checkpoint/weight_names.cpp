// Hugging Face weight names and shapes for the supported decoder architectures.
#include "checkpoint/weight_names.h"

#include <algorithm>
#include <set>

#include "blockattn/error.h"
#include "core/strings.h"

namespace blockattn {

namespace {

// One per-layer tensor of the table. `sublayer_norm` marks the two norms that open a sublayer
// (input_layernorm before attention, post_attention_layernorm before the MLP): the only rows the
// two orders place differently.
struct LayerTensor {
  WeightRole role;
  const char* suffix;  // after "model.layers.<i>."
  bool sublayer_norm;
  bool (*present)(const ModelConfig&);
  std::vector<int64_t> (*shape)(const ModelConfig&);
};

int64_t q_dim(const ModelConfig& c) { return c.num_heads * c.head_dim; }
int64_t kv_dim(const ModelConfig& c) { return c.num_kv_heads * c.head_dim; }
bool always(const ModelConfig&) { return true; }
bool with_qkv_bias(const ModelConfig& c) { return c.qkv_bias; }
bool with_o_bias(const ModelConfig& c) { return c.o_bias; }
bool with_qk_norm(const ModelConfig& c) { return c.qk_norm; }
bool with_mlp_bias(const ModelConfig& c) { return c.mlp_bias; }

// In storage order. torch Linear stores weight as [out_features, in_features].
const LayerTensor kLayerTensors[] = {
    {WeightRole::kInputNorm, "input_layernorm.weight", true, always,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.hidden_size}; }},
    {WeightRole::kQProj, "self_attn.q_proj.weight", false, always,
     [](const ModelConfig& c) {
       return std::vector<int64_t>{q_dim(c), c.hidden_size};
     }},
    {WeightRole::kKProj, "self_attn.k_proj.weight", false, always,
     [](const ModelConfig& c) {
       return std::vector<int64_t>{kv_dim(c), c.hidden_size};
     }},
    {WeightRole::kVProj, "self_attn.v_proj.weight", false, always,
     [](const ModelConfig& c) {
       return std::vector<int64_t>{kv_dim(c), c.hidden_size};
     }},
    {WeightRole::kOProj, "self_attn.o_proj.weight", false, always,
     [](const ModelConfig& c) {
       return std::vector<int64_t>{c.hidden_size, q_dim(c)};
     }},
    {WeightRole::kQBias, "self_attn.q_proj.bias", false, with_qkv_bias,
     [](const ModelConfig& c) { return std::vector<int64_t>{q_dim(c)}; }},
    {WeightRole::kKBias, "self_attn.k_proj.bias", false, with_qkv_bias,
     [](const ModelConfig& c) { return std::vector<int64_t>{kv_dim(c)}; }},
    {WeightRole::kVBias, "self_attn.v_proj.bias", false, with_qkv_bias,
     [](const ModelConfig& c) { return std::vector<int64_t>{kv_dim(c)}; }},
    {WeightRole::kOBias, "self_attn.o_proj.bias", false, with_o_bias,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.hidden_size}; }},
    {WeightRole::kQNorm, "self_attn.q_norm.weight", false, with_qk_norm,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.head_dim}; }},
    {WeightRole::kKNorm, "self_attn.k_norm.weight", false, with_qk_norm,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.head_dim}; }},
    {WeightRole::kPostNorm, "post_attention_layernorm.weight", true, always,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.hidden_size}; }},
    {WeightRole::kGateProj, "mlp.gate_proj.weight", false, always,
     [](const ModelConfig& c) {
       return std::vector<int64_t>{c.intermediate_size, c.hidden_size};
     }},
    {WeightRole::kUpProj, "mlp.up_proj.weight", false, always,
     [](const ModelConfig& c) {
       return std::vector<int64_t>{c.intermediate_size, c.hidden_size};
     }},
    {WeightRole::kDownProj, "mlp.down_proj.weight", false, always,
     [](const ModelConfig& c) {
       return std::vector<int64_t>{c.hidden_size, c.intermediate_size};
     }},
    {WeightRole::kGateBias, "mlp.gate_proj.bias", false, with_mlp_bias,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.intermediate_size}; }},
    {WeightRole::kUpBias, "mlp.up_proj.bias", false, with_mlp_bias,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.intermediate_size}; }},
    {WeightRole::kDownBias, "mlp.down_proj.bias", false, with_mlp_bias,
     [](const ModelConfig& c) { return std::vector<int64_t>{c.hidden_size}; }},
};

enum class Order { kCheckpoint, kStorage };

std::vector<ExpectedTensor> weight_table(const ModelConfig& c, Order order) {
  std::vector<ExpectedTensor> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, WeightRole::kEmbed});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    auto add = [&](const LayerTensor& t) {
      if (t.present(c)) out.push_back({prefix + t.suffix, t.shape(c), t.role, i});
    };
    if (order == Order::kStorage) {
      for (const LayerTensor& t : kLayerTensors) add(t);
    } else {
      for (const LayerTensor& t : kLayerTensors)
        if (!t.sublayer_norm) add(t);
      for (const LayerTensor& t : kLayerTensors)
        if (t.sublayer_norm) add(t);
    }
  }
  out.push_back({"model.norm.weight", {c.hidden_size}, WeightRole::kFinalNorm});
  if (!c.tie_word_embeddings)
    out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}, WeightRole::kLmHead});
  return out;
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  return weight_table(c, Order::kCheckpoint);
}

std::vector<ExpectedTensor> weights_in_storage_order(const ModelConfig& c) {
  return weight_table(c, Order::kStorage);
}

void check_checkpoint_matches(const Checkpoint& ck, const ModelConfig& c) {
  // Cross-check the layer count against the checkpoint before listing the expected tensors: a
  // corrupt num_hidden_layers (1e6) would otherwise build millions of names (gigabytes) first.
  int64_t layers_present = 0;
  const std::string prefix = "model.layers.";
  for (const std::string& name : ck.names()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    int64_t i = 0;
    size_t pos = prefix.size(), digits = 0;
    for (; pos < name.size() && name[pos] >= '0' && name[pos] <= '9' && digits < 12;
         ++pos, ++digits)
      i = i * 10 + (name[pos] - '0');
    if (digits > 0) layers_present = std::max(layers_present, i + 1);
  }
  if (c.num_layers > layers_present)
    throw FormatError(ck.dir() + ": config.json has num_hidden_layers " +
                      std::to_string(c.num_layers) + " but the checkpoint holds tensors for " +
                      std::to_string(layers_present) + " layers (no 'model.layers." +
                      std::to_string(layers_present) + ".*')");
  std::vector<std::string> problems;
  std::set<std::string> expected_names;
  auto check_tensor = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const TensorInfo& t = ck.at(name);
    if (t.shape != shape)
      problems.push_back("tensor '" + name + "' in " + ck.file_of(name) + " has shape " +
                         shape_string(t.shape) + ", expected " + shape_string(shape));
    if (t.dtype != DType::kF32 && t.dtype != DType::kBF16 && t.dtype != DType::kF16)
      problems.push_back("tensor '" + name + "' in " + ck.file_of(name) + " has dtype " +
                         std::string(dtype_name(t.dtype)) + ", expected F32, BF16 or F16");
  };
  for (const ExpectedTensor& e : expected_tensors(c)) {
    expected_names.insert(e.name);
    if (!ck.find(e.name)) {
      problems.push_back("missing tensor '" + e.name + "' (shape " + shape_string(e.shape) + ")");
      continue;
    }
    check_tensor(e.name, e.shape);
  }
  for (const std::string& name : ck.names()) {
    if (expected_names.count(name) || ends_with(name, ".rotary_emb.inv_freq")) continue;
    // Some tools save the tied head anyway; it is the same matrix, so it is ignored.
    if (c.tie_word_embeddings && name == "lm_head.weight") {
      check_tensor(name, {c.vocab_size, c.hidden_size});
      continue;
    }
    problems.push_back("unexpected tensor '" + name + "' in " + ck.file_of(name));
  }
  if (problems.empty()) return;

  constexpr size_t kMaxListed = 10;
  std::string msg = ck.dir() + ": checkpoint does not match config.json (" + c.model_type + ", " +
                    std::to_string(c.num_layers) + " layers): ";
  for (size_t i = 0; i < problems.size() && i < kMaxListed; ++i)
    msg += (i ? "; " : "") + problems[i];
  if (problems.size() > kMaxListed)
    msg += "; ... and " + std::to_string(problems.size() - kMaxListed) + " more";
  throw FormatError(msg);
}

}  // namespace blockattn
