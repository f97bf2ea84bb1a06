// UTF-8 validation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace blockattn {

// Byte offset of the first invalid UTF-8 sequence, or npos if `s` is valid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t find_invalid_utf8(std::string_view s);

// Length in bytes of the valid UTF-8 sequence starting at s[i] (1 for ASCII), or 0 if the
// sequence there is invalid or truncated by the end of `s`. Precondition: i < s.size().
size_t utf8_sequence_length(std::string_view s, size_t i);

// Throws InputError "<what>: invalid UTF-8 at byte N" if `s` is not valid UTF-8.
void require_utf8(std::string_view s, const std::string& what);

// Length of the longest prefix of `s` that ends on a complete UTF-8 sequence
// (for streaming decoded bytes to a terminal without splitting a character).
size_t complete_utf8_prefix(std::string_view s);

}  // namespace blockattn
