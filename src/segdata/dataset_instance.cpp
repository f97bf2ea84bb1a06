#include "segdata/dataset_instance.h"

#include <fstream>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"
#include "core/utf8.h"

namespace blockattn::segment {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::string to_json_line(const SegInstance& inst) {
  // nlohmann::ordered_json keeps the schema order, so the output is stable byte for byte.
  nlohmann::ordered_json j;
  j["id"] = inst.id;
  j["category"] = inst.category;
  j["split"] = inst.split;
  j["text"] = inst.text;
  j["boundaries"] = inst.boundaries;
  j["tokens"] = inst.tokens;
  j["sources"] = inst.sources;
  return j.dump();
}

SegInstance instance_from_json_line(const std::string& line) {
  try {
    const auto j = nlohmann::json::parse(line);
    SegInstance s;
    s.id = j.at("id").get<std::string>();
    s.category = j.at("category").get<std::string>();
    s.split = j.at("split").get<std::string>();
    s.text = j.at("text").get<std::string>();
    s.boundaries = j.at("boundaries").get<std::vector<size_t>>();
    s.tokens = j.at("tokens").get<size_t>();
    s.sources = j.at("sources").get<std::vector<std::string>>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(std::string("segmentation instance: ") + e.what());
  }
}

void check_instance(const SegInstance& inst) {
  const std::string what = "instance " + inst.id;
  if (inst.text.empty()) throw InputError(what + ": empty text");
  require_utf8(inst.text, what);
  size_t prev = 0;
  for (size_t b : inst.boundaries) {
    const std::string at = what + ": boundary " + std::to_string(b);
    if (b <= prev)
      throw InputError(at + " is not after the previous one (" + std::to_string(prev) + ")");
    if (b >= inst.text.size()) throw InputError(at + " is not inside the text");
    if ((static_cast<unsigned char>(inst.text[b]) & 0xC0) == 0x80)
      throw InputError(at + " splits a character");
    if (inst.text[b - 1] != '\n') throw InputError(at + " is not at a line start");
    prev = b;
  }
}

void render_pieces(const std::vector<InstancePiece>& pieces, std::string& text,
                   std::vector<size_t>& boundaries) {
  text.clear();
  boundaries.clear();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const bool joined = i == 0 || !pieces[i].contiguous;
    if (i > 0) {
      if (joined) {
        while (!text.empty() && is_space(text.back())) text.pop_back();
        text += pieces[i].separator;
      }
      boundaries.push_back(text.size());
    }
    // A joined piece starts at its first line with content (indentation kept).
    size_t from = 0;
    if (joined)
      for (size_t k = 0;
           k < pieces[i].text.size() && (pieces[i].text[k] == '\n' || pieces[i].text[k] == '\r' ||
                                         pieces[i].text[k] == ' ' || pieces[i].text[k] == '\t');
           ++k)
        if (pieces[i].text[k] == '\n') from = k + 1;
    text.append(pieces[i].text, from, std::string::npos);
  }
  while (!text.empty() && is_space(text.back())) text.pop_back();
}

PieceFit finalize_instance(std::vector<InstancePiece>& pieces, const DatasetCounter& counter,
                           size_t min_tokens, size_t max_tokens, SegInstance& out,
                           std::vector<InstancePiece>* dropped) {
  // A blank piece would put a boundary on nothing.
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                              [](const InstancePiece& p) {
                                return std::all_of(p.text.begin(), p.text.end(), is_space);
                              }),
               pieces.end());
  for (;;) {
    if (pieces.size() < 2) return PieceFit::kFailed;
    render_pieces(pieces, out.text, out.boundaries);
    out.tokens = counter.count(out.text);
    if (out.tokens > max_tokens) {
      if (dropped) dropped->insert(dropped->begin(), std::move(pieces.back()));
      pieces.pop_back();
      continue;
    }
    if (out.tokens < min_tokens) return PieceFit::kTooShort;
    out.sources.clear();
    std::set<std::string> seen;
    for (const InstancePiece& p : pieces)
      for (const std::string& s : p.sources)
        if (seen.insert(s).second) out.sources.push_back(s);
    return PieceFit::kOk;
  }
}

std::vector<SegInstance> read_instances(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(errno_message(path));
  std::vector<SegInstance> all;
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      all.push_back(instance_from_json_line(line));
    } catch (const Error& e) {
      throw FormatError(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  if (in.bad()) throw IoError(errno_message(path));
  if (limit == 0 || all.size() <= limit) return all;
  std::vector<SegInstance> some;
  for (size_t i = 0; i < limit; ++i) some.push_back(std::move(all[i * all.size() / limit]));
  return some;
}

}  // namespace blockattn::segment
