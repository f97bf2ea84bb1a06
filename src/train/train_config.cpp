#include "train/train_config.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"

namespace blockattn::train {

namespace {

using nlohmann::json;

// "data_mix": [{"dir": "corpus", "weight": 0.6}, {"dir": "synth", "weight": 0.4, "windows":
// "documents"}]
std::vector<DataSource> parse_data_mix(const json& j, const std::string& where) {
  const std::string field = where + ": training.data_mix";
  if (!j.is_array())
    throw FormatError(field + " must be an array of {\"dir\", \"weight\", \"windows\"}");
  std::vector<DataSource> mix;
  for (const json& e : j) {
    if (!e.is_object() || !e.contains("dir") || !e["dir"].is_string())
      throw FormatError(field + ": every entry needs a string \"dir\"");
    DataSource src;
    src.dir = e["dir"].get<std::string>();
    for (const auto& item : e.items()) {
      if (item.key() == "dir") continue;
      if (item.key() == "weight") {
        if (!item.value().is_number()) throw FormatError(field + ": \"weight\" must be a number");
        src.weight = item.value().get<double>();
      } else if (item.key() == "windows") {
        const std::string w = item.value().is_string() ? item.value().get<std::string>() : "";
        if (w != "anywhere" && w != "documents")
          throw FormatError(field + ": \"windows\" must be \"anywhere\" or \"documents\"");
        src.document_starts = w == "documents";
      } else {
        throw FormatError(field + ": unknown field \"" + item.key() + "\"");
      }
    }
    mix.push_back(src);
  }
  return mix;
}

json data_mix_json(const std::vector<DataSource>& mix) {
  json j = json::array();
  for (const DataSource& s : mix)
    j.push_back({{"dir", s.dir},
                 {"weight", s.weight},
                 {"windows", s.document_starts ? "documents" : "anywhere"}});
  return j;
}

}  // namespace

// Reads known fields of the "training" object, rejecting unknown ones (a typo should not
// silently fall back to a default) and mistyped values.
void parse_training(const json& j, TrainConfig& t, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": \"training\" must be an object");
  auto num = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    const json& v = j.at(key);
    if (!v.is_number()) throw FormatError(where + ": training." + key + " must be a number");
    field = v.get<std::decay_t<decltype(field)>>();
  };
  auto str = [&](const char* key, std::string& field) {
    if (!j.contains(key)) return;
    if (!j.at(key).is_string())
      throw FormatError(where + ": training." + key + " must be a string");
    field = j.at(key).get<std::string>();
  };
  static const char* known[] = {"seq_len",
                                "batch_size",
                                "grad_accum",
                                "lr",
                                "min_lr",
                                "warmup_steps",
                                "total_steps",
                                "total_tokens",
                                "weight_decay",
                                "beta1",
                                "beta2",
                                "eps",
                                "grad_clip",
                                "eval_every",
                                "eval_batches",
                                "checkpoint_every",
                                "log_every",
                                "seed",
                                "device",
                                "dtype",
                                "peak_flops",
                                "data_mix",
                                "activation_checkpointing"};
  for (const auto& item : j.items()) {
    bool ok = false;
    for (const char* k : known) ok = ok || item.key() == k;
    if (!ok) throw FormatError(where + ": unknown field training." + item.key());
  }
  num("seq_len", t.seq_len);
  num("batch_size", t.batch_size);
  num("grad_accum", t.grad_accum);
  num("lr", t.lr);
  num("min_lr", t.min_lr);
  num("warmup_steps", t.warmup_steps);
  num("total_steps", t.total_steps);
  num("total_tokens", t.total_tokens);
  num("weight_decay", t.weight_decay);
  num("beta1", t.beta1);
  num("beta2", t.beta2);
  num("eps", t.eps);
  num("grad_clip", t.grad_clip);
  num("eval_every", t.eval_every);
  num("eval_batches", t.eval_batches);
  num("checkpoint_every", t.checkpoint_every);
  num("log_every", t.log_every);
  num("seed", t.seed);
  str("device", t.device);
  str("dtype", t.dtype);
  num("peak_flops", t.peak_flops);
  if (j.contains("activation_checkpointing")) {
    if (!j.at("activation_checkpointing").is_boolean())
      throw FormatError(where + ": training.activation_checkpointing must be true or false");
    t.activation_checkpointing = j.at("activation_checkpointing").get<bool>();
  }
  if (j.contains("data_mix")) t.data_mix = parse_data_mix(j.at("data_mix"), where);
}

json training_json(const TrainConfig& t) {
  return {{"seq_len", t.seq_len},
          {"batch_size", t.batch_size},
          {"grad_accum", t.grad_accum},
          {"lr", t.lr},
          {"min_lr", t.min_lr},
          {"warmup_steps", t.warmup_steps},
          {"total_steps", t.total_steps},
          {"total_tokens", t.total_tokens},
          {"weight_decay", t.weight_decay},
          {"beta1", t.beta1},
          {"beta2", t.beta2},
          {"eps", t.eps},
          {"grad_clip", t.grad_clip},
          {"eval_every", t.eval_every},
          {"eval_batches", t.eval_batches},
          {"checkpoint_every", t.checkpoint_every},
          {"log_every", t.log_every},
          {"seed", t.seed},
          {"device", t.device},
          {"dtype", t.dtype},
          {"peak_flops", t.peak_flops},
          {"activation_checkpointing", t.activation_checkpointing},
          {"data_mix", data_mix_json(t.data_mix)}};
}

void check_training(const TrainConfig& t, int64_t max_positions, const std::string& where) {
  auto fail = [&](const std::string& why) { throw InputError(where + ": " + why); };
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0)
      fail(std::string("training.") + name + " must be positive, got " + std::to_string(v));
  };
  positive("seq_len", t.seq_len);
  positive("batch_size", t.batch_size);
  positive("grad_accum", t.grad_accum);
  positive("total_steps", t.total_steps);
  if (t.seq_len > max_positions)
    fail("training.seq_len " + std::to_string(t.seq_len) +
         " exceeds model.max_position_embeddings " + std::to_string(max_positions));
  if (!(t.lr > 0) || t.min_lr < 0 || t.min_lr > t.lr)
    fail("need 0 <= training.min_lr <= training.lr and lr > 0");
  if (t.warmup_steps < 0) fail("training.warmup_steps must be >= 0");
  if (t.weight_decay < 0) fail("training.weight_decay must be >= 0");
  if (!(t.beta1 >= 0 && t.beta1 < 1 && t.beta2 >= 0 && t.beta2 < 1))
    fail("training.beta1/beta2 must be in [0, 1)");
  if (!(t.eps > 0)) fail("training.eps must be positive");
  if (t.eval_every < 0 || t.eval_batches < 0 || t.checkpoint_every < 0 || t.log_every < 0)
    fail("eval_every, eval_batches, checkpoint_every and log_every must be >= 0");
  for (const DataSource& s : t.data_mix) {
    if (s.dir.empty() || s.dir.find("..") != std::string::npos)
      fail("training.data_mix: \"dir\" must be a subdirectory name of --data, not \"" + s.dir +
           "\"");
    if (!(s.weight > 0)) fail("training.data_mix: weight of \"" + s.dir + "\" must be positive");
  }
  if (t.dtype != "auto" && t.dtype != "float32" && t.dtype != "bfloat16")
    fail("training.dtype must be auto, float32 or bfloat16, not \"" + t.dtype + "\"");
}

void derive_total_steps(TrainConfig& t) {
  if (t.total_steps == 0 && t.total_tokens > 0 && t.tokens_per_step() > 0)
    t.total_steps = (t.total_tokens + t.tokens_per_step() - 1) / t.tokens_per_step();
}

PretrainConfig PretrainConfig::from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw FormatError(source + ": malformed JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object() || !j.contains("training"))
    throw FormatError(source + ": expected {\"model\": {...}, \"training\": {...}}");
  for (const auto& item : j.items())
    if (item.key() != "model" && item.key() != "training")
      throw FormatError(source + ": unknown top-level field \"" + item.key() + "\"");
  json model = j["model"];
  if (!model.contains("model_type") && !model.contains("architectures"))
    model["model_type"] = "llama";
  PretrainConfig c;
  c.model = ModelConfig::from_json(model.dump(), source + " (model section)");
  parse_training(j["training"], c.train, source);
  derive_total_steps(c.train);
  check_training(c.train, c.model.max_position_embeddings, source);
  c.canonical_json =
      json{{"model", json::parse(c.model.to_json())}, {"training", training_json(c.train)}}.dump();
  return c;
}

PretrainConfig PretrainConfig::load(const std::string& path) {
  if (!file_exists(path)) throw IoError("config file " + path + " does not exist");
  return from_json(read_file(path), path);
}

std::string PretrainConfig::resume_mismatch(const PretrainConfig& o) const {
  if (model != o.model) return "model";
  return training_mismatch(train, o.train);
}

std::string training_mismatch(const TrainConfig& a, const TrainConfig& b) {
#define BA_CMP(f) \
  if (a.f != b.f) return "training." #f
  BA_CMP(seq_len);
  BA_CMP(batch_size);
  BA_CMP(grad_accum);
  BA_CMP(lr);
  BA_CMP(min_lr);
  BA_CMP(warmup_steps);
  BA_CMP(total_steps);
  BA_CMP(weight_decay);
  BA_CMP(beta1);
  BA_CMP(beta2);
  BA_CMP(eps);
  BA_CMP(grad_clip);
  BA_CMP(seed);
  BA_CMP(dtype);
  BA_CMP(data_mix);
#undef BA_CMP
  return "";
}

}  // namespace blockattn::train
