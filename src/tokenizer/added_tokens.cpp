#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace blockattn::tok {
namespace {

bool ends_with_word(std::string_view s, size_t end) { return end > 0 && is_alphanumeric(last_code_point(s, end)); }

bool starts_with_word(std::string_view s, size_t begin) {
  if (begin >= s.size()) return false;
  return is_alphanumeric(next_code_point(s, begin));
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<const AddedToken*>& tokens,
                                     const std::vector<std::string>& patterns) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!patterns[i].empty()) entries_.push_back({patterns[i], tokens[i]});
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.pattern.size() > b.pattern.size(); });
  for (uint32_t i = 0; i < entries_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(entries_[i].pattern[0])].push_back(i);
}

const AddedTokenMatcher::Entry* AddedTokenMatcher::longest_at(std::string_view text, size_t pos) const {
  for (uint32_t i : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
    const std::string& p = entries_[i].pattern;
    if (text.size() - pos >= p.size() && text.compare(pos, p.size(), p) == 0) return &entries_[i];
  }
  return nullptr;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextPiece>& out) const {
  size_t emitted = 0;  // text before this is already in `out`
  size_t pos = 0;
  while (pos < text.size()) {
    const Entry* e = by_first_byte_[static_cast<unsigned char>(text[pos])].empty() ? nullptr : longest_at(text, pos);
    if (!e) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + e->pattern.size();
    pos = stop;  // like aho-corasick, a rejected match is not searched again for shorter ones
    const AddedToken& t = *e->token;
    if (t.single_word && (ends_with_word(text, start) || starts_with_word(text, stop))) continue;
    if (t.lstrip) {
      size_t s = start;
      while (s > emitted) {
        size_t b;
        if (!is_whitespace(last_code_point(text, s, &b))) break;
        s = b;
      }
      start = s;
    }
    if (t.rstrip) {
      while (stop < text.size()) {
        size_t next = stop;
        if (!is_whitespace(next_code_point(text, next))) break;
        stop = next;
      }
      pos = stop;
    }
    if (emitted < start) out.push_back({emitted, start, -1});
    out.push_back({start, stop, t.id});
    emitted = stop;
  }
  if (emitted < text.size()) out.push_back({emitted, text.size(), -1});
}

}  // namespace blockattn::tok
