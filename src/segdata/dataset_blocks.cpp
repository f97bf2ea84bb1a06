#include "segdata/dataset_blocks.h"

#include <algorithm>

#include "core/strings.h"

namespace blockattn::segment {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string_view trim_view(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Moves `pos` back to its line start when only blanks precede it on the line.
size_t snap_to_line_start(const std::string& t, size_t pos) {
  size_t p = pos;
  while (p > 0 && (t[p - 1] == ' ' || t[p - 1] == '\t')) --p;
  return (p == 0 || t[p - 1] == '\n') ? p : pos;
}

// A declaration's doc comment and decorators belong to it: a block that started at `def` or
// `func` would leave them at the end of the previous block, which is not where a reader puts
// them. Walks back over directly preceding comment lines (no blank line between), never below
// `floor` (the previous block start).
size_t extend_over_comments(const std::string& t, size_t start, size_t floor,
                            const std::string& category) {
  const bool hash_comments = category == "python";
  const bool decorators = category == "python" || category == "typescript";
  while (start > floor && t[start - 1] == '\n') {
    const size_t le = start - 1;  // the '\n' that ends the previous line
    const size_t nl = le == 0 ? std::string::npos : t.rfind('\n', le - 1);
    const size_t ls = nl == std::string::npos ? 0 : nl + 1;
    if (ls < floor) break;
    const std::string_view line = trim_view(std::string_view(t).substr(ls, le - ls));
    if (line.empty()) break;
    if (starts_with(line, "//") || (hash_comments && line[0] == '#') ||
        (decorators && line[0] == '@')) {
      start = ls;
      continue;
    }
    if (ends_with(line, "*/")) {
      // A block comment ending on this line: take it whole if it opens at a line start.
      const size_t open = t.rfind("/*", le);
      if (open == std::string::npos || open < floor) break;
      const size_t line_start = snap_to_line_start(t, open);
      if (line_start == open && open != 0 && t[open - 1] != '\n') break;
      if (line_start < floor) break;
      start = line_start;
      continue;
    }
    break;
  }
  return start;
}

}  // namespace

const std::vector<BlockPolicy>& corpus_policies() {
  static const std::vector<BlockPolicy> policies = {
      {"api-reference", 2, false, false, "chapter or section (with its subsections)"},
      {"book", 2, false, false, "chapter or section (with its subsections)"},
      {"c", 1, true, false, "declaration (function, struct, enum, typedef) with its comment"},
      {"changelog", 1, false, false, "release entry"},
      {"dictionary", 1, false, true, "headword entry (consecutive entries of one headword joined)"},
      {"faq", 2, false, false, "question with its answer (or a top-level section)"},
      {"fortune", 1, false, false, "one fortune"},
      {"glossary", 1, false, true, "term entry"},
      {"go", 1, true, false,
       "top-level declaration (func, method, type, var, const) with its comment"},
      {"license", 2, false, false, "section or numbered clause"},
      {"man-page", 2, false, false, "section or subsection (NAME, SYNOPSIS, DESCRIPTION, ...)"},
      {"manual", 2, false, false, "chapter or section (with its subsections)"},
      {"python", 2, true, false, "class, function or method with its comments and decorators"},
      {"tutorial", 2, false, false, "chapter or section (with its subsections)"},
      {"typescript", 1, true, false, "top-level declaration (interface, type, variable, function)"},
  };
  return policies;
}

BlockPolicy policy_for(const std::string& category) {
  for (const BlockPolicy& p : corpus_policies())
    if (p.category == category) return p;
  return {category, 2, false, false, "section"};
}

std::vector<GoldBlock> document_blocks(const SourceDoc& doc, const BlockPolicy& policy) {
  const std::string& t = doc.text;
  std::vector<std::pair<size_t, std::string>> starts;  // (offset, title)
  std::string last_title;
  for (const data::Section& s : doc.structure) {
    if (s.level > policy.max_level || s.offset >= t.size()) continue;
    if (policy.merge_same_title) {
      std::string key = lower(s.title);
      if (!starts.empty() && key == last_title) continue;
      last_title = std::move(key);
    }
    size_t pos = snap_to_line_start(t, s.offset);
    if (policy.code)
      pos = extend_over_comments(t, pos, starts.empty() ? 0 : starts.back().first + 1,
                                 policy.category);
    if (!starts.empty() && pos <= starts.back().first)
      continue;  // same start (or a comment already taken)
    starts.emplace_back(pos, s.title);
  }
  // A preamble (module docstring, package clause, a book's front matter) is a block; blank
  // space before the first heading is not.
  if (starts.empty() || (starts.front().first > 0 &&
                         !trim_view(std::string_view(t).substr(0, starts.front().first)).empty()))
    starts.insert(starts.begin(), {0, std::string()});

  std::vector<GoldBlock> blocks;
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end = i + 1 < starts.size() ? starts[i + 1].first : t.size();
    blocks.push_back({starts[i].first, end, starts[i].second});
  }
  return blocks;
}

}  // namespace blockattn::segment
