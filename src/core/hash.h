// Content hashing (XXH3). 128-bit digests name cache entries and model fingerprints;
// 64-bit digests checksum payloads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace blockattn {

struct Hash128 {
  uint64_t lo = 0;
  uint64_t hi = 0;
  std::string hex() const;  // 32 lowercase hex digits, hi first
  // Inverse of hex(): exactly 32 hex digits (either case), else nullopt.
  static std::optional<Hash128> from_hex(std::string_view hex);
  bool operator==(const Hash128& o) const { return lo == o.lo && hi == o.hi; }
  bool operator!=(const Hash128& o) const { return !(*this == o); }
};

uint64_t hash64(const void* data, size_t size);
Hash128 hash128(const void* data, size_t size);
inline Hash128 hash128(std::string_view s) { return hash128(s.data(), s.size()); }

// Incremental 128-bit hasher: update() with each field, digest() at the end.
// Fields are length-prefixed by update_field() so ("ab","c") and ("a","bc") differ.
class Hasher128 {
 public:
  Hasher128();
  ~Hasher128();
  Hasher128(const Hasher128&) = delete;
  Hasher128& operator=(const Hasher128&) = delete;
  void update(const void* data, size_t size);
  void update_field(std::string_view bytes);
  template <typename T>
  void update_pod(const T& v) {
    update(&v, sizeof v);
  }
  Hash128 digest() const;

 private:
  void* state_;  // XXH3_state_t*
};

}  // namespace blockattn
