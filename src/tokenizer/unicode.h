// Code-point level helpers for the tokenizer: UTF-8 stepping and the character classes HF's
// Rust code takes from `char` (is_whitespace, is_alphanumeric).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace blockattn::tok {

// Length of the UTF-8 sequence that starts with `lead` (1 for stray continuation bytes, so a
// loop over unchecked bytes always advances).
inline size_t utf8_len(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the code point at s[pos] and advances pos; `s` must be valid UTF-8.
char32_t next_code_point(std::string_view s, size_t& pos);

// Decodes the code point that ends at s[end) (the last one of s.substr(0, end)).
char32_t last_code_point(std::string_view s, size_t end, size_t* begin = nullptr);

void append_utf8(std::string& out, char32_t c);

// Unicode White_Space (Rust char::is_whitespace; also Oniguruma's \s).
bool is_whitespace(char32_t c);

// Letters and numbers (Rust char::is_alphanumeric).
bool is_alphanumeric(char32_t c);

}  // namespace blockattn::tok
