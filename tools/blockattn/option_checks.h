// Range checks for numeric CLI options, so a bad value is a one-line error naming the option
// instead of undefined behaviour further down (a negative or NaN size cast to an unsigned type).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "blockattn/error.h"

namespace blockattn::cli {

// MiB (finite, within [0 or above 0, 2^40]) -> bytes. `allow_zero`: 0 is meaningful (the memory
// tier: off); a disk budget of 0 would evict a shared directory's every entry, so it is refused.
inline uint64_t mib_to_bytes(double mib, const std::string& option, bool allow_zero = true) {
  const bool low_ok = allow_zero ? mib >= 0 : mib > 0;
  if (!std::isfinite(mib) || !low_ok || mib > 1099511627776.0)
    throw InputError(option + " must be a number of MiB in " + (allow_zero ? "[0" : "(0") + ", 2^40]");
  return static_cast<uint64_t>(mib * 1024.0 * 1024.0);
}

}  // namespace blockattn::cli
