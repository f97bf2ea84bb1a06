#include "data/synthetic_corpus.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"

namespace blockattn::data {

std::vector<std::string> read_jsonl_texts(const std::vector<std::string>& paths) {
  std::vector<std::string> texts;
  for (LabeledText& doc : read_jsonl_labeled(paths)) texts.push_back(std::move(doc.text));
  return texts;
}

std::vector<LabeledText> read_jsonl_labeled(const std::vector<std::string>& paths) {
  std::vector<LabeledText> texts;
  for (const std::string& path : paths) {
    if (is_directory(path)) throw IoError(path + ": is a directory, expected a .jsonl file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(errno_message(path));
    std::string line;
    size_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
      nlohmann::json doc;
      try {
        doc = nlohmann::json::parse(line);  // rejects invalid UTF-8 in strings
      } catch (const nlohmann::json::exception& e) {
        throw FormatError(where() + "malformed JSON: " + e.what());
      }
      auto it = doc.is_object() ? doc.find("text") : doc.end();
      if (!doc.is_object() || it == doc.end() || !it->is_string())
        throw FormatError(where() + "expected an object with a string \"text\" field");
      std::string text = it->get<std::string>();
      if (text.empty()) continue;
      auto cat = doc.find("category");
      texts.push_back({std::move(text), cat != doc.end() && cat->is_string() ? cat->get<std::string>() : ""});
    }
    if (in.bad()) throw IoError(errno_message(path));
  }
  return texts;
}

std::vector<std::string> split_path_list(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace blockattn::data
