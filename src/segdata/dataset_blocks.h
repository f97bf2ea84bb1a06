// Gold blocks of one source document: which of its structure entries start a block, per
// category. The level is chosen so that a block is a unit a reader would call self-contained
// (a section with its subsections in prose, a declaration with its doc comment in code, one
// entry in a dictionary) — see docs/segdata.md for the table and the reasons.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "segdata/dataset_corpus.h"

namespace blockattn::segment {

struct BlockPolicy {
  std::string category;
  int max_level = 2;              // sections at this level or outer start a block
  bool code = false;              // a block takes in the comment/decorator lines right above it
  bool merge_same_title = false;  // consecutive entries of one headword are one block
  std::string unit;               // what a block is, for the datasheet
};

// The policy of a category; an unknown category gets max_level 2, prose.
BlockPolicy policy_for(const std::string& category);
// Every category the corpus has today, in datasheet order (conversation and multi-document,
// which are built, not read, are not in this list).
const std::vector<BlockPolicy>& corpus_policies();

struct GoldBlock {
  size_t begin = 0, end = 0;  // byte range in SourceDoc::text; blocks of a document are contiguous
  std::string title;          // the structure title ("" for a preamble)
};

// Blocks in text order. They cover the text from the first block start to the end; text
// before the first structure entry is a block of its own when it has any non-space content.
// Starts sit at line starts (indentation before a heading or `def` belongs to the block).
// A document without structure is one block.
std::vector<GoldBlock> document_blocks(const SourceDoc& doc, const BlockPolicy& policy);

}  // namespace blockattn::segment
