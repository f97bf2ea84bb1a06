#include "segment/block.h"

namespace blockattn::segment {

std::vector<size_t> block_boundaries(const std::vector<Block>& blocks) {
  std::vector<size_t> out;
  for (size_t i = 1; i < blocks.size(); ++i) out.push_back(blocks[i].begin);
  return out;
}

}  // namespace blockattn::segment
