#include "tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"

namespace blockattn::tok {
namespace {

// HF then applies from_utf8_lossy; we keep the bytes so a caller streaming partial output can
// join later pieces into whole characters.
class ByteLevel : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens)
      if (!append_token_bytes(t, bytes)) bytes += t;  // HF: a token outside the table stays as is
    tokens.assign(1, std::move(bytes));
  }
};

// "<0xE2>" "<0x82>" "<0xAC>" -> "€" (SentencePiece-style byte tokens).
class ByteFallback : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    for (auto& t : tokens) {
      int b = byte_token(t);
      if (b >= 0) {
        bytes += static_cast<char>(b);
        continue;
      }
      if (!bytes.empty()) out.push_back(std::move(bytes));
      bytes.clear();
      out.push_back(std::move(t));
    }
    if (!bytes.empty()) out.push_back(std::move(bytes));
    tokens.swap(out);
  }

 private:
  static int byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class Fuse : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class Strip : public Decoder {
 public:
  Strip(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    if (content_.empty()) return;
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t i = 0; i < start_ && t.compare(b, content_.size(), content_) == 0; ++i) b += content_.size();
      for (size_t i = 0; i < stop_ && e >= b + content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++i)
        e -= content_.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class Replace : public Decoder {
 public:
  Replace(const nlohmann::json& pattern, std::string content)
      : regex_(pattern_source(pattern), pattern.contains("String")), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::pair<size_t, size_t>> m;
    for (auto& t : tokens) {
      m.clear();
      regex_.find_all(t, m);
      if (m.empty()) continue;
      std::string out;
      size_t prev = 0;
      for (auto [b, e] : m) {
        out.append(t, prev, b - prev);
        out += content_;
        prev = e;
      }
      out.append(t, prev, std::string::npos);
      t.swap(out);
    }
  }

 private:
  Regex regex_;
  std::string content_;
};

class Sequence : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> items) : items_(std::move(items)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : items_) d->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> items_;
};

size_t get_count(const nlohmann::json& spec, const char* key) {
  const auto& v = get_field(spec, key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw FormatError(std::string("field \"") + key + "\" is not a count");
  return v.get<size_t>();
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  std::string type = type_of(spec, "decoder");
  if (type == "ByteLevel") return std::make_unique<ByteLevel>();
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip")
    return std::make_unique<Strip>(get_string(spec, "content"), get_count(spec, "start"), get_count(spec, "stop"));
  if (type == "Replace") return std::make_unique<Replace>(get_field(spec, "pattern"), get_string(spec, "content"));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> items;
    for (const auto& item : get_array(spec, "decoders"))
      if (auto d = make_decoder(item)) items.push_back(std::move(d));
    return std::make_unique<Sequence>(std::move(items));
  }
  throw UnsupportedError("unsupported decoder \"" + type + "\"");
}

}  // namespace blockattn::tok
