#include "segdata/dataset_corpus.h"

#include <algorithm>
#include <map>

#include "blockattn/error.h"
#include "core/io.h"
#include "core/utf8.h"

namespace blockattn::segment {
namespace {

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// "<group>#<k>" -> (group, k); an id without '#' is its own group, part 0.
std::pair<std::string, long> split_id(const std::string& id) {
  const size_t hash = id.rfind('#');
  if (hash == std::string::npos) return {id, 0};
  const std::string num = id.substr(hash + 1);
  if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) return {id, 0};
  return {id.substr(0, hash), std::stol(num)};
}

// split_document() appends " (part k/N)" to the titles of parts; the joined document is whole.
std::string strip_part_suffix(const std::string& title) {
  const size_t p = title.rfind(" (part ");
  if (p != std::string::npos && !title.empty() && title.back() == ')') return title.substr(0, p);
  return title;
}

bool is_char_start(const std::string& s, size_t i) {
  return i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

void check_document(const data::Document& d) {
  require_utf8(d.text, "text");
  size_t prev = 0;
  for (const data::Section& s : d.structure) {
    if (s.offset > d.text.size())
      throw FormatError("section '" + s.title + "' offset " + std::to_string(s.offset) +
                        " is past the text end (" + std::to_string(d.text.size()) + " bytes)");
    if (!is_char_start(d.text, s.offset))
      throw FormatError("section '" + s.title + "' offset " + std::to_string(s.offset) +
                        " is inside a UTF-8 character");
    if (s.offset < prev) throw FormatError("sections are not sorted by offset");
    prev = s.offset;
  }
}

}  // namespace

std::vector<std::string> SourceDoc::ids_in(size_t begin, size_t end) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < part_ids.size(); ++i) {
    const size_t pb = part_offsets[i];
    const size_t pe = i + 1 < part_offsets.size() ? part_offsets[i + 1] : text.size() + 1;
    if (pb < end && begin < pe) out.push_back(part_ids[i]);
  }
  return out;
}

bool split_off_parts(SourceDoc& doc, size_t k, SourceDoc& tail) {
  if (k == 0 || k >= doc.part_ids.size()) return false;
  const size_t seam = doc.part_offsets[k];
  auto first = std::find_if(doc.structure.begin(), doc.structure.end(),
                            [&](const data::Section& s) { return s.offset >= seam; });
  if (first == doc.structure.end()) return false;
  const size_t cut = first->offset;
  tail = SourceDoc{};
  tail.group = doc.group;
  tail.source = doc.source;
  tail.source_package = doc.source_package;
  tail.category = doc.category;
  tail.title = doc.title;
  tail.text = doc.text.substr(cut);
  for (auto it = first; it != doc.structure.end(); ++it) {
    data::Section s = *it;
    s.offset -= cut;
    tail.structure.push_back(std::move(s));
  }
  for (size_t i = k; i < doc.part_ids.size(); ++i) {
    tail.part_ids.push_back(doc.part_ids[i]);
    tail.part_offsets.push_back(doc.part_offsets[i] > cut ? doc.part_offsets[i] - cut : 0);
  }
  // The head ends at the seam, without the separator the join put there.
  size_t end = seam;
  while (end > 0 && (doc.text[end - 1] == '\n' || doc.text[end - 1] == ' ')) --end;
  doc.text.resize(end);
  doc.structure.erase(std::find_if(doc.structure.begin(), doc.structure.end(),
                                   [&](const data::Section& s) { return s.offset >= end; }),
                      doc.structure.end());
  doc.part_ids.resize(k);
  doc.part_offsets.resize(k);
  return true;
}

std::string refine_category(const data::Document& doc) {
  const auto [group, part] = split_id(doc.id);
  (void)part;
  const size_t slash = group.rfind('/');
  const std::string base = lower(slash == std::string::npos ? group : group.substr(slash + 1));
  const bool prose =
      doc.category == "manual" || doc.category == "api-reference" || doc.category == "tutorial";
  if (prose && base.find("faq") != std::string::npos) return "faq";
  const std::string source = doc.id.substr(0, doc.id.find('/'));
  if (doc.category == "manual" && (source == "debian-handbook" || source == "debian-reference"))
    return "book";
  return doc.category;
}

std::vector<SourceDoc> read_split_file(const std::string& path) {
  const std::string data = read_file(path);
  struct Part {
    long number;
    data::Document doc;
  };
  std::vector<std::string> order;  // groups in order of first appearance
  std::map<std::string, std::vector<Part>> groups;
  size_t pos = 0, line_no = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    std::string_view line(data.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (data::trim(line).empty()) continue;
    try {
      data::Document d = data::from_json_line(line);
      check_document(d);
      d.category = refine_category(d);
      auto [group, number] = split_id(d.id);
      auto it = groups.find(group);
      if (it == groups.end()) {
        order.push_back(group);
        it = groups.emplace(group, std::vector<Part>{}).first;
      }
      it->second.push_back({number, std::move(d)});
    } catch (const Error& e) {
      throw FormatError(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }

  std::vector<SourceDoc> out;
  out.reserve(order.size());
  for (const std::string& group : order) {
    std::vector<Part>& parts = groups[group];
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Part& a, const Part& b) { return a.number < b.number; });
    SourceDoc sd;
    sd.group = group;
    const data::Document& first = parts.front().doc;
    sd.source = first.id.substr(0, first.id.find('/'));
    sd.source_package = first.source_package;
    sd.category = first.category;
    sd.title = strip_part_suffix(first.title);
    for (Part& p : parts) {
      // The corpus cut parts at a section start or a blank line and trimmed them, so a blank
      // line restores the seam.
      if (!sd.text.empty()) sd.text += "\n\n";
      const size_t base = sd.text.size();
      sd.part_ids.push_back(p.doc.id);
      sd.part_offsets.push_back(base);
      sd.text += p.doc.text;
      for (data::Section s : p.doc.structure) {
        s.offset += base;
        sd.structure.push_back(std::move(s));
      }
    }
    out.push_back(std::move(sd));
  }
  return out;
}

}  // namespace blockattn::segment
