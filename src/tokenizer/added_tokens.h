// tokenizer.json "added_tokens": strings matched in the raw text before anything else runs, each
// becoming one id (HF's AddedVocabulary).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace blockattn::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A run of text: ordinary text to normalize and pre-tokenize (id < 0) or one added token.
struct TextPiece {
  size_t begin;
  size_t end;
  int32_t id;
};

// Leftmost-longest matching of a set of added tokens, with lstrip/rstrip/single_word as HF
// applies them.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `patterns[i]` is the string to find for `tokens[i]` (its content, normalized for tokens
  // with normalized=true). Empty patterns are ignored.
  AddedTokenMatcher(const std::vector<const AddedToken*>& tokens, const std::vector<std::string>& patterns);

  bool empty() const { return entries_.empty(); }

  // Cuts `text` into pieces covering it in order; empty text gives no pieces.
  void split(std::string_view text, std::vector<TextPiece>& out) const;

 private:
  struct Entry {
    std::string pattern;
    const AddedToken* token;
  };
  // Does some pattern start at text[pos]? The longest such one, or nullptr.
  const Entry* longest_at(std::string_view text, size_t pos) const;

  std::vector<Entry> entries_;                 // longest pattern first
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // indices into entries_
};

}  // namespace blockattn::tok
