#include "data/extract_code.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/strings.h"

namespace blockattn::data {

namespace {

struct Line {
  size_t begin = 0;  // byte offset of the line in the source
  std::string_view text;
  int depth = 0;            // brace depth at the start of the line (C family)
  bool in_comment = false;  // starts inside a block comment or multi-line string
};

bool is_ident(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

// Identifier starting at or after `from` (skipping spaces and '*').
std::string ident_after(std::string_view s, size_t from) {
  while (from < s.size() && (s[from] == ' ' || s[from] == '\t' || s[from] == '*')) ++from;
  size_t e = from;
  while (e < s.size() && is_ident(s[e])) ++e;
  return std::string(s.substr(from, e - from));
}

// Identifier right before the first '(' of the line (a C function's name).
std::string ident_before_paren(std::string_view s) {
  size_t p = s.find('(');
  if (p == std::string_view::npos) return "";
  size_t e = p;
  while (e > 0 && s[e - 1] == ' ') --e;
  size_t b = e;
  while (b > 0 && is_ident(s[b - 1])) --b;
  return std::string(s.substr(b, e - b));
}

std::vector<Line> split_lines(std::string_view src) {
  std::vector<Line> lines;
  size_t pos = 0;
  while (pos < src.size()) {
    size_t nl = src.find('\n', pos);
    if (nl == std::string_view::npos) nl = src.size();
    lines.push_back({pos, src.substr(pos, nl - pos)});
    pos = nl + 1;
  }
  return lines;
}

// Fills depth / in_comment for C, Go and TypeScript: a small lexer that skips comments,
// strings, character literals, raw strings and preprocessor lines. Braces opened on an
// `extern "C" {` line do not count (the declarations inside are top level).
void scan_braces(std::vector<Line>& lines, CodeLanguage lang) {
  int depth = 0;
  std::vector<bool> transparent;  // per open brace
  bool block_comment = false;
  char raw_quote = 0;  // '`' while inside a Go raw string / TS template
  bool continued_pp = false;
  for (Line& l : lines) {
    l.depth = depth;
    l.in_comment = block_comment || raw_quote;
    std::string_view t = l.text;
    size_t first = t.find_first_not_of(" \t");
    bool pp = lang == CodeLanguage::kC && !block_comment &&
              (continued_pp || (first != std::string_view::npos && t[first] == '#'));
    continued_pp = pp && !t.empty() && t.back() == '\\';
    if (pp) continue;
    bool extern_c = starts_with(t, "extern \"C\"");
    for (size_t i = 0; i < t.size(); ++i) {
      char c = t[i];
      if (block_comment) {
        if (c == '*' && i + 1 < t.size() && t[i + 1] == '/') block_comment = false, ++i;
        continue;
      }
      if (raw_quote) {
        if (c == '\\' && lang == CodeLanguage::kTypeScript)
          ++i;
        else if (c == raw_quote)
          raw_quote = 0;
        continue;
      }
      if (c == '/' && i + 1 < t.size() && t[i + 1] == '/') break;
      if (c == '/' && i + 1 < t.size() && t[i + 1] == '*') {
        block_comment = true, ++i;
        continue;
      }
      if (c == '`' && lang != CodeLanguage::kC) {
        raw_quote = '`';
        continue;
      }
      if (c == '"' || c == '\'') {
        for (++i; i < t.size() && t[i] != c; ++i)
          if (t[i] == '\\') ++i;
        continue;
      }
      if (c == '{') {
        transparent.push_back(extern_c);
        if (!extern_c) ++depth;
      } else if (c == '}') {
        if (!transparent.empty()) {
          if (!transparent.back()) --depth;
          transparent.pop_back();
        }
        if (depth < 0) depth = 0;
      }
    }
  }
}

bool comment_or_decorator(std::string_view t, CodeLanguage lang) {
  size_t f = t.find_first_not_of(" \t");
  if (f == std::string_view::npos) return false;
  std::string_view s = t.substr(f);
  if (lang == CodeLanguage::kPython) return s[0] == '#' || s[0] == '@';
  return starts_with(s, "//") || starts_with(s, "/*") || s[0] == '*' ||
         (lang == CodeLanguage::kTypeScript && s[0] == '@');
}

struct Unit {
  size_t line;
  int level;
  std::string kind, title;
};

void python_units(const std::vector<Line>& lines, std::vector<Unit>& out) {
  bool in_class = false;
  char triple = 0;  // inside a """ or ''' string: no units
  for (size_t k = 0; k < lines.size(); ++k) {
    std::string_view t = lines[k].text;
    bool was_in_string = triple != 0;
    // Track triple-quoted strings by counting delimiters on the line (good enough for stdlib).
    for (size_t i = 0; i + 3 <= t.size(); ++i) {
      std::string_view d = t.substr(i, 3);
      if (!triple && (d == "\"\"\"" || d == "'''"))
        triple = d[0], i += 2;
      else if (triple && d[0] == triple && d[1] == triple && d[2] == triple)
        triple = 0, i += 2;
    }
    if (was_in_string) continue;
    int indent = 0;
    while (indent < static_cast<int>(t.size()) && t[indent] == ' ') ++indent;
    std::string_view s = t.substr(indent);
    bool is_async = starts_with(s, "async def ");
    if (is_async) s.remove_prefix(6);
    bool is_def = starts_with(s, "def "), is_class = starts_with(s, "class ");
    if (indent == 0 && !s.empty() && s[0] != '#' && s[0] != '@' && s[0] != ')' && !is_def &&
        !is_class)
      in_class = false;  // other top-level code ends a class
    if (!is_def && !is_class) continue;
    std::string name = ident_after(s, is_def ? 4 : 6);
    if (indent == 0) {
      out.push_back({k, 1, is_def ? "function" : "class", name});
      in_class = is_class;
    } else if (indent == 4 && in_class && is_def) {
      out.push_back({k, 2, "method", name});
    }
  }
}

void c_units(const std::vector<Line>& lines, std::vector<Unit>& out) {
  for (size_t k = 0; k < lines.size(); ++k) {
    const Line& l = lines[k];
    std::string_view t = l.text;
    if (l.depth != 0 || l.in_comment || t.empty() || !(is_ident(t[0]))) continue;
    if (k > 0 && !lines[k - 1].text.empty() && lines[k - 1].text.back() == '\\')
      continue;  // macro body
    std::string_view s = t;
    for (const char* p : {"extern ", "static ", "inline ", "__extension__ ", "const "})
      if (starts_with(s, p)) s.remove_prefix(std::string_view(p).size());
    std::string kind, title;
    for (const char* kw : {"struct", "union", "enum"}) {
      std::string k2 = std::string(kw) + " ";
      if (starts_with(s, k2) && s.find('(') == std::string_view::npos) {
        kind = kw;
        title = ident_after(s, k2.size());
      }
    }
    if (kind.empty() && starts_with(s, "typedef ")) {
      kind = "typedef";
      size_t fp = s.find("(*");
      if (fp != std::string_view::npos)
        title = ident_after(s, fp + 2);
      else if (size_t semi = s.rfind(';'); semi != std::string_view::npos) {
        size_t b = semi;
        while (b > 0 && (is_ident(s[b - 1]) || s[b - 1] == ']' || s[b - 1] == '[')) --b;
        title = ident_after(s, b);
      } else {
        for (const char* kw : {"struct ", "union ", "enum "})
          if (starts_with(s.substr(8), kw)) title = ident_after(s, 8 + std::string_view(kw).size());
      }
    }
    if (kind.empty() && s.find('(') != std::string_view::npos &&
        s.find('=') == std::string_view::npos) {
      std::string name = ident_before_paren(s);
      if (name.empty() || std::all_of(name.begin(), name.end(), [](char c) {
            return std::isupper(static_cast<unsigned char>(c)) || c == '_' ||
                   std::isdigit(static_cast<unsigned char>(c));
          }))
        continue;  // MACRO_CALLS(...) at top level are not units
      kind = "function";
      title = name;
    }
    if (kind.empty()) continue;
    if (title.empty()) title = "(anonymous)";
    out.push_back({k, 1, kind, title});
  }
}

void go_units(const std::vector<Line>& lines, std::vector<Unit>& out) {
  for (size_t k = 0; k < lines.size(); ++k) {
    const Line& l = lines[k];
    if (l.depth != 0 || l.in_comment) continue;
    std::string_view s = l.text;
    if (starts_with(s, "func ")) {
      std::string title;
      if (s.size() > 5 && s[5] == '(') {  // method: func (r *T) Name(
        size_t close = s.find(')');
        std::string_view recv = close == std::string_view::npos ? "" : s.substr(6, close - 6);
        size_t sp = recv.rfind(' ');
        std::string type = ident_after(recv, sp == std::string_view::npos ? 0 : sp + 1);
        title = type + "." + (close == std::string_view::npos ? "" : ident_after(s, close + 1));
        out.push_back({k, 1, "method", title});
      } else {
        out.push_back({k, 1, "function", ident_after(s, 5)});
      }
    } else {
      for (const char* kw : {"type", "var", "const"}) {
        std::string p = std::string(kw) + " ";
        if (!starts_with(s, p)) continue;
        std::string name = ident_after(s, p.size());
        out.push_back({k, 1, kw, name.empty() ? std::string(kw) + " block" : name});
      }
    }
  }
}

void ts_units(const std::vector<Line>& lines, std::vector<Unit>& out) {
  for (size_t k = 0; k < lines.size(); ++k) {
    const Line& l = lines[k];
    if (l.depth != 0 || l.in_comment || l.text.empty() || !is_ident(l.text[0])) continue;
    std::string_view s = l.text;
    for (bool again = true; again;) {
      again = false;
      for (const char* p : {"export ", "declare ", "default ", "abstract ", "async "})
        if (starts_with(s, p)) s.remove_prefix(std::string_view(p).size()), again = true;
    }
    static const std::pair<const char*, const char*> kKinds[] = {
        {"interface ", "interface"}, {"class ", "class"},      {"function ", "function"},
        {"namespace ", "namespace"}, {"module ", "namespace"}, {"type ", "type"},
        {"enum ", "enum"},           {"const enum ", "enum"},  {"const ", "variable"},
        {"let ", "variable"},        {"var ", "variable"}};
    for (const auto& [kw, kind] : kKinds) {
      if (!starts_with(s, kw)) continue;
      size_t at = std::string_view(kw).size();
      std::string name = ident_after(s, at);
      if (name.empty() && at < s.size() && (s[at] == '"' || s[at] == '\'')) {  // declare module "x"
        size_t e = s.find(s[at], at + 1);
        name = std::string(s.substr(at + 1, e == std::string_view::npos ? 0 : e - at - 1));
      }
      out.push_back({k, 1, kind, name});
      break;
    }
  }
}

}  // namespace

bool code_language_for(const std::string& path, CodeLanguage& lang) {
  auto ends = [&](const char* suf) {
    std::string s(suf);
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  if (ends(".py"))
    lang = CodeLanguage::kPython;
  else if (ends(".h") || ends(".c"))
    lang = CodeLanguage::kC;
  else if (ends(".go"))
    lang = CodeLanguage::kGo;
  else if (ends(".ts"))
    lang = CodeLanguage::kTypeScript;
  else
    return false;
  return true;
}

Document extract_code(std::string_view src, CodeLanguage lang, const std::string& title) {
  std::vector<Line> lines = split_lines(src);
  std::vector<Unit> units;
  switch (lang) {
    case CodeLanguage::kPython:
      python_units(lines, units);
      break;
    case CodeLanguage::kC:
      scan_braces(lines, lang);
      c_units(lines, units);
      break;
    case CodeLanguage::kGo:
      scan_braces(lines, lang);
      go_units(lines, units);
      break;
    case CodeLanguage::kTypeScript:
      scan_braces(lines, lang);
      ts_units(lines, units);
      break;
  }
  Document d;
  d.title = title;
  d.text = std::string(src);
  if (d.text.empty() || d.text.back() != '\n') d.text += '\n';
  size_t prev_line_end = 0;  // units never reach back into the previous unit's first line
  for (const Unit& u : units) {
    size_t first = u.line;
    // Take in the comments and decorators directly above (no blank line between).
    // Python: at the unit's own indentation; C family: at top level (depth 0).
    const size_t indent = lines[u.line].text.find_first_not_of(' ');
    auto attached = [&](const Line& l) {
      if (!comment_or_decorator(l.text, lang)) return false;
      return lang == CodeLanguage::kPython ? l.text.find_first_not_of(' ') == indent : l.depth == 0;
    };
    while (first > prev_line_end && attached(lines[first - 1])) --first;
    d.structure.push_back({lines[first].begin, u.level, u.kind, u.title});
    prev_line_end = u.line + 1;
  }
  return d;
}

}  // namespace blockattn::data
