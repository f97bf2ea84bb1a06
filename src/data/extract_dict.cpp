#include "data/extract_dict.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

#include "blockattn/error.h"
#include "data/text_clean.h"

namespace blockattn::data {

bool dictd_b64(std::string_view s, uint64_t& value) {
  static const std::string_view kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (s.empty() || s.size() > 10) return false;
  value = 0;
  for (char c : s) {
    size_t d = kDigits.find(c);
    if (d == std::string_view::npos) return false;
    value = value * 64 + d;
  }
  return true;
}

Document extract_dictd(std::string_view index, std::string_view dict, const std::string& title) {
  // offset -> (length, first headword); std::map keeps dictionary order and drops aliases.
  std::map<uint64_t, std::pair<uint64_t, std::string>> entries;
  size_t pos = 0, line_no = 0;
  while (pos < index.size()) {
    size_t nl = index.find('\n', pos);
    if (nl == std::string_view::npos) nl = index.size();
    std::string_view line = index.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    size_t t1 = line.find('\t'), t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    uint64_t off = 0, len = 0;
    if (t2 == std::string_view::npos || !dictd_b64(line.substr(t1 + 1, t2 - t1 - 1), off))
      throw FormatError(title + ".index:" + std::to_string(line_no) + ": not 'headword<TAB>offset<TAB>length'");
    std::string_view len_field = line.substr(t2 + 1);
    if (size_t t3 = len_field.find('\t'); t3 != std::string_view::npos) len_field = len_field.substr(0, t3);
    if (!dictd_b64(len_field, len))
      throw FormatError(title + ".index:" + std::to_string(line_no) + ": bad length");
    std::string head(line.substr(0, t1));
    // Database metadata ("00-database-info", gcide's "00-gcide-url", "00databaseshort").
    if (head.rfind("00-", 0) == 0 || head.rfind("00database", 0) == 0) continue;
    if (off + len > dict.size()) continue;  // index and dict out of step: skip the entry
    entries.emplace(off, std::make_pair(len, clean_text(head)));
  }
  TextBuilder b;
  for (const auto& [off, v] : entries) {
    std::string body = clean_text(dict.substr(off, v.first));
    std::string_view t = trim(body);
    if (t.empty()) continue;
    b.paragraph();
    b.mark(1, "entry", v.second);
    b.verbatim(t);
  }
  return b.finish(title);
}

Document extract_wordnet(std::string_view data, const std::string& pos, const std::string& title) {
  TextBuilder b;
  size_t p = 0;
  while (p < data.size()) {
    size_t nl = data.find('\n', p);
    if (nl == std::string_view::npos) nl = data.size();
    std::string_view line = data.substr(p, nl - p);
    p = nl + 1;
    if (line.empty() || line[0] == ' ') continue;  // license header lines start with two spaces
    size_t bar = line.find(" | ");
    std::string_view head = line.substr(0, bar);
    std::string gloss = bar == std::string_view::npos ? "" : clean_text(trim(line.substr(bar + 3)));
    // offset lex_filenum ss_type w_cnt(hex) word lex_id ...
    std::vector<std::string_view> f;
    for (size_t s = 0; s < head.size();) {
      size_t e = head.find(' ', s);
      if (e == std::string_view::npos) e = head.size();
      if (e > s) f.push_back(head.substr(s, e - s));
      s = e + 1;
    }
    if (f.size() < 6) continue;
    unsigned long n = std::strtoul(std::string(f[3]).c_str(), nullptr, 16);
    std::string words;
    for (unsigned long k = 0; k < n && 4 + 2 * k < f.size(); ++k) {
      std::string w(f[4 + 2 * k]);
      if (size_t paren = w.find('('); paren != std::string::npos) w.resize(paren);  // adj markers "(a)"
      std::replace(w.begin(), w.end(), '_', ' ');
      words += (words.empty() ? "" : ", ") + w;
    }
    if (words.empty()) continue;
    words = clean_text(words);
    b.paragraph();
    b.mark(1, "entry", words.substr(0, words.find(',')));
    b.verbatim(words + " (" + pos + ")");
    if (!gloss.empty()) b.verbatim("\n" + gloss);
  }
  return b.finish(title);
}

}  // namespace blockattn::data
