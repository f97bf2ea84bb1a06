// Range checks for numeric CLI options, so a bad value is a one-line error naming the option
// instead of undefined behaviour further down (a negative or NaN size cast to an unsigned type).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "blockattn/engine.h"
#include "blockattn/error.h"

namespace blockattn::cli {

// MiB (finite, within [0 or above 0, 2^40]) -> bytes. `allow_zero`: 0 is meaningful (the memory
// tier: off); a disk budget of 0 would evict a shared directory's every entry, so it is refused.
inline uint64_t mib_to_bytes(double mib, const std::string& option, bool allow_zero = true) {
  const bool low_ok = allow_zero ? mib >= 0 : mib > 0;
  if (!std::isfinite(mib) || !low_ok || mib > 1099511627776.0)
    throw InputError(option + " must be a number of MiB in " + (allow_zero ? "[0" : "(0") +
                     ", 2^40]");
  return static_cast<uint64_t>(mib * 1024.0 * 1024.0);
}

// --memory-cache-mb: "auto" (KVStoreConfig::kAutoBudget: from free device memory) or MiB >= 0.
inline uint64_t memory_budget_option(const std::string& value, const std::string& option) {
  if (value == "auto") return KVStoreConfig::kAutoBudget;
  size_t used = 0;
  double mib = std::nan("");
  try {
    mib = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size())
    throw InputError(option + " must be \"auto\" or a number of MiB, not \"" + value + "\"");
  return mib_to_bytes(mib, option);
}

inline std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// CLI11 validators for options whose C++ type would silently wrap or accept nonsense: an
// unsigned option given "-1" (CLI11 converts it to 2^64 - 1), a double given "nan".
inline CLI::Validator integer_in(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != s.size() || v < lo || v > hi)
          return "must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                 ", got \"" + s + "\"";
        return "";
      },
      "INT in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

inline CLI::Validator number_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != s.size() || !std::isfinite(v) || v < lo || v > hi)
          return "must be a number in [" + format_number(lo) + ", " + format_number(hi) +
                 "], got \"" + s + "\"";
        return "";
      },
      "FLOAT in [" + format_number(lo) + ", " + format_number(hi) + "]");
}

// Any unsigned 64-bit value written without a sign (seeds).
inline CLI::Validator unsigned_integer() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
          return "must be a non-negative integer, got \"" + s + "\"";
        return "";
      },
      "UINT");
}

}  // namespace blockattn::cli
