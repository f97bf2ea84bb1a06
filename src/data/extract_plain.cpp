#include "data/extract_plain.h"

#include <cctype>
#include <vector>

namespace blockattn::data {

namespace {

std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  size_t p = 0;
  while (p < s.size()) {
    size_t nl = s.find('\n', p);
    if (nl == std::string_view::npos) nl = s.size();
    out.push_back(s.substr(p, nl - p));
    p = nl + 1;
  }
  return out;
}

// The first non-empty line, shortened, as an entry's title.
std::string first_line_title(std::string_view body) {
  for (std::string_view l : lines_of(body)) {
    std::string_view t = trim(l);
    if (t.empty()) continue;
    std::string r(t.substr(0, 80));
    while (!r.empty() && (static_cast<unsigned char>(r.back()) & 0xC0) == 0x80) r.pop_back();  // no split char
    if (!r.empty() && (static_cast<unsigned char>(r.back()) & 0x80)) r.pop_back();
    return r;
  }
  return "";
}

}  // namespace

Document extract_fortunes(std::string_view src, const std::string& title) {
  TextBuilder b;
  std::string entry;
  auto flush = [&] {
    std::string_view t = trim(entry);
    if (!t.empty()) {
      b.paragraph();
      b.mark(1, "entry", first_line_title(t));
      b.verbatim(t);
    }
    entry.clear();
  };
  for (std::string_view l : lines_of(src)) {
    if (trim(l) == "%") {
      flush();
      continue;
    }
    entry.append(l);
    entry += '\n';
  }
  flush();
  return b.finish(title);
}

Document extract_scripture(std::string_view src, const std::string& title) {
  TextBuilder b;
  std::string book, chapter;
  for (std::string_view l : lines_of(src)) {
    std::string_view t = trim(l);
    if (t.empty()) continue;
    // "Book C:V text": the book name may contain spaces and digits ("1 Kings 2:3 ...").
    size_t colon = t.find(':');
    size_t sp = colon == std::string_view::npos ? colon : t.rfind(' ', colon);
    bool ok = sp != std::string_view::npos && sp > 0;
    size_t vend = ok ? colon + 1 : 0;
    if (ok) {
      for (size_t k = sp + 1; k < colon; ++k) ok = ok && std::isdigit(static_cast<unsigned char>(t[k]));
      while (vend < t.size() && std::isdigit(static_cast<unsigned char>(t[vend]))) ++vend;
      ok = ok && colon > sp + 1 && vend > colon + 1;
    }
    if (!ok) {  // not a verse line: keep it as text of the current chapter
      b.line_break();
      b.verbatim(t);
      continue;
    }
    std::string bk(t.substr(0, sp)), ch(t.substr(sp + 1, colon - sp - 1));
    if (bk != book) {
      book = bk;
      chapter.clear();
      b.paragraph();
      b.mark(1, "book", book);  // the book starts with its first chapter heading
    }
    if (ch != chapter) {
      chapter = ch;
      b.heading(2, "chapter", book + " " + chapter);
    }
    b.line_break();
    b.verbatim(t.substr(colon + 1));  // "V text"
  }
  return b.finish(title);
}

Document extract_changelog(std::string_view src, const std::string& title) {
  TextBuilder b;
  for (std::string_view l : lines_of(src)) {
    // Entry header: "package (version) distribution; urgency=..." at column 0.
    bool header = !l.empty() && !std::isspace(static_cast<unsigned char>(l[0])) && l.find(" (") != std::string_view::npos &&
                  l.find(')') != std::string_view::npos && l.find(';') != std::string_view::npos;
    if (header) {
      b.paragraph();
      b.mark(1, "entry", std::string(trim(l.substr(0, l.find(')') + 1))));
    } else {
      b.line_break();
    }
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    if (l.empty()) b.paragraph();
    else b.verbatim(l);
  }
  return b.finish(title);
}

namespace {

bool is_rule(std::string_view t, char c) {
  if (t.size() < 3) return false;
  for (char x : t)
    if (x != c) return false;
  return true;
}

// "3. Title." / "  10. Definitions" / "Section 4." : a numbered clause head.
bool numbered_clause(std::string_view l) {
  std::string_view t = l.substr(std::min(l.size(), l.find_first_not_of(' ')));
  if (l.size() - t.size() > 8) return false;
  size_t d = 0;
  while (d < t.size() && std::isdigit(static_cast<unsigned char>(t[d]))) ++d;
  return d > 0 && d <= 2 && d + 1 < t.size() && t[d] == '.' && t[d + 1] == ' ' && d + 2 < t.size() &&
         std::isupper(static_cast<unsigned char>(t[d + 2]));
}

bool all_caps_title(std::string_view t) {
  int letters = 0;
  for (char c : t) {
    if (std::islower(static_cast<unsigned char>(c))) return false;
    if (std::isupper(static_cast<unsigned char>(c))) ++letters;
  }
  return letters >= 4 && t.size() <= 80 && t.find(' ') != std::string_view::npos;
}

}  // namespace

Document extract_plain(std::string_view src, const std::string& title) {
  TextBuilder b;
  std::vector<std::string_view> ls = lines_of(src);
  bool prev_blank = true;
  for (size_t k = 0; k < ls.size(); ++k) {
    std::string_view l = ls[k];
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    std::string_view t = trim(l);
    if (t.empty()) {
      b.paragraph();
      prev_blank = true;
      continue;
    }
    std::string_view next = k + 1 < ls.size() ? trim(ls[k + 1]) : std::string_view();
    if (is_rule(next, '=') || is_rule(next, '-')) {  // setext heading; the rule is markup
      b.heading(is_rule(next, '=') ? 1 : 2, is_rule(next, '=') ? "section" : "subsection", t);
      ++k;
      prev_blank = true;
      continue;
    }
    if (is_rule(t, '=') || is_rule(t, '-') || is_rule(t, '*')) continue;  // decorative rules
    if (prev_blank && all_caps_title(t)) {
      b.heading(1, "section", t);
    } else if (prev_blank && numbered_clause(l)) {
      b.paragraph();
      std::string_view head = trim(l);
      size_t dot = head.find(". ", head.find('.') + 1);
      b.mark(2, "clause", std::string(head.substr(0, dot == std::string_view::npos ? 80 : dot + 1)));
      b.verbatim(head);  // without its indent, so the offset is the clause's first character
    } else {
      b.line_break();
      b.verbatim(l);
    }
    prev_blank = false;
  }
  return b.finish(title);
}

}  // namespace blockattn::data
