// Normalising raw file bytes into clean text before any extractor sees them, so every offset an
// extractor records is already an offset into valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace blockattn::data {

// Valid UTF-8 with "\n" line ends: CRLF and lone CR become LF, form feeds become LF, other C0
// controls (except tab) and DEL are dropped, and bytes that are not valid UTF-8 are read as
// Latin-1 (old man pages and dictionaries are ISO-8859-1).
std::string clean_text(std::string_view raw);

// Appends code point `cp` as UTF-8 (nothing for surrogates, NUL or values above U+10FFFF).
void append_utf8(std::string& out, unsigned cp);

// True when the first KiB holds a NUL byte: a binary file to skip.
bool looks_binary(std::string_view raw);

}  // namespace blockattn::data
