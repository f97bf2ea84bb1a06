#include "tokenizer/hf_tokenizer.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/hash.h"
#include "core/utf8.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer_json.h"

namespace blockattn::tok {

HfTokenizer::HfTokenizer(const std::string& json, const std::string& path) {
  try {
    parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": malformed tokenizer.json: " + e.what());
  } catch (const UnsupportedError& e) {
    throw UnsupportedError(path + ": " + e.what());
  } catch (const FormatError& e) {
    throw FormatError(path + ": " + e.what());
  }
  fingerprint_ = hash128(json).hex();
  if (post_processor_) bos_id_ = post_processor_->leading_special();
}

HfTokenizer::~HfTokenizer() = default;

void HfTokenizer::parse(const std::string& text) {
  TokenizerJson parsed = parse_tokenizer_json(text);
  const nlohmann::json& j = parsed.doc;
  if (!j.is_object()) throw FormatError("tokenizer.json is not a JSON object");
  const auto& model = get_field(j, "model");
  std::string type = model.is_object() && model.contains("type") ? type_of(model, "model")
                     : parsed.has_merges ? "BPE" : "(none)";
  if (type != "BPE") throw UnsupportedError("tokenizer model type \"" + type + "\" is not supported (only BPE)");
  if (!parsed.has_vocab) throw FormatError("BPE model has no \"vocab\" object");
  if (!parsed.has_merges) throw FormatError("BPE model has no \"merges\" array");

  model_ = std::make_unique<BpeModel>(model, std::move(parsed.vocab), parsed.merges);
  parsed.merges = {};
  normalizer_ = make_normalizer(j.value("normalizer", nlohmann::json()));
  pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", nlohmann::json()));
  post_processor_ = make_post_processor(j.value("post_processor", nlohmann::json()));
  decoder_ = make_decoder(j.value("decoder", nlohmann::json()));
  vocab_size_ = model_->id_limit();
  if (auto it = j.find("added_tokens"); it != j.end() && !it->is_null()) parse_added_tokens(*it);
}

void HfTokenizer::parse_added_tokens(const nlohmann::json& arr) {
  if (!arr.is_array()) throw FormatError("\"added_tokens\" is not an array");
  for (const auto& t : arr) {
    AddedToken a;
    const auto& id = get_field(t, "id");
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= INT32_MAX)
      throw FormatError("added token has a bad id");
    a.id = id.get<int32_t>();
    a.content = get_string(t, "content");
    a.special = get_bool(t, "special", false);
    a.lstrip = get_bool(t, "lstrip", false);
    a.rstrip = get_bool(t, "rstrip", false);
    a.single_word = get_bool(t, "single_word", false);
    a.normalized = get_bool(t, "normalized", !a.special);
    added_.push_back(std::move(a));
  }
  std::vector<const AddedToken*> raw, normed;
  std::vector<std::string> raw_patterns, normed_patterns;
  for (size_t i = 0; i < added_.size(); ++i) {
    const AddedToken& a = added_[i];
    added_by_content_.emplace(a.content, i);
    added_by_id_[a.id] = i;
    vocab_size_ = std::max(vocab_size_, a.id + 1);
    std::string pattern = a.content;
    if (a.normalized) {
      if (normalizer_) normalizer_->normalize(pattern);
      normed.push_back(&a);
      normed_patterns.push_back(std::move(pattern));
    } else {
      raw.push_back(&a);
      raw_patterns.push_back(std::move(pattern));
    }
  }
  raw_matcher_ = AddedTokenMatcher(raw, raw_patterns);
  normalized_matcher_ = AddedTokenMatcher(normed, normed_patterns);
}

const AddedToken* HfTokenizer::added_by_id(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it == added_by_id_.end() ? nullptr : &added_[it->second];
}

void HfTokenizer::encode_normalized(std::string text, std::vector<int32_t>& ids) const {
  if (!pre_tokenizer_) {
    if (!text.empty()) model_->encode_word(text, ids);
    return;
  }
  pre_tokenizer_->pre_tokenize(text, [&](std::string& word) { model_->encode_word(word, ids); });
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  require_utf8(text, "tokenizer input");
  std::vector<int32_t> ids;
  std::vector<TextPiece> pieces;
  if (raw_matcher_.empty()) {
    if (!text.empty()) pieces.push_back({0, text.size(), -1});
  } else {
    raw_matcher_.split(text, pieces);
  }
  std::vector<TextPiece> sub;
  for (const auto& p : pieces) {
    if (p.id >= 0) {
      ids.push_back(p.id);
      continue;
    }
    std::string normalized(text.substr(p.begin, p.end - p.begin));
    if (normalizer_) normalizer_->normalize(normalized);
    if (normalized_matcher_.empty()) {
      encode_normalized(std::move(normalized), ids);
      continue;
    }
    sub.clear();
    normalized_matcher_.split(normalized, sub);
    for (const auto& s : sub) {
      if (s.id >= 0) ids.push_back(s.id);
      else encode_normalized(normalized.substr(s.begin, s.end - s.begin), ids);
    }
  }
  if (add_special_tokens) {
    if (post_processor_) post_processor_->process(ids);
    bool template_adds_bos = post_processor_ && post_processor_->leading_special();
    if (add_bos_token_ && bos_id_ && !template_adds_bos) ids.insert(ids.begin(), *bos_id_);
  }
  return ids;
}

std::string HfTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* a = added_by_id(id)) {
      if (!(skip_special_tokens && a->special)) tokens.push_back(a->content);
    } else if (const std::string* t = model_->id_to_token(id)) {
      tokens.push_back(*t);
    }
  }
  if (!decoder_) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  decoder_->decode_chain(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::optional<int32_t> HfTokenizer::token_to_id(std::string_view token) const {
  if (auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end()) return added_[it->second].id;
  return model_->token_to_id(token);
}

std::string HfTokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* a = added_by_id(id)) return a->content;
  if (const std::string* t = model_->id_to_token(id)) return *t;
  throw InputError("no token has id " + std::to_string(id) + " (vocab size " + std::to_string(vocab_size_) + ")");
}

bool HfTokenizer::is_special(int32_t id) const {
  const AddedToken* a = added_by_id(id);
  return a && a->special;
}

}  // namespace blockattn::tok
