#include "data/extract_man.h"

#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/text_clean.h"

namespace blockattn::data {

namespace {

struct Glyph {
  const char* name;
  unsigned cp;
};
// The special characters man pages actually use (groff_char(7)).
const Glyph kGlyphs[] = {
    {"em", 0x2014}, {"en", 0x2013}, {"hy", '-'},    {"bu", 0x2022}, {"aq", '\''},   {"dq", '"'},
    {"lq", 0x201C}, {"rq", 0x201D}, {"oq", 0x2018}, {"cq", 0x2019}, {"co", 0xA9},   {"rg", 0xAE},
    {"tm", 0x2122}, {"mu", 0xD7},   {"di", 0xF7},   {"+-", 0xB1},   {"<=", 0x2264}, {">=", 0x2265},
    {"!=", 0x2260}, {"->", 0x2192}, {"<-", 0x2190}, {"ga", '`'},    {"ti", '~'},    {"ha", '^'},
    {"rs", '\\'},   {"sl", '/'},    {"ba", '|'},    {"or", '|'},    {"de", 0xB0},   {"dg", 0x2020},
    {"sc", 0xA7},   {"ps", 0xB6},   {"Fo", 0xAB},   {"Fc", 0xBB},   {"fo", 0x2039}, {"fc", 0x203A},
    {"lB", '['},    {"rB", ']'},    {"lC", '{'},    {"rC", '}'},    {"la", 0x27E8}, {"ra", 0x27E9},
    {"ua", 0x2191}, {"da", 0x2193}, {"aa", 0xB4},   {"pc", 0xB7},   {"ss", 0xDF},   {"e'", 0xE9},
    {"u\"", 0xFC},  {"o\"", 0xF6},  {"a\"", 0xE4},  {"R", 0xAE},    {"Tm", 0x2122}, {"at", '@'},
    {"sh", '#'},    {"Do", '$'},    {"eu", 0x20AC}, {"Eu", 0x20AC}, {"ct", 0xA2},   {"Po", 0xA3},
};

void append_glyph(std::string& out, std::string_view name) {
  for (const Glyph& g : kGlyphs)
    if (name == g.name) return append_utf8(out, g.cp);
  if (name.size() > 1 && name[0] == 'u') {  // \[u00E9]
    char* end = nullptr;
    std::string hex(name.substr(1));
    unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
    if (!*end) append_utf8(out, static_cast<unsigned>(cp));
  }
}

// The name after an escape letter: "(xx", "[name]" or a single character. Advances i.
std::string_view escape_name(std::string_view s, size_t& i) {
  if (i >= s.size()) return {};
  if (s[i] == '(') {
    std::string_view n = s.substr(i + 1, 2);
    i += 3;
    return n;
  }
  if (s[i] == '[') {
    size_t e = s.find(']', i);
    if (e == std::string_view::npos) e = s.size();
    std::string_view n = s.substr(i + 1, e - i - 1);
    i = e + 1;
    return n;
  }
  return s.substr(i++, 1);
}

// Skips a delimited argument like \h'3n' or \w'text'. Advances i.
void skip_delimited(std::string_view s, size_t& i) {
  if (i >= s.size()) return;
  char d = s[i];
  size_t e = s.find(d, i + 1);
  i = e == std::string_view::npos ? s.size() : e + 1;
}

}  // namespace

std::string groff_unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c != '\\') {
      out += c;
      ++i;
      continue;
    }
    if (++i >= s.size()) break;
    char e = s[i++];
    switch (e) {
      case 'f':  // font change
      case 'F':
      case 'k':
        escape_name(s, i);
        break;
      case 's':  // size: \s+2, \s-1, \s0, \s(12, \s[12]
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (i < s.size() && (s[i] == '(' || s[i] == '[')) escape_name(s, i);
        else
          while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) ++i;
        break;
      case '(':
      case '[':
        --i;
        append_glyph(out, escape_name(s, i));
        break;
      case 'C':  // \C'name'
        if (i < s.size()) {
          char d = s[i];
          size_t end = s.find(d, i + 1);
          if (end == std::string_view::npos) end = s.size();
          append_glyph(out, s.substr(i + 1, end - i - 1));
          i = end + 1;
        }
        break;
      case '*': {  // predefined strings
        std::string_view n = escape_name(s, i);
        if (n == "lq" || n == "L\"") out += "\u201C";
        else if (n == "rq" || n == "R\"") out += "\u201D";
        else if (n == "R") out += "\u00AE";
        else if (n == "Tm") out += "\u2122";
        break;
      }
      case 'n':  // number register
      case 'g':
      case 'm':
      case 'M':
      case 'Y':
      case 'V':
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        escape_name(s, i);
        break;
      case 'h':
      case 'v':
      case 'w':
      case 'o':
      case 'b':
      case 'l':
      case 'L':
      case 'D':
      case 'x':
      case 'X':
      case 'A':
      case 'B':
      case 'N':
      case 'Z':
      case 'R':
      case 'S':
        skip_delimited(s, i);
        break;
      case '"':  // comment to end of line
        i = s.size();
        break;
      case '#':
        i = s.size();
        break;
      case 'e':
      case '\\':
        out += '\\';
        break;
      case '-':
        out += '-';
        break;
      case ' ':
      case '~':
      case '0':
        out += ' ';
        break;
      case '.':
        out += '.';
        break;
      case '\'':
        out += "\u00B4";
        break;
      case '`':
        out += '`';
        break;
      default:  // \& \| \^ \/ \, \: \c \z \p \d \u \t \a: zero width or layout only
        break;
    }
  }
  return out;
}

namespace {

// Arguments of a request line, honouring double quotes ("" inside quotes is a quote).
std::vector<std::string> split_args(std::string_view s) {
  std::vector<std::string> args;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    std::string a;
    if (s[i] == '"') {
      ++i;
      while (i < s.size()) {
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            a += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        a += s[i++];
      }
    } else {
      while (i < s.size() && s[i] != ' ' && s[i] != '\t') a += s[i++];
    }
    args.push_back(std::move(a));
  }
  return args;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string r;
  for (size_t k = 0; k < v.size(); ++k) r += (k ? sep : "") + v[k];
  return r;
}

}  // namespace

Document extract_man(std::string_view src) {
  TextBuilder b;
  std::string title;
  bool fill = true;
  bool tag_next = false;  // .TP: the next line is the tag, on its own line
  std::string skip_until;  // ".." after .de/.ig, ".TE" after .TS
  bool table_format = false;

  auto text_line = [&](const std::string& t) {
    if (!fill) {
      b.verbatim(t);
      b.verbatim("\n");
    } else {
      b.inline_text(t);
      b.inline_text(" ");
    }
    if (tag_next) {
      b.line_break();
      tag_next = false;
    }
  };

  size_t pos = 0;
  while (pos <= src.size()) {
    size_t nl = src.find('\n', pos);
    if (nl == std::string_view::npos) nl = src.size();
    std::string_view line = src.substr(pos, nl - pos);
    pos = nl + 1;

    if (!skip_until.empty()) {
      if (skip_until == ".TE") {
        if (line.substr(0, 3) == ".TE") {
          skip_until.clear();
          b.paragraph();
        } else if (table_format) {
          // tbl options and format lines end with ';' / '.'; data follows the last '.' line.
          if (!line.empty() && line.back() == '.') table_format = false;
        } else if (!line.empty() && line[0] != '.') {
          std::string row = groff_unescape(line);
          for (char& c : row)
            if (c == '\t') c = ' ';
          if (row == "_" || row == "=") continue;
          b.verbatim(row);
          b.verbatim("\n");
        }
        continue;
      }
      if (line.substr(0, 2) == "..") skip_until.clear();
      continue;
    }
    if (line.empty()) {
      if (fill) b.paragraph();
      else b.verbatim("\n");
      continue;
    }
    if (line[0] != '.' && line[0] != '\'') {
      text_line(groff_unescape(line));
      continue;
    }
    // A request or macro: ".XX args".
    std::string_view rest = line.substr(1);
    while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) rest.remove_prefix(1);
    size_t ne = 0;
    while (ne < rest.size() && rest[ne] != ' ' && rest[ne] != '\t') ++ne;
    std::string req(rest.substr(0, ne));
    std::string_view argstr = rest.substr(ne);
    if (req.empty() || req[0] == '\\') continue;  // ".\"" comment or "." alone
    std::vector<std::string> args = split_args(argstr);
    for (auto& a : args) a = groff_unescape(a);

    if (req == "TH") {
      if (!args.empty()) title = args[0] + (args.size() > 1 ? "(" + args[1] + ")" : "");
    } else if (req == "SH" || req == "SS") {
      fill = true;
      std::string h = join(args, " ");
      if (h.empty()) {  // heading text on the next line
        size_t e = src.find('\n', pos);
        if (e == std::string_view::npos) e = src.size();
        h = groff_unescape(src.substr(pos, e - pos));
        pos = e + 1;
      }
      b.heading(req == "SH" ? 1 : 2, req == "SH" ? "section" : "subsection", h);
    } else if (req == "B" || req == "I" || req == "SM" || req == "SB") {
      if (args.empty()) continue;  // font applies to the next line, which is text anyway
      text_line(join(args, " "));
    } else if (req.size() == 2 && std::string("BIR").find(req[0]) != std::string::npos &&
               std::string("BIR").find(req[1]) != std::string::npos) {
      text_line(join(args, ""));  // .BR .IR .RB ...: alternating fonts, no spaces
    } else if (req == "PP" || req == "LP" || req == "P" || req == "sp" || req == "HP" || req == "RS" ||
               req == "RE" || req == "IP" || req == "TP" || req == "TQ" || req == "PD" || req == "ne" ||
               req == "bp") {
      b.paragraph();
      if (req == "TP" || req == "TQ") tag_next = true;
      if (req == "IP" && !args.empty() && !args[0].empty()) {
        b.inline_text(args[0]);
        b.line_break();
      }
    } else if (req == "br") {
      b.line_break();
    } else if (req == "nf" || req == "EX") {
      fill = false;
      b.paragraph();
    } else if (req == "fi" || req == "EE") {
      fill = true;
      b.paragraph();
    } else if (req == "de" || req == "de1" || req == "ig" || req == "am") {
      skip_until = "..";
    } else if (req == "TS") {
      skip_until = ".TE";
      table_format = true;
      b.paragraph();
    } else if (req == "so") {
      // A link page (".so man3/other.3"): its content is another page.
    } else if (req == "UR" || req == "MT") {
      // URL/mail start: the link text follows; the address itself is dropped.
    } else if (req == "UE" || req == "ME") {
      if (!args.empty()) b.inline_text(args[0]);
      b.inline_text(" ");
    } else if (req == "SY") {
      b.paragraph();
      text_line(join(args, " "));
    } else if (req == "OP") {
      text_line("[" + join(args, " ") + "]");
    } else if (req == "YS") {
      b.paragraph();
    } else if (req == "Nm" || req == "Nd" || req == "Sh") {
      // mdoc pages are rare in Debian's manpages; their macro text still reads fine.
      if (req == "Sh") b.heading(1, "section", join(args, " "));
      else text_line(join(args, " "));
    }
    // Everything else (.ad .na .hy .nh .ft .ps .in .ti .ll .IX .ds .nr .if .ie .el .tr ...)
    // only changes layout or defines strings: dropped.
  }
  Document d = b.finish(title);
  return d;
}

}  // namespace blockattn::data
