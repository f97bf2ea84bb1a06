// The random generator of the synthetic data: SplitMix64 with our own bounded draw, because
// std::uniform_int_distribution's output differs between standard libraries and the data must
// be identical everywhere for a seed.
#pragma once

#include <cstdint>
#include <string_view>

namespace blockattn::data {

inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a then mix64: a stable hash of a short string (seeds, labels).
inline uint64_t label_hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return mix64(h);
}

class SynthRng {
 public:
  explicit SynthRng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_++ * 0x2545f4914f6cdd1dULL + 0x632be59bd9b4e019ULL); }
  // Uniform in [0, n), n > 0; rejection removes the modulo bias.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }
  // Uniform in [lo, hi].
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1)); }

 private:
  uint64_t state_;
};

}  // namespace blockattn::data
