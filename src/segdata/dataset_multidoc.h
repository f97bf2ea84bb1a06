// Multi-document instances, as a retrieval-augmented prompt would hold them: short documents
// or document excerpts of any category, from different packages, joined by a blank line and
// nothing else (no "Document 3:" label, which would give every boundary away). Gold blocks are
// the documents; their inner sections are not boundaries here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "segdata/dataset_blocks.h"
#include "segdata/dataset_instance.h"
#include "segdata/dataset_windows.h"

namespace blockattn::segment {

struct RagItem {
  InstancePiece piece;
  std::string package;  // source package: neighbours must differ
};

// Cuts a document into excerpts of consecutive blocks of a length drawn per excerpt in
// [lo_tokens, hi_tokens] (a longer block is an excerpt alone); a short document is one excerpt.
// Excerpts under lo_tokens / 3 are left out. `block_tokens[i]` is blocks[i] counted alone.
std::vector<RagItem> document_items(const SourceDoc& doc, const std::vector<GoldBlock>& blocks,
                                    const std::vector<size_t>& block_tokens, size_t lo_tokens,
                                    size_t hi_tokens, data::SynthRng& rng);

// A shuffled `fraction` of `items` (seeded), reordered so that neighbours come from different
// packages, cut into instances by assemble_windows. Instances come back without id, category
// and split.
std::vector<SegInstance> build_multidoc(std::vector<RagItem> items, const DatasetCounter& counter,
                                        size_t min_tokens, size_t max_tokens, uint64_t seed,
                                        double fraction, WindowStats& stats);

}  // namespace blockattn::segment
