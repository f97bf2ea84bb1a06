// Range checks for numeric CLI options, so a bad value is a one-line error naming the option
// instead of undefined behaviour further down (a negative or NaN size cast to an unsigned type).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "blockattn/error.h"

namespace blockattn::cli {

// MiB (finite, 0 .. 2^40) -> bytes.
inline uint64_t mib_to_bytes(double mib, const std::string& option) {
  if (!std::isfinite(mib) || mib < 0 || mib > 1099511627776.0)
    throw InputError(option + " must be a number of MiB in 0..2^40");
  return static_cast<uint64_t>(mib * 1024.0 * 1024.0);
}

}  // namespace blockattn::cli
