#include "tokenizer/json_util.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"

namespace blockattn::tok {

const nlohmann::json& get_field(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) throw FormatError(std::string("expected an object holding \"") + key + "\"");
  auto it = obj.find(key);
  if (it == obj.end()) throw FormatError(std::string("missing field \"") + key + "\"");
  return *it;
}

std::string get_string(const nlohmann::json& obj, const char* key) {
  const auto& v = get_field(obj, key);
  if (!v.is_string()) throw FormatError(std::string("field \"") + key + "\" is not a string");
  return v.get<std::string>();
}

const nlohmann::json& get_array(const nlohmann::json& obj, const char* key) {
  const auto& v = get_field(obj, key);
  if (!v.is_array()) throw FormatError(std::string("field \"") + key + "\" is not an array");
  return v;
}

bool get_bool(const nlohmann::json& obj, const char* key, bool fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw FormatError(std::string("field \"") + key + "\" is not a boolean");
  return it->get<bool>();
}

std::string type_of(const nlohmann::json& obj, const char* what) {
  if (!obj.is_object() || !obj.contains("type") || !obj["type"].is_string())
    throw FormatError(std::string(what) + " has no \"type\"");
  return obj["type"].get<std::string>();
}

std::string pattern_source(const nlohmann::json& pattern) {
  if (pattern.is_object()) {
    if (pattern.contains("String") && pattern["String"].is_string()) return pattern["String"].get<std::string>();
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) return pattern["Regex"].get<std::string>();
  }
  throw FormatError("pattern is neither {\"String\": ...} nor {\"Regex\": ...}");
}

}  // namespace blockattn::tok
