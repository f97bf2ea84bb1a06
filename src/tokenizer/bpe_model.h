// tokenizer.json "model" of type BPE: vocabulary, ranked merges, and the merge loop HF runs on
// each pre-token.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/word_cache.h"

namespace blockattn::tok {

class BpeModel {
 public:
  // `options` is the "model" object (its flags); vocab and merges come from TokenizerJson.
  // Throws FormatError (bad ids, merges of unknown tokens) or UnsupportedError (dropout,
  // subword affixes).
  BpeModel(const nlohmann::json& options, std::vector<std::pair<std::string, int64_t>> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one pre-token. Thread-safe.
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;  // nullptr: no such id
  int32_t id_limit() const { return static_cast<int32_t>(tokens_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  int32_t char_id(std::string_view ch) const;  // -1 if absent
  // The initial symbols of `word` (characters, byte fallback, unk), as HF's merge_word builds them.
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids) const;
  void merge(std::vector<int32_t>& ids) const;

  std::vector<std::string> tokens_;  // by id; holes are empty and absent from vocab_
  std::vector<std::string> aliases_;  // further strings of an id that has several
  std::unordered_map<std::string_view, int32_t> vocab_;  // views into tokens_ and aliases_
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<int32_t> small_char_ids_;  // code points below 0x800 -> id or -1
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  WordCache cache_{1 << 16};
};

}  // namespace blockattn::tok
