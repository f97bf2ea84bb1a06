#include "data/extract_pod.h"

#include <cctype>
#include <cstdlib>
#include <string>

#include "data/text_clean.h"

namespace blockattn::data {

namespace {

void append_pod_entity(std::string& out, std::string_view e) {
  if (e == "lt") out += '<';
  else if (e == "gt") out += '>';
  else if (e == "verbar") out += '|';
  else if (e == "sol") out += '/';
  else if (e == "quot") out += '"';
  else if (e == "amp") out += '&';
  else if (e == "apos") out += '\'';
  else if (!e.empty() && std::isdigit(static_cast<unsigned char>(e[0]))) {
    std::string d(e);
    append_utf8(out, static_cast<unsigned>(std::strtoul(d.c_str(), nullptr, 0)));
  } else if (e == "eacute") out += "\u00E9";
  else if (e == "copy") out += "\u00A9";
  else if (e == "laquo") out += "\u00AB";
  else if (e == "raquo") out += "\u00BB";
  else if (e == "nbsp") out += ' ';
}

// Resolves codes from s[i]; stops at the closing delimiter of the enclosing code. `close` is the
// closing run (">" or ">>" ...), empty at top level.
std::string resolve(std::string_view s, size_t& i, const std::string& close) {
  std::string out;
  while (i < s.size()) {
    if (!close.empty() && s.compare(i, close.size(), close) == 0 &&
        (close.size() == 1 || (i > 0 && s[i - 1] == ' '))) {
      i += close.size();
      if (close.size() > 1) {  // "C<< a >>": the space before ">>" belongs to the delimiter
        while (!out.empty() && out.back() == ' ') out.pop_back();
      }
      return out;
    }
    char c = s[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i + 1 < s.size() && s[i + 1] == '<') {
      size_t n = 0;
      while (i + 1 + n < s.size() && s[i + 1 + n] == '<') ++n;
      size_t j = i + 1 + n;
      std::string inner_close(n, '>');
      if (n > 1) {
        if (j < s.size() && s[j] == ' ') ++j;  // "C<< " : delimiter space
      }
      std::string inner = resolve(s, j, inner_close);
      i = j;
      switch (c) {
        case 'E':
          append_pod_entity(out, inner);
          break;
        case 'L': {  // L<text|target>, L<name/"section">, L<url>
          size_t bar = inner.find('|');
          if (bar != std::string::npos) out += inner.substr(0, bar);
          else {
            std::string t = inner;
            size_t slash = t.find("/\"");
            if (slash != std::string::npos) t = t.substr(slash + 2, t.size() - slash - 3) + " in " + t.substr(0, slash);
            out += t;
          }
          break;
        }
        case 'X':
        case 'Z':
          break;  // index entries, zero-width
        default:  // B I C F S and unknown codes: their text
          out += inner;
      }
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace

std::string pod_inline(std::string_view s) {
  size_t i = 0;
  return resolve(s, i, "");
}

Document extract_pod(std::string_view src) {
  TextBuilder b;
  std::string name_title, first_heading;
  bool in_pod = true;  // .pod files are POD from the start; "=cut" leaves POD until the next command
  std::string skip_begin;  // "=begin X" ... "=end X"
  bool want_name = false;

  // POD works by paragraphs (blank-line separated).
  size_t pos = 0;
  while (pos < src.size()) {
    size_t e = src.find("\n\n", pos);
    std::string_view para = src.substr(pos, e == std::string_view::npos ? std::string_view::npos : e - pos);
    pos = e == std::string_view::npos ? src.size() : e + 2;
    while (!para.empty() && para.front() == '\n') para.remove_prefix(1);
    if (trim(para).empty()) continue;

    if (para[0] == '=') {
      size_t ne = 1;
      while (ne < para.size() && !std::isspace(static_cast<unsigned char>(para[ne]))) ++ne;
      std::string cmd(para.substr(1, ne - 1));
      std::string arg(trim(para.substr(ne)));
      if (!skip_begin.empty()) {
        if (cmd == "end") skip_begin.clear();
        continue;
      }
      if (cmd == "cut") {
        in_pod = false;
        continue;
      }
      in_pod = true;
      if (cmd.size() == 5 && cmd.compare(0, 4, "head") == 0 && cmd[4] >= '1' && cmd[4] <= '6') {
        int level = cmd[4] - '0';
        static const char* kKinds[] = {"section", "subsection", "subsubsection", "paragraph", "paragraph", "paragraph"};
        std::string h = pod_inline(arg);
        if (first_heading.empty()) first_heading = h;
        want_name = level == 1 && h == "NAME";
        b.heading(level, kKinds[level - 1], h);
      } else if (cmd == "item") {
        b.paragraph();
        if (arg != "*" && arg != "") {
          std::string t = pod_inline(arg);
          if (t.size() > 2 && t[0] == '*' && t[1] == ' ') t = "\u2022 " + t.substr(2);
          b.inline_text(t);
          b.line_break();
        }
      } else if (cmd == "begin") {
        skip_begin = arg;
      } else if (cmd == "over" || cmd == "back" || cmd == "pod" || cmd == "encoding" || cmd == "for") {
        // layout and metadata only
      }
      continue;
    }
    if (!in_pod) continue;
    if (!skip_begin.empty()) continue;
    if (para[0] == ' ' || para[0] == '\t') {  // verbatim
      b.paragraph();
      b.verbatim(para);
      b.paragraph();
      continue;
    }
    std::string t = pod_inline(para);
    if (want_name && name_title.empty()) name_title = std::string(trim(t));
    want_name = false;
    b.paragraph();
    b.inline_text(t);
    b.paragraph();
  }
  return b.finish(!name_title.empty() ? name_title : first_heading);
}

}  // namespace blockattn::data
