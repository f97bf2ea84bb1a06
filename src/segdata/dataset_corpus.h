// The corpus as the segmentation dataset sees it: every document of one split file, with the
// parts that `corpus build` cut from one long file joined back into one document (so a section
// cut in two is one block again), and the categories refined where the source says more than
// the corpus category does (FAQs filed as manuals, books filed as manuals).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "data/document.h"

namespace blockattn::segment {

// One logical source document: a corpus document, or the parts #0..#n of one file joined.
struct SourceDoc {
  std::string group;                  // the corpus id up to '#': one file
  std::vector<std::string> part_ids;  // corpus ids of the parts, in order
  std::vector<size_t> part_offsets;   // byte offset in `text` where each part starts
  std::string source;                 // corpus source name (id up to the first '/')
  std::string source_package;
  std::string category;  // refined, see refine_category()
  std::string title;
  std::string text;
  std::vector<data::Section> structure;  // sorted by offset, offsets inside `text`

  // Corpus ids of the parts that overlap [begin, end).
  std::vector<std::string> ids_in(size_t begin, size_t end) const;
};

// The dataset category of a corpus document: "faq" for files whose name says FAQ (perlfaq*.pod,
// gitfaq.html, the Python FAQ), "book" for the two whole books (Debian Administrator's Handbook,
// Debian Reference), else the corpus category.
std::string refine_category(const data::Document& doc);

// Cuts a joined document before part `k` (0 < k < part count): `doc` keeps parts [0, k), the
// result holds parts [k, n) from the first structure entry at or after part k's start (the
// continuation text before it, the end of a section that began in part k-1, is left in
// neither). No part id ends up in both. Returns false (and changes nothing) when parts [k, n)
// have no structure entry.
bool split_off_parts(SourceDoc& doc, size_t k, SourceDoc& tail);

// Reads one corpus JSONL file. Throws IoError (unreadable), FormatError "path:line: ..." (not a
// document, invalid UTF-8, a section offset outside the text or not on a character boundary).
// Parts of one file (ids "<group>#k") are joined in part order with a blank line between.
std::vector<SourceDoc> read_split_file(const std::string& path);

}  // namespace blockattn::segment
