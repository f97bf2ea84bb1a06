#include "tokenizer/tokenizer_json.h"

#include "blockattn/error.h"

namespace blockattn::tok {
namespace {

using json = nlohmann::json;

class Reader : public nlohmann::json_sax<json> {
 public:
  explicit Reader(TokenizerJson& out) : out_(out) {}

  bool null() override { return value(json(nullptr)); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (top() == Kind::kVocab) return vocab_id(v);
    return value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (top() == Kind::kVocab) return vocab_id(v > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
    return value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool binary(binary_t& v) override { return value(json(json::binary_t(v))); }

  bool string(string_t& s) override {
    switch (top()) {
      case Kind::kMerges: {
        size_t sp = s.find(' ');
        if (sp == std::string::npos) throw FormatError("BPE merge \"" + s + "\" is not \"a b\"");
        out_.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        return true;
      }
      case Kind::kMergePair:
        if (++pair_size_ == 1) pair_.first = std::move(s);
        else if (pair_size_ == 2) pair_.second = std::move(s);
        return true;
      default:
        return value(json(std::move(s)));
    }
  }

  bool start_object(std::size_t) override {
    if (top() != Kind::kDom) return value(json());  // throws: no objects inside vocab/merges
    if (top() == Kind::kDom && in_model() && key_ == "vocab") {
      out_.has_vocab = true;
      stack_.push_back({nullptr, Kind::kVocab, false});
      return true;
    }
    bool is_model = stack_.size() == 1 && key_ == "model";
    json* node = open(json::object());
    stack_.push_back({node, Kind::kDom, is_model});
    return true;
  }

  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }

  bool end_object() override {
    stack_.pop_back();
    return true;
  }

  bool start_array(std::size_t) override {
    if (top() == Kind::kMerges) {
      pair_size_ = 0;
      stack_.push_back({nullptr, Kind::kMergePair, false});
      return true;
    }
    if (top() == Kind::kDom && in_model() && key_ == "merges") {
      out_.has_merges = true;
      stack_.push_back({nullptr, Kind::kMerges, false});
      return true;
    }
    if (top() != Kind::kDom) return value(json());  // throws: no arrays inside vocab/pairs
    json* node = open(json::array());
    stack_.push_back({node, Kind::kDom, false});
    return true;
  }

  bool end_array() override {
    if (top() == Kind::kMergePair) {
      if (pair_size_ != 2) throw FormatError("BPE merge is not a pair of strings");
      out_.merges.push_back(std::move(pair_));
    }
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw FormatError(std::string("malformed JSON: ") + e.what());
  }

 private:
  enum class Kind { kDom, kVocab, kMerges, kMergePair };
  struct Frame {
    json* node;
    Kind kind;
    bool is_model;
  };

  Kind top() const { return stack_.empty() ? Kind::kDom : stack_.back().kind; }
  bool in_model() const { return !stack_.empty() && stack_.back().is_model; }

  bool vocab_id(int64_t id) {
    out_.vocab.emplace_back(std::move(key_), id);
    return true;
  }

  // Places a new container where the next value goes and returns it.
  json* open(json&& v) {
    if (stack_.empty()) {
      out_.doc = std::move(v);
      return &out_.doc;
    }
    json& parent = *stack_.back().node;
    if (parent.is_object()) return &(parent[key_] = std::move(v));
    parent.push_back(std::move(v));
    return &parent.back();
  }

  bool value(json&& v) {
    switch (top()) {
      case Kind::kVocab:
        throw FormatError("BPE vocab entry \"" + key_ + "\" is not an integer id");
      case Kind::kMerges:
      case Kind::kMergePair:
        throw FormatError("BPE merge is neither \"a b\" nor [\"a\", \"b\"]");
      case Kind::kDom:
        break;
    }
    open(std::move(v));
    return true;
  }

  TokenizerJson& out_;
  std::vector<Frame> stack_;
  std::string key_;
  std::pair<std::string, std::string> pair_;
  int pair_size_ = 0;
};

}  // namespace

TokenizerJson parse_tokenizer_json(const std::string& text) {
  TokenizerJson out;
  Reader reader(out);
  json::sax_parse(text, &reader);
  return out;
}

}  // namespace blockattn::tok
