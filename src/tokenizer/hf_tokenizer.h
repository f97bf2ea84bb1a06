// Hugging Face tokenizer.json with a BPE model: added tokens -> normalizer -> pre-tokenizer ->
// BPE -> post-processor, and back through the decoder.
#pragma once

#include <cstdint>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "blockattn/tokenizer.h"
#include "tokenizer/added_tokens.h"

namespace blockattn::tok {

class BpeModel;
class Normalizer;
class PreTokenizer;
class PostProcessor;
class Decoder;

class HfTokenizer : public Tokenizer {
 public:
  // `json` is the file's (decompressed) content; `path` names the file in errors. Throws
  // FormatError / UnsupportedError prefixed with the path.
  HfTokenizer(const std::string& json, const std::string& path);
  ~HfTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  bool is_special(int32_t id) const override;
  std::string kind() const override { return "tokenizer.json (BPE)"; }

 private:
  void parse(const std::string& json);
  void parse_added_tokens(const nlohmann::json& arr);
  const AddedToken* added_by_id(int32_t id) const;
  // Normalized text with no added tokens left in it -> ids.
  void encode_normalized(std::string text, std::vector<int32_t>& ids) const;

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, size_t> added_by_content_;
  std::unordered_map<int32_t, size_t> added_by_id_;
  AddedTokenMatcher raw_matcher_;         // normalized=false: matched in the raw text
  AddedTokenMatcher normalized_matcher_;  // normalized=true: matched after normalization
  int32_t vocab_size_ = 0;
};

}  // namespace blockattn::tok
