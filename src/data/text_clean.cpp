#include "data/text_clean.h"

#include <algorithm>

#include "core/utf8.h"
#include "tokenizer/unicode.h"

namespace blockattn::data {

void append_utf8(std::string& out, unsigned cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return;
  tok::append_utf8(out, static_cast<char32_t>(cp));  // the tokenizer's encoder, for valid input
}

std::string clean_text(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  if (raw.size() >= 3 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);  // BOM
  for (size_t i = 0; i < raw.size();) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      if (c == '\r') {
        out += '\n';
        i += (i + 1 < raw.size() && raw[i + 1] == '\n') ? 2 : 1;
        continue;
      }
      if (c == '\f')
        out += '\n';
      else if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7F))
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (size_t n = utf8_sequence_length(raw, i)) {  // >= 2: raw[i] is not ASCII
      // C1 controls (U+0080..U+009F) are as unwanted as C0 ones.
      bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(raw[i + 1]) < 0xA0;
      if (!c1) out.append(raw.substr(i, n));
      i += n;
      continue;
    }
    if (c >= 0xA0) append_utf8(out, c);  // Latin-1; 0x80..0x9F are controls there
    ++i;
  }
  return out;
}

bool looks_binary(std::string_view raw) {
  std::string_view head = raw.substr(0, std::min<size_t>(raw.size(), 1024));
  return head.find('\0') != std::string_view::npos;
}

}  // namespace blockattn::data
