// Prefix and suffix tests on byte strings (C++17 has no std::string_view::starts_with).
#pragma once

#include <string_view>

namespace blockattn {

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace blockattn
