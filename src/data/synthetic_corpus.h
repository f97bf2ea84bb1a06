// JSONL document corpora: one JSON object per line with a string "text" field (other fields are
// ignored). Read by `blockattn synth` (passages) and `blockattn tokenizer train` (sentences).
#pragma once

#include <string>
#include <vector>

namespace blockattn::data {

// The "text" of every document of every file, in file then line order. Blank lines are skipped;
// documents whose text is empty are kept out. Throws IoError (unreadable file) and FormatError
// "path:line: ..." (a line that is not a JSON object with a string "text"; invalid UTF-8).
std::vector<std::string> read_jsonl_texts(const std::vector<std::string>& paths);

// The same, with each document's optional string "category" ("" when absent).
struct LabeledText {
  std::string text;
  std::string category;
};
std::vector<LabeledText> read_jsonl_labeled(const std::vector<std::string>& paths);

// Splits "a.jsonl,b.jsonl" (the CLI's comma lists) into paths, dropping empty items.
std::vector<std::string> split_path_list(const std::string& list);

}  // namespace blockattn::data
