#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace blockattn::tok {
namespace {

struct Tables {
  std::array<std::string, 256> to_unicode;
  std::array<int16_t, 512> to_byte;  // every mapped code point is below 324

  Tables() {
    to_byte.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t c = printable ? char32_t(b) : char32_t(next++);
      append_utf8(to_unicode[b], c);
      to_byte[c] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

void append_byte_level(std::string_view bytes, std::string& out) {
  const auto& t = tables().to_unicode;
  size_t n = out.size();
  out.resize(n + 2 * bytes.size());  // every mapped code point takes 1 or 2 bytes
  char* w = out.data() + n;
  for (unsigned char b : bytes) {
    const std::string& m = t[b];
    w[0] = m[0];
    if (m.size() == 2) w[1] = m[1];
    w += m.size();
  }
  out.resize(static_cast<size_t>(w - out.data()));
}

int byte_of_code_point(char32_t c) { return c < 512 ? tables().to_byte[c] : -1; }

bool append_token_bytes(std::string_view token, std::string& out) {
  size_t mark = out.size();
  size_t pos = 0;
  while (pos < token.size()) {
    int b = byte_of_code_point(next_code_point(token, pos));
    if (b < 0) {
      out.resize(mark);
      return false;
    }
    out += static_cast<char>(b);
  }
  return true;
}

}  // namespace blockattn::tok
