// The unit of segmentation output.
#pragma once

#include <cstddef>
#include <vector>

#include "segment/candidates.h"

namespace blockattn::segment {

// Bytes [begin, end) of the input. Blocks from segment() are contiguous, non-overlapping and
// cover the input exactly (except the fixed method with overlap, whose windows overlap).
struct Block {
  size_t begin = 0;
  size_t end = 0;
  size_t tokens = 0;  // exact count of the block's text by the caller's counter
  // Score of the cut that starts the block: the scorer's score of that candidate (baselines:
  // 1 for a cut the method chose, 0 for a cut the cap added). The first block has 1 (the start
  // of the text is certainly a boundary); a forced cut has 0 (nothing supports it).
  double score = 0.0;
  CutType cut = CutType::kStart;  // what kind of cut starts the block
};

// Begin offsets of every block but the first: the boundaries the metrics compare.
std::vector<size_t> block_boundaries(const std::vector<Block>& blocks);

}  // namespace blockattn::segment
