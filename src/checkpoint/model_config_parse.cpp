// ModelConfig::from_json / load: Hugging Face config.json (transformers 4 and 5 styles).
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/model_config.h"
#include "checkpoint/model_config_names.h"
#include "core/io.h"

namespace blockattn {

namespace {

using json = nlohmann::json;

// Typed access to one JSON object's fields with errors naming the file and the field.
// A field set to null counts as absent: transformers writes null for "not set".
class Fields {
 public:
  Fields(const json& obj, const std::string& source, std::string prefix = "")
      : obj_(obj), source_(source), prefix_(std::move(prefix)) {}

  const json* get(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  bool has(const char* key) const { return get(key) != nullptr; }

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw FormatError(source_ + ": field \"" + prefix_ + key + "\" " + what);
  }

  const json& required(const char* key) const {
    if (const json* v = get(key)) return *v;
    fail(key, "is missing");
  }

  // Integers; an integral float (8192.0) is accepted since some tools write those.
  int64_t as_int(const char* key, const json& v) const {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
        fail(key, "is too large");
      return v.get<int64_t>();
    }
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::floor(d) == d && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
    }
    fail(key, "must be an integer, got " + v.dump());
  }
  int64_t required_int(const char* key) const { return as_int(key, required(key)); }
  std::optional<int64_t> opt_int(const char* key) const {
    const json* v = get(key);
    return v ? std::optional<int64_t>(as_int(key, *v)) : std::nullopt;
  }
  int32_t as_token_id(const char* key, const json& v) const {
    int64_t id = as_int(key, v);
    if (id < 0 || id > INT32_MAX) fail(key, "is not a valid token id: " + v.dump());
    return static_cast<int32_t>(id);
  }

  double as_number(const char* key, const json& v) const {
    if (!v.is_number()) fail(key, "must be a number, got " + v.dump());
    return v.get<double>();
  }
  double required_number(const char* key) const { return as_number(key, required(key)); }
  double number_or(const char* key, double fallback) const {
    const json* v = get(key);
    return v ? as_number(key, *v) : fallback;
  }

  bool bool_or(const char* key, bool fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(key, "must be true or false, got " + v->dump());
    return v->get<bool>();
  }

  std::optional<std::string> opt_string(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) fail(key, "must be a string, got " + v->dump());
    return v->get<std::string>();
  }

  const std::string& source() const { return source_; }

 private:
  const json& obj_;
  const std::string& source_;
  std::string prefix_;
};

ArchitectureNames resolve_architecture(const Fields& f) {
  if (auto model_type = f.opt_string("model_type")) {
    if (const ArchitectureNames* a = find_architecture_by_model_type(*model_type)) return *a;
    throw UnsupportedError(f.source() + ": unsupported model_type \"" + *model_type +
                           "\" (supported: " + supported_model_types() + ")");
  }
  // No model_type: fall back to the class name, as transformers' AutoConfig cannot but
  // hand-written configs sometimes only carry "architectures".
  if (const json* archs = f.get("architectures");
      archs && archs->is_array() && !archs->empty() && (*archs)[0].is_string()) {
    const std::string cls = (*archs)[0].get<std::string>();
    if (const ArchitectureNames* a = find_architecture_by_class(cls)) return *a;
    throw UnsupportedError(f.source() + ": unsupported architecture \"" + cls +
                           "\" (supported: " + supported_model_types() + ")");
  }
  f.fail("model_type", "is missing (and there is no \"architectures\" list)");
}

// transformers >= 5: "rope_parameters" holds everything. Older files: "rope_theta" at the
// top level and "rope_scaling" (null for plain RoPE) with "rope_type" or, older still, "type".
RopeConfig parse_rope(const Fields& top) {
  RopeConfig rope;
  const json* params = nullptr;
  std::string where;
  if (const json* p = top.get("rope_parameters")) {
    params = p;
    where = "rope_parameters";
  } else if (const json* s = top.get("rope_scaling")) {
    params = s;
    where = "rope_scaling";
  }
  if (params && !params->is_object()) top.fail(where.c_str(), "must be an object or null");

  const json empty = json::object();
  Fields p(params ? *params : empty, top.source(), where + ".");
  rope.theta = p.has("rope_theta") ? p.required_number("rope_theta")
                                   : top.number_or("rope_theta", rope.theta);
  if (auto t = p.opt_string("rope_type")) {
    rope.type = *t;
  } else if (auto legacy = p.opt_string("type")) {
    rope.type = *legacy;
  }
  if (rope.type == "llama3") {
    rope.factor = p.required_number("factor");
    rope.low_freq_factor = p.required_number("low_freq_factor");
    rope.high_freq_factor = p.required_number("high_freq_factor");
    rope.original_max_position_embeddings = p.required_int("original_max_position_embeddings");
  } else if (rope.type != "default") {
    throw UnsupportedError(top.source() + ": RoPE type \"" + rope.type + "\" in \"" + where +
                           "\" is not supported (supported: default, llama3)");
  }
  return rope;
}

// blockattn implements full causal attention only; a model trained with a sliding window
// would silently produce different outputs beyond the window, so refuse it.
void reject_sliding_window(const ModelConfig& c, const Fields& f) {
  const std::string msg = f.source() + ": sliding-window attention not supported";
  if (c.arch == Architecture::kMistral) {
    if (auto window = f.opt_int("sliding_window"); window && *window < c.max_position_embeddings)
      throw UnsupportedError(msg + " (sliding_window " + std::to_string(*window) +
                             " < max_position_embeddings " +
                             std::to_string(c.max_position_embeddings) + ")");
  }
  if ((c.arch == Architecture::kQwen2 || c.arch == Architecture::kQwen3) &&
      f.bool_or("use_sliding_window", false))
    throw UnsupportedError(msg + " (use_sliding_window is true)");
  if (const json* types = f.get("layer_types")) {
    if (!types->is_array()) f.fail("layer_types", "must be a list");
    for (const json& t : *types)
      if (!t.is_string() || t.get<std::string>() != "full_attention")
        throw UnsupportedError(msg + " (layer_types contains " + t.dump() + ")");
  }
}

void parse_token_ids(ModelConfig& c, const Fields& f) {
  if (const json* eos = f.get("eos_token_id")) {
    if (eos->is_array()) {
      for (const json& id : *eos) c.eos_token_ids.push_back(f.as_token_id("eos_token_id", id));
    } else {
      c.eos_token_ids.push_back(f.as_token_id("eos_token_id", *eos));
    }
  }
  if (const json* bos = f.get("bos_token_id")) c.bos_token_id = f.as_token_id("bos_token_id", *bos);
}

void parse_extensions(ModelConfig& c, const Fields& top) {
  const json* ext = top.get("blockattn");
  if (!ext) return;
  if (!ext->is_object()) top.fail("blockattn", "must be an object");
  Fields f(*ext, top.source(), "blockattn.");
  int64_t sinks = f.opt_int("block_sink_tokens").value_or(0);
  if (sinks < 0 || sinks > kMaxBlockSinkTokens)
    f.fail("block_sink_tokens", std::to_string(sinks) + " is out of range (0.." +
                                    std::to_string(kMaxBlockSinkTokens) + ")");
  c.block_sink_tokens = static_cast<int32_t>(sinks);
  if (const json* id = f.get("block_sink_token_id"))
    c.block_sink_token_id = f.as_token_id("block_sink_token_id", *id);
}

}  // namespace

ModelConfig ModelConfig::from_json(const std::string& json_text, const std::string& source_name) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw FormatError(source_name + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw FormatError(source_name + ": config is not a JSON object");
  const Fields f(root, source_name);

  ModelConfig c;
  const ArchitectureNames names = resolve_architecture(f);
  c.arch = names.arch;
  c.model_type = names.model_type;

  c.vocab_size = f.required_int("vocab_size");
  c.hidden_size = f.required_int("hidden_size");
  c.intermediate_size = f.required_int("intermediate_size");
  c.num_layers = f.required_int("num_hidden_layers");
  c.num_heads = f.required_int("num_attention_heads");
  c.num_kv_heads = f.opt_int("num_key_value_heads").value_or(c.num_heads);
  c.max_position_embeddings = f.required_int("max_position_embeddings");
  c.rms_norm_eps = f.required_number("rms_norm_eps");
  if (auto head_dim = f.opt_int("head_dim")) {
    c.head_dim = *head_dim;
  } else {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0)
      throw FormatError(source_name + ": hidden_size " + std::to_string(c.hidden_size) +
                        " is not divisible by num_attention_heads " + std::to_string(c.num_heads) +
                        " (and head_dim is not given)");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  c.rope = parse_rope(f);

  c.tie_word_embeddings = f.bool_or("tie_word_embeddings", false);
  switch (c.arch) {
    case Architecture::kLlama:
      c.qkv_bias = c.o_bias = f.bool_or("attention_bias", false);
      c.mlp_bias = f.bool_or("mlp_bias", false);
      break;
    case Architecture::kMistral:  // no biases anywhere (transformers ignores attention_bias)
      break;
    case Architecture::kQwen2:  // q/k/v always biased, o_proj never
      c.qkv_bias = true;
      break;
    case Architecture::kQwen3:
      c.qkv_bias = c.o_bias = f.bool_or("attention_bias", false);
      c.qk_norm = true;
      break;
  }
  reject_sliding_window(c, f);

  if (auto dtype = f.opt_string("dtype")) {
    c.torch_dtype = *dtype;
  } else if (auto legacy = f.opt_string("torch_dtype")) {
    c.torch_dtype = *legacy;
  }
  parse_token_ids(c, f);
  parse_extensions(c, f);

  try {
    c.validate();
  } catch (const InputError& e) {
    throw FormatError(source_name + ": " + e.what());
  }
  return c;
}

ModelConfig ModelConfig::load(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  return from_json(read_file(path), path);
}

}  // namespace blockattn
