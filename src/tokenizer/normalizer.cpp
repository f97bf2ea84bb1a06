#include "tokenizer/normalizer.h"

#include <cstdlib>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "blockattn/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace blockattn::tok {
namespace {

std::string utf8proc_normalize(std::string_view text, int flags) {
  // utf8proc_NFC() stops at a NUL byte; utf8proc_map with a length keeps embedded NULs.
  utf8proc_uint8_t* dst = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &dst,
                                    static_cast<utf8proc_option_t>(flags));
  if (n < 0) throw InputError(std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
  std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
  std::free(dst);
  return out;
}

// Starters that NFC leaves alone and that never compose with what precedes them: text can be
// cut before each of them and normalized piecewise, and runs made only of them skipped. Covers
// U+0000-U+02FF (ASCII, Latin-1, Latin Extended, IPA), kana, CJK ideographs and Hangul
// syllables: the bulk of real text.
bool nfc_inert(char32_t c) {
  return c < 0x300 || (c >= 0x3040 && c <= 0x3096) || (c >= 0x30A1 && c <= 0x30FA) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7A3);
}

void nfc(std::string& text, int flags) {
  std::string out;
  size_t copied = 0;  // text[0, copied) is in `out`
  size_t last_inert = 0, dirty_start = 0;
  bool dirty = false;
  auto flush = [&](size_t end) {
    out.append(text, copied, dirty_start - copied);
    out += utf8proc_normalize(std::string_view(text).substr(dirty_start, end - dirty_start), flags);
    copied = end;
    dirty = false;
  };
  for (size_t pos = 0; pos < text.size();) {
    size_t at = pos;
    char32_t c = next_code_point(text, pos);
    if (nfc_inert(c)) {
      if (dirty) flush(at);
      last_inert = at;
    } else if (!dirty) {
      dirty = true;
      dirty_start = last_inert;
    }
  }
  if (dirty) flush(text.size());
  if (copied == 0) return;
  out.append(text, copied, std::string::npos);
  text.swap(out);
}

class UnicodeForm : public Normalizer {
 public:
  UnicodeForm(int flags, bool nfc) : flags_(flags), nfc_(nfc) {}

  void normalize(std::string& text) const override {
    // Code points below U+0300 (lead bytes below 0xCC) are all NFC-stable: skip the common case.
    unsigned char limit = nfc_ ? 0xCC : 0x80;
    bool stable = true;
    for (unsigned char b : text) {
      if (b >= limit) {
        stable = false;
        break;
      }
    }
    if (stable) return;
    if (nfc_) nfc(text, flags_);
    else text = utf8proc_normalize(text, flags_);
  }

 private:
  int flags_;
  bool nfc_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class Replace : public Normalizer {
 public:
  Replace(const nlohmann::json& pattern, std::string content)
      : regex_(pattern_source(pattern), pattern.contains("String")), content_(std::move(content)) {}
  void normalize(std::string& text) const override {
    std::vector<std::pair<size_t, size_t>> m;
    regex_.find_all(text, m);
    if (m.empty()) return;
    std::string out;
    size_t prev = 0;
    for (auto [b, e] : m) {
      out.append(text, prev, b - prev);
      out += content_;
      prev = e;
    }
    out.append(text, prev, std::string::npos);
    text.swap(out);
  }

 private:
  Regex regex_;
  std::string content_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> items) : items_(std::move(items)) {}
  void normalize(std::string& text) const override {
    for (const auto& n : items_) n->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> items_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  std::string type = type_of(spec, "normalizer");
  constexpr int kStable = UTF8PROC_STABLE;
  if (type == "NFC") return std::make_unique<UnicodeForm>(kStable | UTF8PROC_COMPOSE, true);
  if (type == "NFD") return std::make_unique<UnicodeForm>(kStable | UTF8PROC_DECOMPOSE, false);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(kStable | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, false);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(kStable | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, false);
  if (type == "Prepend") return std::make_unique<Prepend>(get_string(spec, "prepend"));
  if (type == "Replace") return std::make_unique<Replace>(get_field(spec, "pattern"), get_string(spec, "content"));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> items;
    for (const auto& item : get_array(spec, "normalizers"))
      if (auto n = make_normalizer(item)) items.push_back(std::move(n));
    return std::make_unique<Sequence>(std::move(items));
  }
  throw UnsupportedError("unsupported normalizer \"" + type + "\"");
}

}  // namespace blockattn::tok
