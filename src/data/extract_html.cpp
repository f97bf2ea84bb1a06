#include "data/extract_html.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/text_clean.h"

namespace blockattn::data {

namespace {

struct Tag {
  std::string name;  // lower case, without '/'
  bool closing = false;
  bool self_closing = false;
  std::string cls, role, id;  // attributes that tell navigation chrome apart from content
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Value of attribute `name` in the raw tag body, or "".
std::string attribute(std::string_view body, std::string_view name) {
  std::string lb = lower(body);
  for (size_t p = lb.find(name); p != std::string::npos; p = lb.find(name, p + 1)) {
    if (p > 0 && !std::isspace(static_cast<unsigned char>(lb[p - 1]))) continue;
    size_t q = p + name.size();
    while (q < lb.size() && lb[q] == ' ') ++q;
    if (q >= lb.size() || lb[q] != '=') continue;
    ++q;
    while (q < lb.size() && lb[q] == ' ') ++q;
    if (q >= lb.size()) return "";
    char quote = lb[q];
    if (quote == '"' || quote == '\'') {
      size_t e = body.find(quote, q + 1);
      return std::string(body.substr(q + 1, e == std::string_view::npos ? std::string_view::npos : e - q - 1));
    }
    size_t e = q;
    while (e < body.size() && !std::isspace(static_cast<unsigned char>(body[e])) && body[e] != '>') ++e;
    return std::string(body.substr(q, e - q));
  }
  return "";
}

Tag parse_tag(std::string_view body) {  // body: between '<' and '>'
  Tag t;
  size_t i = 0;
  if (i < body.size() && body[i] == '/') t.closing = true, ++i;
  size_t s = i;
  while (i < body.size() && (std::isalnum(static_cast<unsigned char>(body[i])) || body[i] == '-')) ++i;
  t.name = lower(body.substr(s, i - s));
  t.self_closing = !body.empty() && body.back() == '/';
  if (!t.closing) {
    t.cls = " " + attribute(body, "class") + " ";
    t.role = attribute(body, "role");
    t.id = attribute(body, "id");
  }
  return t;
}

bool has_class(const Tag& t, const char* c) { return t.cls.find(std::string(" ") + c + " ") != std::string::npos; }

// Page chrome that would leak navigation text into every document.
bool is_chrome(const Tag& t) {
  static const char* kClasses[] = {"related", "sphinxsidebar", "footer", "navheader", "navfooter", "headerlink",
                                   "breadcrumb", "breadcrumbs", "toc-backref", "nav", "menu", "mobile-nav",
                                   "copyright", "header", "sidebar", "docnav", "toc", "toctree-wrapper",
                                   "tagline", "searchmenu"};
  if (t.name == "nav" || t.name == "form" || t.name == "select" || t.role == "navigation" || t.role == "search")
    return true;
  if ((t.name == "div" || t.name == "p") && (t.id == "banner" || t.id == "title" || t.id == "searchmenu"))
    return true;  // Publican, SQLite page headers
  for (const char* c : kClasses)
    if (has_class(t, c)) return true;
  return false;
}

bool is_block(const std::string& n) {
  static const char* kBlocks[] = {"p", "div", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "blockquote",
                                  "section", "article", "pre", "hr", "form", "header", "footer", "figure",
                                  "figcaption", "caption", "body", "main", "aside", "center", "address"};
  return std::any_of(std::begin(kBlocks), std::end(kBlocks), [&](const char* b) { return n == b; });
}

int heading_level(const std::string& n) {
  if (n.size() == 2 && n[0] == 'h' && n[1] >= '1' && n[1] <= '6') return n[1] - '0';
  return 0;
}

struct NamedEntity {
  const char* name;
  unsigned cp;
};
const NamedEntity kEntities[] = {
    {"amp", '&'},     {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", ' '},    {"mdash", 0x2014}, {"ndash", 0x2013}, {"hellip", 0x2026}, {"lsquo", 0x2018},
    {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"copy", 0xA9},    {"reg", 0xAE},
    {"trade", 0x2122}, {"para", 0xB6},   {"sect", 0xA7},    {"bull", 0x2022},  {"middot", 0xB7},
    {"laquo", 0xAB},  {"raquo", 0xBB},   {"times", 0xD7},   {"divide", 0xF7},  {"rarr", 0x2192},
    {"larr", 0x2190}, {"harr", 0x2194},  {"le", 0x2264},    {"ge", 0x2265},    {"ne", 0x2260},
    {"minus", 0x2212}, {"deg", 0xB0},    {"plusmn", 0xB1},  {"micro", 0xB5},   {"eacute", 0xE9},
    {"egrave", 0xE8}, {"aacute", 0xE1},  {"agrave", 0xE0},  {"ouml", 0xF6},    {"uuml", 0xFC},
    {"auml", 0xE4},   {"szlig", 0xDF},   {"ccedil", 0xE7},  {"ntilde", 0xF1},  {"zwsp", 0x200B},
    {"thinsp", 0x2009}, {"ensp", 0x2002}, {"emsp", 0x2003}, {"shy", 0xAD},     {"dagger", 0x2020},
};

}  // namespace

bool decode_html_entity(std::string_view name, std::string& out) {
  if (name.size() >= 2 && name[0] == '#') {
    bool hex = name[1] == 'x' || name[1] == 'X';
    std::string digits(name.substr(hex ? 2 : 1));
    if (digits.empty() || digits.size() > 7) return false;
    char* end = nullptr;
    unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
    if (*end) return false;
    if (cp == 0xA0) cp = ' ';
    if (cp < 0x20 && cp != '\n' && cp != '\t') return true;  // control: drop
    append_utf8(out, static_cast<unsigned>(cp));
    return true;
  }
  for (const auto& e : kEntities)
    if (name == e.name) {
      append_utf8(out, e.cp);
      return true;
    }
  return false;
}

namespace {

// Text of a run between tags with entities decoded.
std::string decode_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      size_t semi = s.find(';', i + 1);
      if (semi != std::string_view::npos && semi - i <= 10 && decode_html_entity(s.substr(i + 1, semi - i - 1), out)) {
        i = semi;
        continue;
      }
    }
    if (s.compare(i, 2, "\xC2\xA0") == 0) {  // literal no-break space: a space in running text
      out += ' ';
      ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

}  // namespace

Document extract_html(std::string_view html) {
  TextBuilder b;
  std::string title, heading_buf;
  int in_heading = 0;     // level of the open <hN>, 0 outside
  int pre_depth = 0;      // inside <pre>: keep whitespace
  bool in_title = false;
  std::string skip_tag;   // element being skipped (script, style, chrome), with its nesting depth
  int skip_depth = 0;

  auto emit_text = [&](std::string_view raw) {
    if (skip_depth) return;
    std::string t = decode_text(raw);
    if (in_title) {
      title += t;
    } else if (in_heading) {
      heading_buf += t;
    } else if (pre_depth) {
      b.verbatim(t);
    } else {
      b.inline_text(t);
    }
  };

  size_t i = 0;
  while (i < html.size()) {
    size_t lt = html.find('<', i);
    if (lt == std::string_view::npos) {
      emit_text(html.substr(i));
      break;
    }
    emit_text(html.substr(i, lt - i));
    if (html.compare(lt, 4, "<!--") == 0) {
      size_t e = html.find("-->", lt + 4);
      i = e == std::string_view::npos ? html.size() : e + 3;
      continue;
    }
    if (lt + 1 < html.size() && (html[lt + 1] == '!' || html[lt + 1] == '?')) {  // doctype, CDATA, PI
      size_t e = html.find('>', lt);
      i = e == std::string_view::npos ? html.size() : e + 1;
      continue;
    }
    if (lt + 1 >= html.size() || !(std::isalpha(static_cast<unsigned char>(html[lt + 1])) || html[lt + 1] == '/')) {
      emit_text("<");  // a bare '<' in text
      i = lt + 1;
      continue;
    }
    size_t gt = html.find('>', lt);
    if (gt == std::string_view::npos) break;
    Tag t = parse_tag(html.substr(lt + 1, gt - lt - 1));
    i = gt + 1;

    if (skip_depth) {  // only track nesting of the skipped element
      if (t.name == skip_tag && !t.self_closing) skip_depth += t.closing ? -1 : 1;
      continue;
    }
    if (!t.closing && (t.name == "script" || t.name == "style" || t.name == "noscript" || t.name == "svg")) {
      // Raw-text elements: jump to the matching close tag.
      size_t e = html.find("</" + t.name, i);
      i = e == std::string_view::npos ? html.size() : html.find('>', e) + 1;
      if (i == 0) i = html.size();
      continue;
    }
    if (!t.closing && !t.self_closing && is_chrome(t) && t.name != "body") {
      skip_tag = t.name;
      skip_depth = 1;
      continue;
    }
    if (t.name == "title") {
      in_title = !t.closing;
      continue;
    }
    if (int lvl = heading_level(t.name)) {
      if (!t.closing) {
        in_heading = lvl;
        heading_buf.clear();
      } else if (in_heading) {
        b.heading(in_heading, "h" + std::to_string(in_heading), heading_buf);
        in_heading = 0;
      }
      continue;
    }
    if (in_heading) {
      if (t.name == "br") heading_buf += ' ';
      continue;  // inline markup inside a heading
    }
    if (t.name == "pre") {
      pre_depth = std::max(0, pre_depth + (t.closing ? -1 : 1));
      b.paragraph();
      continue;
    }
    if (t.name == "br") {
      b.line_break();
    } else if (t.name == "li" || t.name == "dt" || t.name == "tr") {
      b.line_break();
    } else if (t.name == "td" || t.name == "th") {
      if (!t.closing) b.inline_text(" ");
    } else if (is_block(t.name)) {
      b.paragraph();
    }
  }

  Document d = b.finish("");
  // Renumber heading levels so the page's outermost heading is 1 and name the kinds by depth.
  int min_level = 7;
  for (const Section& s : d.structure) min_level = std::min(min_level, s.kind[1] - '0');
  static const char* kKinds[] = {"chapter", "section", "subsection", "subsubsection", "paragraph", "subparagraph"};
  for (Section& s : d.structure) {
    s.level = s.kind[1] - '0' - min_level + 1;
    s.kind = kKinds[s.level - 1];
  }
  std::string t;
  for (char c : trim(title)) {
    bool sp = c == ' ' || c == '\n' || c == '\t';
    if (!(sp && (t.empty() || t.back() == ' '))) t += sp ? ' ' : c;
  }
  if (t.empty() && !d.structure.empty()) t = d.structure.front().title;
  d.title = t;
  return d;
}

}  // namespace blockattn::data
