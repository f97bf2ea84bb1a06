// Checked accessors for tokenizer.json fields: a missing or mistyped field throws FormatError
// naming it (the loader adds the file name).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace blockattn::tok {

const nlohmann::json& get_field(const nlohmann::json& obj, const char* key);
std::string get_string(const nlohmann::json& obj, const char* key);
const nlohmann::json& get_array(const nlohmann::json& obj, const char* key);
// Missing or null -> `fallback`.
bool get_bool(const nlohmann::json& obj, const char* key, bool fallback);
// The "type" of a component; `what` names the component in errors ("normalizer").
std::string type_of(const nlohmann::json& obj, const char* what);
// {"String": s} or {"Regex": r} -> s or r.
std::string pattern_source(const nlohmann::json& pattern);

}  // namespace blockattn::tok
