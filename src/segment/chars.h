// Byte-level helpers shared by the segmentation code. Text is valid UTF-8 by the time it gets
// here (segment() checks it), so a character boundary is any byte that is not 10xxxxxx.
#pragma once

#include <cstddef>
#include <string_view>

namespace blockattn::segment {

// ASCII whitespace only: Unicode spaces (U+00A0, U+3000, ...) do not separate candidates.
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

inline bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The largest character boundary <= pos (pos <= s.size()).
inline size_t char_floor(std::string_view s, size_t pos) {
  while (pos > 0 && pos < s.size() && is_continuation(s[pos])) --pos;
  return pos;
}

// The end of the character that starts at pos (pos < s.size()).
inline size_t next_char_end(std::string_view s, size_t pos) {
  ++pos;
  while (pos < s.size() && is_continuation(s[pos])) ++pos;
  return pos;
}

}  // namespace blockattn::segment
