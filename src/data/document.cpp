#include "data/document.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"

namespace blockattn::data {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string to_json_line(const Document& doc) {
  nlohmann::ordered_json j;
  j["id"] = doc.id;
  j["source_package"] = doc.source_package;
  j["category"] = doc.category;
  j["license"] = doc.license;
  j["title"] = doc.title;
  j["text"] = doc.text;
  auto& st = j["structure"] = nlohmann::ordered_json::array();
  for (const Section& s : doc.structure)
    st.push_back({{"offset", s.offset}, {"level", s.level}, {"kind", s.kind}, {"title", s.title}});
  return j.dump();  // strict: throws on invalid UTF-8, which extractors never produce
}

Document from_json_line(std::string_view line) {
  try {
    auto j = nlohmann::json::parse(line);
    Document d;
    d.id = j.at("id").get<std::string>();
    d.source_package = j.at("source_package").get<std::string>();
    d.category = j.at("category").get<std::string>();
    d.license = j.at("license").get<std::string>();
    d.title = j.at("title").get<std::string>();
    d.text = j.at("text").get<std::string>();
    for (const auto& s : j.at("structure"))
      d.structure.push_back({s.at("offset").get<size_t>(), s.at("level").get<int>(), s.at("kind").get<std::string>(),
                             s.at("title").get<std::string>()});
    return d;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(std::string("corpus document: ") + e.what());
  }
}

// ------------------------------------------------------------------------------- TextBuilder

void TextBuilder::request_break(int n) {
  pending_breaks_ = std::max(pending_breaks_, n);
  pending_space_ = false;
}

void TextBuilder::flush_pending() {
  if (!text_.empty() && pending_breaks_ > 0) {
    // Trailing spaces before a break are noise; count the newlines already there.
    while (!text_.empty() && (text_.back() == ' ' || text_.back() == '\t')) text_.pop_back();
    int have = 0;
    for (size_t i = text_.size(); i > 0 && text_[i - 1] == '\n'; --i) ++have;
    for (int k = have; k < pending_breaks_; ++k) text_ += '\n';
  }
  pending_breaks_ = 0;
  for (Section& m : pending_marks_) {
    m.offset = text_.size();
    structure_.push_back(std::move(m));
  }
  pending_marks_.clear();
}

void TextBuilder::inline_text(std::string_view s) {
  for (char c : s) {
    if (is_space(c)) {
      pending_space_ = true;
      continue;
    }
    bool at_line_start = text_.empty() || text_.back() == '\n' || pending_breaks_ > 0;
    if (pending_space_ && !at_line_start) text_ += ' ';
    pending_space_ = false;
    flush_pending();
    text_ += c;
  }
}

void TextBuilder::verbatim(std::string_view s) {
  if (s.empty()) return;
  if (pending_space_ && !text_.empty() && text_.back() != '\n' && pending_breaks_ == 0) text_ += ' ';
  pending_space_ = false;
  flush_pending();
  text_.append(s);
}

void TextBuilder::heading(int level, const std::string& kind, std::string_view title) {
  // Collapse the title's whitespace so Section::title equals the text at its offset.
  std::string t;
  bool space = false;
  for (char c : trim(title)) {
    if (is_space(c)) {
      space = true;
      continue;
    }
    if (space) t += ' ';
    space = false;
    t += c;
  }
  if (t.empty()) return;
  paragraph();
  pending_marks_.push_back({0, level, kind, t});
  verbatim(t);
  paragraph();
}

void TextBuilder::mark(int level, const std::string& kind, const std::string& title) {
  pending_marks_.push_back({0, level, kind, title});
}

Document TextBuilder::finish(std::string title) {
  while (!text_.empty() && is_space(text_.back())) text_.pop_back();
  text_ += '\n';
  Document d;
  d.title = std::move(title);
  // A mark left pending at the very end points at nothing: drop it (and any past the end).
  std::stable_sort(structure_.begin(), structure_.end(),
                   [](const Section& a, const Section& b) { return a.offset < b.offset; });
  for (Section& s : structure_)
    if (s.offset < text_.size() - 1) d.structure.push_back(std::move(s));
  d.text = std::move(text_);
  text_.clear();
  structure_.clear();
  pending_marks_.clear();
  pending_breaks_ = 0;
  pending_space_ = false;
  return d;
}

// ------------------------------------------------------------------------------- splitting

namespace {

// Largest cut <= limit at a line start, preferring a blank line; never splits a UTF-8 sequence.
size_t fallback_cut(const std::string& t, size_t start, size_t limit) {
  std::string_view window(t.data() + start, limit - start);
  size_t half = (limit - start) / 2;
  if (size_t p = window.rfind("\n\n"); p != std::string_view::npos && p >= half) return start + p + 2;
  if (size_t p = window.rfind('\n'); p != std::string_view::npos && p > 0) return start + p + 1;
  size_t cut = limit;
  while (cut > start + 1 && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

}  // namespace

std::vector<Document> split_document(const Document& doc, size_t max_bytes) {
  if (max_bytes == 0 || doc.text.size() <= max_bytes) return {doc};
  std::vector<size_t> cuts{0};
  const auto& st = doc.structure;
  size_t start = 0;
  while (doc.text.size() - start > max_bytes) {
    size_t limit = start + max_bytes;
    // Best boundary in (start, limit]: outermost level, latest offset; the second half of the
    // window first so parts do not come out tiny.
    size_t best = 0;
    int best_level = 1 << 30;
    for (int pass = 0; pass < 2 && best == 0; ++pass) {
      size_t lo = pass == 0 ? start + max_bytes / 2 : start + 1;
      for (const Section& s : st) {
        if (s.offset < lo || s.offset > limit) continue;
        if (s.level < best_level || (s.level == best_level && s.offset > best)) {
          best = s.offset;
          best_level = s.level;
        }
      }
    }
    size_t cut = best ? best : fallback_cut(doc.text, start, limit);
    cuts.push_back(cut);
    start = cut;
  }
  cuts.push_back(doc.text.size());

  std::vector<Document> parts;
  const size_t n = cuts.size() - 1;
  for (size_t k = 0; k < n; ++k) {
    Document p;
    p.source_package = doc.source_package;
    p.category = doc.category;
    p.license = doc.license;
    p.title = doc.title + " (part " + std::to_string(k + 1) + "/" + std::to_string(n) + ")";
    p.text = doc.text.substr(cuts[k], cuts[k + 1] - cuts[k]);
    for (const Section& s : st)
      if (s.offset >= cuts[k] && s.offset < cuts[k + 1]) p.structure.push_back({s.offset - cuts[k], s.level, s.kind, s.title});
    parts.push_back(std::move(p));
  }
  return parts;
}

}  // namespace blockattn::data
