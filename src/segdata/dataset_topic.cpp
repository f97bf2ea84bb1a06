#include "segdata/dataset_topic.h"

#include <cmath>

namespace blockattn::segment {

namespace {

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
bool ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool ascii_letter(char c) { return ascii_upper(c) || (c >= 'a' && c <= 'z'); }

size_t word_count(std::string_view s) {
  size_t n = 0;
  bool in = false;
  for (char c : s) {
    if (ascii_space(c)) {
      in = false;
    } else if (!in) {
      in = true;
      ++n;
    }
  }
  return n;
}

bool ends_sentence(std::string_view s) {
  if (s.empty()) return false;
  const char c = s.back();
  return c == '.' || c == '!' || c == '?' || c == ':' || c == '"' || c == '\'' || c == ')';
}

// A line that opens a paragraph without being part of its running text: a short title line.
bool heading_like(std::string_view line) { return word_count(line) < 10 && !ends_sentence(line); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// The paragraph as one line of running text, or "" when it is not running text.
std::string running_text(const std::vector<std::string_view>& lines) {
  size_t first = 0;
  while (first < lines.size() && heading_like(trim(lines[first]))) ++first;
  std::string out;
  for (size_t i = first; i < lines.size(); ++i) {
    if (!lines[i].empty() && ascii_space(lines[i].front())) return "";  // indented: code, quote
    std::string_view t = trim(lines[i]);
    if (t.empty()) continue;
    if (!out.empty()) out += ' ';
    for (char c : t) {
      if (ascii_space(c)) {
        if (!out.empty() && out.back() != ' ') out += ' ';
      } else {
        out += c;
      }
    }
  }
  if (out.empty()) return "";
  const char c0 = out.front();
  if (!(ascii_letter(c0) || (c0 >= '0' && c0 <= '9') || c0 == '"' || c0 == '\'')) return "";
  size_t visible = 0, letters = 0;
  for (char c : out) {
    if (c == ' ') continue;
    ++visible;
    letters += ascii_letter(c) || static_cast<unsigned char>(c) >= 0x80;
  }
  if (letters * 10 < visible * 7 || word_count(out) < 6 || !ends_sentence(out)) return "";
  return out;
}

// The word that ends at `end` (exclusive), before a period.
std::string_view word_before(std::string_view s, size_t end) {
  size_t b = end;
  while (b > 0 && !ascii_space(s[b - 1])) --b;
  return s.substr(b, end - b);
}

void split_sentences(const std::string& para, std::vector<std::string>& out) {
  size_t start = 0;
  for (size_t i = 0; i + 2 < para.size(); ++i) {
    const char c = para[i];
    if (!(c == '.' || c == '!' || c == '?') || para[i + 1] != ' ' || !ascii_upper(para[i + 2]))
      continue;
    if (c == '.') {
      const std::string_view w = word_before(para, i);
      if (w.size() <= 1 || w == "e.g" || w == "i.e" || w == "etc" || w == "cf" || w == "vs" ||
          w == "Mr" || w == "Dr" || w == "No")
        continue;
    }
    std::string s = para.substr(start, i + 1 - start);
    if (word_count(s) >= 4) out.push_back(std::move(s));
    start = i + 2;
  }
  std::string s = para.substr(start);
  if (word_count(s) >= 4) out.push_back(std::move(s));
}

size_t log_uniform(data::SynthRng& rng, size_t lo, size_t hi) {
  const double u = static_cast<double>(rng.below(1u << 20)) / static_cast<double>(1u << 20);
  return static_cast<size_t>(
      std::lround(static_cast<double>(lo) * std::exp(u * std::log(static_cast<double>(hi) / lo))));
}

}  // namespace

const char* topic_category(TopicLayout layout) {
  switch (layout) {
    case TopicLayout::kLines:
      return "topic-lines";
    case TopicLayout::kRunOn:
      return "topic-runon";
    case TopicLayout::kParagraphs:
      return "topic-paragraphs";
  }
  return "?";
}

const std::vector<TopicLayout>& topic_layouts() {
  static const std::vector<TopicLayout> all{TopicLayout::kLines, TopicLayout::kRunOn,
                                            TopicLayout::kParagraphs};
  return all;
}

bool topic_source(const std::string& category) {
  for (const char* c :
       {"manual", "book", "tutorial", "faq", "license", "man-page", "api-reference"})
    if (category == c) return true;
  return false;
}

const char* topic_separator(TopicLayout layout) {
  return layout == TopicLayout::kParagraphs ? "\n\n" : "\n";
}

std::vector<std::string> prose_sentences(std::string_view text) {
  std::vector<std::string> out;
  std::vector<std::string_view> lines;
  auto flush = [&] {
    if (!lines.empty()) split_sentences(running_text(lines), out);
    lines.clear();
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(pos, nl - pos);
    if (trim(line).empty())
      flush();
    else
      lines.push_back(line);
    pos = nl + 1;
  }
  flush();
  return out;
}

std::vector<RagItem> topic_items(const std::vector<std::string>& sentences,
                                 const std::string& package,
                                 const std::vector<std::string>& sources, TopicLayout layout,
                                 data::SynthRng& rng) {
  std::vector<RagItem> out;
  const std::string separator = topic_separator(layout);
  for (size_t i = 0; i < sentences.size();) {
    const size_t n = std::min(sentences.size() - i, log_uniform(rng, 3, 40));
    if (n < 3) break;
    RagItem item;
    std::string& text = item.piece.text;
    size_t in_paragraph = 0,
           paragraph = layout == TopicLayout::kLines
                           ? 1
                           : static_cast<size_t>(layout == TopicLayout::kRunOn ? rng.range(4, 12)
                                                                               : rng.range(2, 6));
    for (size_t k = i; k < i + n; ++k) {
      if (k > i) {
        if (in_paragraph == paragraph) {
          text += separator;
          in_paragraph = 0;
          if (layout != TopicLayout::kLines)
            paragraph = static_cast<size_t>(layout == TopicLayout::kRunOn ? rng.range(4, 12)
                                                                          : rng.range(2, 6));
        } else {
          text += ' ';
        }
      }
      text += sentences[k];
      ++in_paragraph;
    }
    item.piece.separator = separator;
    item.piece.sources = sources;
    item.package = package;
    out.push_back(std::move(item));
    i += n;
  }
  return out;
}

}  // namespace blockattn::segment
