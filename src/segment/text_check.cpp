#include "segment/text_check.h"

#include <cstring>

#include "blockattn/error.h"
#include "core/utf8.h"

namespace blockattn::segment {

void check_text(std::string_view text, const std::string& what) {
  require_utf8(text, what);
  // NUL is valid UTF-8 but no text file contains it; it is the usual sign of a binary file.
  const void* nul = std::memchr(text.data(), 0, text.size());
  if (nul != nullptr) {
    size_t at = static_cast<const char*>(nul) - text.data();
    throw InputError(what + ": NUL byte at byte " + std::to_string(at) + " (binary input?)");
  }
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t bad = find_invalid_utf8(text);
    if (bad == std::string_view::npos) {
      out.append(text);
      break;
    }
    out.append(text.substr(0, bad));
    out.append("\xEF\xBF\xBD");
    text.remove_prefix(bad + 1);
  }
  return out;
}

}  // namespace blockattn::segment
