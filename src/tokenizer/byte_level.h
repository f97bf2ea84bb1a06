// GPT-2's reversible byte <-> unicode table: every byte maps to a printable code point so BPE
// vocabularies can be stored as text ("Ġ" is the space byte).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace blockattn::tok {

// Appends the mapped form of each byte of `bytes` to `out`.
void append_byte_level(std::string_view bytes, std::string& out);

// The byte a mapped code point stands for, or -1 if `c` is not in the table.
int byte_of_code_point(char32_t c);

// Inverse of append_byte_level for one token: appends its bytes and returns true, or returns
// false (appending nothing) if some character is not in the table.
bool append_token_bytes(std::string_view token, std::string& out);

}  // namespace blockattn::tok
