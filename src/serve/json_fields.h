// Typed access to the fields of a JSON request body, each failure an ApiError that names the
// field (`param`) the way the OpenAI API does. Shared by every endpoint's parser.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "serve/api_error.h"

namespace blockattn::serve {

using Json = nlohmann::json;

// The body as a JSON object. Malformed JSON (invalid UTF-8 included) and non-objects are 400s.
inline Json parse_json_object(const std::string& body) {
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    std::string why = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> after "error"
    const size_t at = why.find("parse error");
    if (at != std::string::npos) why = why.substr(at);
    throw ApiError(400, "invalid_request_error", "the request body is not valid JSON: " + why, "",
                   "invalid_json");
  } catch (const Json::exception& e) {
    // out_of_range: a number beyond double (1e999) -- not a value any field accepts.
    std::string why = e.what();
    const size_t at = why.find("] ");
    if (at != std::string::npos) why = why.substr(at + 2);
    throw ApiError(400, "invalid_request_error", "the request body is not usable JSON: " + why, "",
                   "invalid_json");
  }
  if (!j.is_object())
    throw ApiError(400, "invalid_request_error", "the request body must be a JSON object", "",
                   "invalid_json");
  return j;
}

inline const Json* field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

inline ApiError wrong_type(const std::string& param, const char* want) {
  return bad_request(param, "'" + param + "' must be " + want, "invalid_type");
}

inline std::optional<std::string> get_string(const Json& obj, const char* key,
                                             const std::string& param) {
  const Json* f = field(obj, key);
  if (!f) return std::nullopt;
  if (!f->is_string()) throw wrong_type(param, "a string");
  return f->get<std::string>();
}

inline std::optional<bool> get_bool(const Json& obj, const char* key, const std::string& param) {
  const Json* f = field(obj, key);
  if (!f) return std::nullopt;
  if (!f->is_boolean()) throw wrong_type(param, "a boolean");
  return f->get<bool>();
}

// Integers only (1.0 is accepted, 1.5 is not), within int64.
inline std::optional<int64_t> get_int(const Json& obj, const char* key, const std::string& param) {
  const Json* f = field(obj, key);
  if (!f) return std::nullopt;
  if (f->is_number_integer()) {
    if (f->is_number_unsigned() && f->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      throw bad_request(param, "'" + param + "' is too large");
    return f->get<int64_t>();
  }
  if (f->is_number_float()) {
    const double d = f->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return static_cast<int64_t>(d);
  }
  throw wrong_type(param, "an integer");
}

// Finite numbers only.
inline std::optional<double> get_number(const Json& obj, const char* key,
                                        const std::string& param) {
  const Json* f = field(obj, key);
  if (!f) return std::nullopt;
  if (!f->is_number()) throw wrong_type(param, "a number");
  const double d = f->get<double>();
  if (!std::isfinite(d)) throw bad_request(param, "'" + param + "' must be a finite number");
  return d;
}

}  // namespace blockattn::serve
