#include "tokenizer/sentencepiece_tokenizer.h"

#include "blockattn/error.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/utf8.h"
#include "tokenizer/spm_library.h"

namespace blockattn::tok {
namespace {

// Owns one processor inside the shim; every call goes through its C function table.
class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : api_(spm_api()) {
    std::string bytes = read_file(path);
    char err[512] = "";
    sp_ = api_.load(bytes.data(), bytes.size(), err, sizeof err);
    if (!sp_) throw FormatError(path + ": not a SentencePiece model: " + err);
    fingerprint_ = hash128(bytes).hex();
    vocab_size_ = api_.piece_size(sp_);
    if (api_.bos_id(sp_) >= 0) bos_id_ = api_.bos_id(sp_);
    if (api_.eos_id(sp_) >= 0) eos_id_ = api_.eos_id(sp_);
    add_bos_token_ = true;  // what Llama's SentencePiece tokenizers do unless the config says no
  }
  ~SentencePieceTokenizer() override { api_.destroy(sp_); }

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override {
    require_utf8(text, "tokenizer input");
    std::vector<int> ids(text.size() + 16);
    char err[512] = "";
    long n = api_.encode(sp_, text.data(), text.size(), ids.data(), ids.size(), err, sizeof err);
    if (n < 0) throw InputError(std::string("sentencepiece encode failed: ") + err);
    if (static_cast<size_t>(n) > ids.size()) {
      ids.resize(static_cast<size_t>(n));
      n = api_.encode(sp_, text.data(), text.size(), ids.data(), ids.size(), err, sizeof err);
    }
    std::vector<int32_t> out;
    out.reserve(static_cast<size_t>(n) + 1);
    if (add_special_tokens && add_bos_token_ && bos_id_) out.push_back(*bos_id_);
    out.insert(out.end(), ids.begin(), ids.begin() + n);
    return out;
  }

  // SentencePiece renders control pieces as nothing; to show them (skip_special_tokens=false)
  // the ids are decoded in runs between them and their piece text is put in between.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    std::string out;
    std::vector<int> run;
    auto flush = [&] {
      if (run.empty()) return;
      std::string text(run.size() * 8 + 16, '\0');
      char err[512] = "";
      long n = api_.decode(sp_, run.data(), run.size(), text.data(), text.size(), err, sizeof err);
      if (n < 0) throw InputError(std::string("sentencepiece decode failed: ") + err);
      if (static_cast<size_t>(n) > text.size()) {
        text.resize(static_cast<size_t>(n));
        api_.decode(sp_, run.data(), run.size(), text.data(), text.size(), err, sizeof err);
      }
      out.append(text.data(), static_cast<size_t>(n));
      run.clear();
    };
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab_size()) continue;
      if (api_.is_control(sp_, id)) {
        if (skip_special_tokens) continue;
        flush();
        out += piece(id);
      } else if (!(skip_special_tokens && api_.is_unknown(sp_, id))) {
        run.push_back(id);
      }
    }
    flush();
    return out;
  }

  int32_t vocab_size() const override { return vocab_size_; }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    int id = api_.piece_to_id(sp_, token.data(), token.size());
    if (id < 0 || piece(id) != token) return std::nullopt;  // unknown pieces map to <unk>
    return id;
  }

  std::string id_to_token(int32_t id) const override {
    if (id < 0 || id >= vocab_size())
      throw InputError("no token has id " + std::to_string(id) + " (vocab size " + std::to_string(vocab_size()) + ")");
    return piece(id);
  }

  bool is_special(int32_t id) const override {
    return id >= 0 && id < vocab_size() && (api_.is_control(sp_, id) || api_.is_unknown(sp_, id));
  }

  std::string kind() const override { return "sentencepiece"; }

 private:
  std::string piece(int32_t id) const {
    std::string s(64, '\0');
    long n = api_.id_to_piece(sp_, id, s.data(), s.size());
    if (static_cast<size_t>(n) > s.size()) {
      s.resize(static_cast<size_t>(n));
      api_.id_to_piece(sp_, id, s.data(), s.size());
    }
    s.resize(static_cast<size_t>(n));
    return s;
  }

  const BaSpmApi& api_;
  void* sp_ = nullptr;
  int32_t vocab_size_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace blockattn::tok
