#include "train/distill_config.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"

namespace blockattn::train {

using nlohmann::json;

const char* method_name(BlockTrainMethod m) {
  return m == BlockTrainMethod::kDistill ? "distill" : "blockft";
}

namespace {

DistillSettings defaults_for(BlockTrainMethod method) {
  DistillSettings d;
  d.method = method;
  if (method == BlockTrainMethod::kBlockFt) {
    d.kl_weight = 0;
    d.ce_weight = 1;
    d.sink_tokens = 0;
    d.block_dropout = 0;
    d.token_weighting = 0;
  }
  return d;
}

void parse_distill(const json& j, DistillSettings& d, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": \"distill\" must be an object");
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const json& v = item.value();
    const std::string field = where + ": distill." + key;
    auto number = [&]() {
      if (!v.is_number()) throw FormatError(field + " must be a number");
      return v.get<double>();
    };
    if (key == "method") {
      // Written into checkpoints; a file may state it, but it must be this command's.
      if (!v.is_string() || v.get<std::string>() != method_name(d.method))
        throw InputError(field + " is " + v.dump() + ", but this is `blockattn " +
                         method_name(d.method) + "`");
    } else if (key == "temperature")
      d.temperature = number();
    else if (key == "kl_weight")
      d.kl_weight = number();
    else if (key == "ce_weight")
      d.ce_weight = number();
    else if (key == "block_dropout")
      d.block_dropout = number();
    else if (key == "token_weighting")
      d.token_weighting = number();
    else if (key == "full_fraction")
      d.full_fraction = number();
    else if (key == "sink_tokens") {
      if (!v.is_number_integer()) throw FormatError(field + " must be an integer");
      d.sink_tokens = v.get<int32_t>();
    } else if (key == "lora") {
      if (!v.is_object()) throw FormatError(field + " must be an object");
      d.lora = LoraConfig::from_json(v.dump(), field);
    } else if (key == "sink_token") {
      if (!v.is_string()) throw FormatError(field + " must be a string");
      d.sink_token = v.get<std::string>();
    } else {
      throw FormatError(where + ": unknown field distill." + key);
    }
  }
}

void check_distill(const DistillSettings& d, const std::string& where) {
  auto fail = [&](const std::string& why) { throw InputError(where + ": distill." + why); };
  if (!(d.temperature > 0)) fail("temperature must be positive");
  if (d.kl_weight < 0 || d.ce_weight < 0) fail("kl_weight and ce_weight must be >= 0");
  if (d.method == BlockTrainMethod::kBlockFt && d.kl_weight > 0)
    fail("kl_weight needs a teacher: use distill");
  if (!(d.kl_weight > 0 || d.ce_weight > 0))
    fail("kl_weight or ce_weight must be positive (no training signal)");
  if (d.sink_tokens < 0 || d.sink_tokens > 64) fail("sink_tokens must be in [0, 64]");
  if (d.sink_tokens > 0 && d.sink_token.empty()) fail("sink_token is empty");
  for (auto [name, v] : {std::pair<const char*, double>{"block_dropout", d.block_dropout},
                         {"full_fraction", d.full_fraction}})
    if (!(v >= 0 && v <= 1)) fail(std::string(name) + " must be in [0, 1]");
  if (d.token_weighting < 0) fail("token_weighting must be >= 0");
  if (d.method == BlockTrainMethod::kBlockFt && d.token_weighting > 0)
    fail("token_weighting needs a teacher");
}

json distill_json(const DistillSettings& d) {
  json j = {{"method", method_name(d.method)},  {"temperature", d.temperature},
            {"kl_weight", d.kl_weight},         {"ce_weight", d.ce_weight},
            {"sink_tokens", d.sink_tokens},     {"sink_token", d.sink_token},
            {"block_dropout", d.block_dropout}, {"token_weighting", d.token_weighting},
            {"full_fraction", d.full_fraction}};
  if (d.lora)
    j["lora"] = {{"rank", d.lora->rank},
                 {"alpha", d.lora->alpha},
                 {"dropout", d.lora->dropout},
                 {"use_rslora", d.lora->rslora},
                 {"targets", d.lora->targets}};
  return j;
}

}  // namespace

DistillConfig DistillConfig::from_json(const std::string& text, const std::string& source,
                                       BlockTrainMethod method, int64_t max_positions) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw FormatError(source + ": malformed JSON: " + e.what());
  }
  if (!j.is_object())
    throw FormatError(source + ": expected {\"training\": {...}, \"distill\": {...}}");
  for (const auto& item : j.items())
    if (item.key() != "training" && item.key() != "distill")
      throw FormatError(source + ": unknown top-level field \"" + item.key() + "\"");
  DistillConfig c;
  c.distill = defaults_for(method);
  if (j.contains("training")) parse_training(j["training"], c.train, source);
  if (j.contains("distill")) parse_distill(j["distill"], c.distill, source);
  if (!c.train.data_mix.empty())
    throw FormatError(source + ": training.data_mix is not used by distill/blockft");
  derive_total_steps(c.train);
  check_training(c.train, max_positions, source);
  check_distill(c.distill, source);
  c.canonical_json =
      json{{"training", training_json(c.train)}, {"distill", distill_json(c.distill)}}.dump();
  return c;
}

DistillConfig DistillConfig::load(const std::string& path, BlockTrainMethod method,
                                  int64_t max_positions) {
  if (path.empty()) return from_json("{}", "(defaults)", method, max_positions);
  if (!file_exists(path)) throw IoError("config file " + path + " does not exist");
  return from_json(read_file(path), path, method, max_positions);
}

std::string DistillConfig::resume_mismatch(const DistillConfig& o) const {
  const std::string t = training_mismatch(train, o.train);
  if (!t.empty()) return t;
  if (distill_json(distill) != distill_json(o.distill)) return "distill";
  return "";
}

}  // namespace blockattn::train
