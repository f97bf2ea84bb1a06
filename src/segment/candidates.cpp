#include "segment/candidates.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "segment/chars.h"

namespace blockattn::segment {

const char* cut_type_name(CutType t) {
  switch (t) {
    case CutType::kForced:
      return "forced";
    case CutType::kWord:
      return "word";
    case CutType::kSentence:
      return "sentence";
    case CutType::kLine:
      return "line";
    case CutType::kCode:
      return "code";
    case CutType::kParagraph:
      return "paragraph";
    case CutType::kStart:
      return "start";
  }
  return "?";
}

namespace {

bool starts_with(std::string_view s, size_t pos, std::string_view prefix) {
  return s.size() - pos >= prefix.size() && s.compare(pos, prefix.size(), prefix) == 0;
}

// Bytes of a closing quote or bracket ending at `end` (0 if none): these may follow a sentence's
// final punctuation ("Stop." she said / (see above.)).
size_t closer_before(std::string_view t, size_t end) {
  if (end == 0) return 0;
  char c = t[end - 1];
  if (c == ')' || c == ']' || c == '"' || c == '\'') return 1;
  static const char* const kMulti[] = {"\xE2\x80\x9D", "\xE2\x80\x99", "\xC2\xBB", "\xE3\x80\x8D",
                                       "\xE3\x80\x8F", "\xEF\xBC\x89"};  // ” ’ » 」 』 ）
  for (const char* m : kMulti) {
    size_t len = std::strlen(m);
    if (end >= len && t.compare(end - len, len, m) == 0) return len;
  }
  return 0;
}

size_t closer_after(std::string_view t, size_t pos) {
  if (pos >= t.size()) return 0;
  char c = t[pos];
  if (c == ')' || c == ']' || c == '"' || c == '\'') return 1;
  static const char* const kMulti[] = {"\xE2\x80\x9D", "\xE2\x80\x99", "\xC2\xBB",
                                       "\xE3\x80\x8D", "\xE3\x80\x8F", "\xEF\xBC\x89"};
  for (const char* m : kMulti)
    if (starts_with(t, pos, m)) return std::strlen(m);
  return 0;
}

// 。！？ end a sentence without any following space.
size_t cjk_stop_at(std::string_view t, size_t pos) {
  static const char* const kStops[] = {"\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F"};
  for (const char* m : kStops)
    if (starts_with(t, pos, m)) return 3;
  return 0;
}

// A period after these does not end a sentence (a short list: the learned segmenter is what
// handles the long tail; this only keeps the baselines from the most common false cuts).
bool is_abbreviation(std::string word) {
  static const char* const kAbbrev[] = {"mr", "mrs",    "ms",  "dr",   "prof", "sr",  "jr",
                                        "st", "vs",     "fig", "figs", "no",   "vol", "cf",
                                        "eq", "approx", "ca",  "resp", "al",   "sec", "ch"};
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* a : kAbbrev)
    if (word == a) return true;
  return false;
}

// Whether the visible text ending at `end` ends a sentence.
bool ends_sentence(std::string_view t, size_t end) {
  for (size_t k; (k = closer_before(t, end)) != 0;) end -= k;
  if (end == 0) return false;
  char c = t[end - 1];
  if (c == '!' || c == '?') return true;
  if (end >= 3 && (t.compare(end - 3, 3, "\xE2\x80\xA6") == 0 || cjk_stop_at(t, end - 3) != 0))
    return true;  // … 。！？
  if (c != '.') return false;
  size_t dot = end - 1;
  size_t w = dot;
  while (w > 0 && !is_space(t[w - 1]) && dot - w < 32) --w;
  std::string_view word = t.substr(w, dot - w);
  while (!word.empty() && (word.front() == '(' || word.front() == '"' || word.front() == '\'' ||
                           word.front() == '['))
    word.remove_prefix(1);
  if (!word.empty() && word.back() == '.') return true;  // an ellipsis "..."
  if (word.size() == 1 && std::isalpha(static_cast<unsigned char>(word[0]))) return false;
  if (word.find('.') != std::string_view::npos) return false;  // e.g. i.e. U.S.
  return !is_abbreviation(std::string(word));
}

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string_view first_word(std::string_view t, size_t pos) {
  size_t e = pos;
  while (e < t.size() && is_ident(t[e])) ++e;
  return t.substr(pos, e - pos);
}

// The line at `pos` (column 0) opens a top-level construct, and does not merely continue a run
// of lines of the same kind (consecutive imports, decorators or comment lines) that started on
// the previous line `prev` (empty if that line is blank or indented).
bool starts_code(std::string_view t, size_t pos, std::string_view prev) {
  if (pos >= t.size()) return false;
  // Decorators and comments belong to the definition below them: the cut goes before them.
  bool prev_attaches = !prev.empty() && (prev[0] == '@' || prev[0] == '#' ||
                                         prev.rfind("//", 0) == 0 || prev.rfind("/*", 0) == 0);
  char c = t[pos];
  if (c == '@') return prev.empty() || prev[0] != '@';
  if (c == '#') {
    if (starts_with(t, pos, "#endif") || starts_with(t, pos, "#else") ||
        starts_with(t, pos, "#elif"))
      return false;
    return prev.empty() || prev[0] != '#';
  }
  if (starts_with(t, pos, "//") || starts_with(t, pos, "/*"))
    return prev.empty() || (prev.rfind("//", 0) != 0 && prev.rfind("/*", 0) != 0);
  if (prev_attaches) return false;
  static const char* const kKeywords[] = {
      "def",     "class",     "async",    "func",      "fn",        "pub",       "impl",
      "struct",  "enum",      "union",    "trait",     "interface", "type",      "typedef",
      "package", "import",    "from",     "export",    "function",  "const",     "let",
      "var",     "static",    "extern",   "inline",    "template",  "namespace", "module",
      "void",    "int",       "unsigned", "char",      "bool",      "auto",      "public",
      "private", "protected", "abstract", "final",     "sub",       "proc",      "local",
      "macro",   "mod",       "use",      "defmodule", "object",    "val"};
  std::string_view w = first_word(t, pos);
  if (w.empty()) return false;
  size_t after = pos + w.size();
  if (after < t.size() && !(is_space(t[after]) || t[after] == '(' || t[after] == '<' ||
                            t[after] == '{' || t[after] == ':' || t[after] == '!'))
    return false;
  bool keyword = std::any_of(std::begin(kKeywords), std::end(kKeywords),
                             [&](const char* k) { return w == k; });
  if (!keyword) return false;
  return prev.empty() || first_word(prev, 0) != w;
}

// The previous line closes a top-level block: `}` (optionally `};`, `})`, `} // ...`) or `end`.
bool closes_block(std::string_view line) {
  if (line == "end") return true;
  if (line.empty() || line[0] != '}') return false;
  for (size_t i = 1; i < line.size(); ++i) {
    char c = line[i];
    if (starts_with(line, i, "//")) return true;
    if (c != '}' && c != ')' && c != ';' && c != ',' && c != ' ' && c != '\t') return false;
  }
  return true;
}

}  // namespace

std::vector<Candidate> find_candidates(std::string_view t) {
  std::vector<Candidate> out;
  const size_t n = t.size();
  size_t line_start = 0;
  size_t i = 0;
  while (i < n) {
    if (!is_space(t[i])) {
      size_t stop = cjk_stop_at(t, i);
      if (stop == 0) {
        ++i;
        continue;
      }
      size_t p = i + stop;
      for (size_t k; (k = closer_after(t, p)) != 0;) p += k;
      if (p < n && !is_space(t[p]))
        out.push_back({p, CutType::kSentence, cut_bit(CutType::kSentence)});
      i = p;
      continue;
    }
    const size_t s = i;
    int newlines = 0;
    size_t last_nl_end = std::string_view::npos;
    for (; i < n && is_space(t[i]); ++i) {
      char c = t[i];
      if (c == '\n' || (c == '\r' && !(i + 1 < n && t[i + 1] == '\n'))) {
        ++newlines;
        last_nl_end = i + 1;
      } else if (c == '\f') {
        newlines += 2;
        last_nl_end = i + 1;
      }
    }
    const size_t e = i;
    // Leading whitespace is no cut: it would make a first block of nothing but whitespace.
    if (s > 0 && e < n) {
      uint8_t kinds = 0;
      if (newlines >= 2) kinds |= cut_bit(CutType::kParagraph) | cut_bit(CutType::kLine);
      if (newlines == 1) kinds |= cut_bit(CutType::kLine);
      if (newlines == 0) kinds |= cut_bit(CutType::kWord);
      bool next_lower = std::islower(static_cast<unsigned char>(t[e])) != 0;
      if (ends_sentence(t, s) && (newlines > 0 || !next_lower))
        kinds |= cut_bit(CutType::kSentence);
      if (newlines > 0) {
        std::string_view prev = t.substr(line_start, s - line_start);
        if (!prev.empty() && is_space(prev[0])) prev = {};  // indented: not top level
        bool column0 = last_nl_end == e;
        if ((column0 && starts_code(t, e, newlines == 1 ? prev : std::string_view())) ||
            closes_block(prev))
          kinds |= cut_bit(CutType::kCode);
      }
      CutType type = CutType::kWord;
      for (int k = static_cast<int>(CutType::kParagraph); k >= 1; --k)
        if (kinds & (1u << k)) {
          type = static_cast<CutType>(k);
          break;
        }
      out.push_back({e, type, kinds});
    }
    if (last_nl_end != std::string_view::npos) line_start = last_nl_end;
  }
  return out;
}

}  // namespace blockattn::segment
