// Hugging Face weight names and shapes for the supported decoder architectures.
#include "checkpoint/weight_names.h"

#include <algorithm>
#include <set>

#include "blockattn/error.h"
#include "core/strings.h"

namespace blockattn {

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  const int64_t h = c.hidden_size, q_dim = c.num_heads * c.head_dim,
                kv_dim = c.num_kv_heads * c.head_dim, inter = c.intermediate_size;
  std::vector<ExpectedTensor> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    // torch Linear stores weight as [out_features, in_features].
    out.push_back({p + "self_attn.q_proj.weight", {q_dim, h}});
    out.push_back({p + "self_attn.k_proj.weight", {kv_dim, h}});
    out.push_back({p + "self_attn.v_proj.weight", {kv_dim, h}});
    out.push_back({p + "self_attn.o_proj.weight", {h, q_dim}});
    if (c.qkv_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q_dim}});
      out.push_back({p + "self_attn.k_proj.bias", {kv_dim}});
      out.push_back({p + "self_attn.v_proj.bias", {kv_dim}});
    }
    if (c.o_bias) out.push_back({p + "self_attn.o_proj.bias", {h}});
    if (c.qk_norm) {
      out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    out.push_back({p + "mlp.gate_proj.weight", {inter, h}});
    out.push_back({p + "mlp.up_proj.weight", {inter, h}});
    out.push_back({p + "mlp.down_proj.weight", {h, inter}});
    if (c.mlp_bias) {
      out.push_back({p + "mlp.gate_proj.bias", {inter}});
      out.push_back({p + "mlp.up_proj.bias", {inter}});
      out.push_back({p + "mlp.down_proj.bias", {h}});
    }
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
  }
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  return out;
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
