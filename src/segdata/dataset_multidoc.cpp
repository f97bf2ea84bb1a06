#include "segdata/dataset_multidoc.h"

#include <algorithm>
#include <cmath>

namespace blockattn::segment {

std::vector<RagItem> document_items(const SourceDoc& doc, const std::vector<GoldBlock>& blocks,
                                    const std::vector<size_t>& block_tokens, size_t lo_tokens,
                                    size_t hi_tokens, data::SynthRng& rng) {
  std::vector<RagItem> out;
  size_t i = 0;
  while (i < blocks.size()) {
    const size_t target =
        lo_tokens + rng.below(hi_tokens > lo_tokens ? hi_tokens - lo_tokens + 1 : 1);
    size_t j = i, sum = 0;
    while (j < blocks.size() && (j == i || sum + block_tokens[j] <= target))
      sum += block_tokens[j++];
    if (sum >= std::max<size_t>(1, lo_tokens / 3)) {
      RagItem item;
      item.piece.text = doc.text.substr(blocks[i].begin, blocks[j - 1].end - blocks[i].begin);
      item.piece.tokens = sum;
      item.piece.sources = doc.ids_in(blocks[i].begin, blocks[j - 1].end);
      item.package = doc.source_package;
      out.push_back(std::move(item));
    }
    i = j;
  }
  return out;
}

std::vector<SegInstance> build_multidoc(std::vector<RagItem> items, const DatasetCounter& counter,
                                        size_t min_tokens, size_t max_tokens, uint64_t seed,
                                        double fraction, WindowStats& stats) {
  data::SynthRng rng(seed);
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
  items.resize(static_cast<size_t>(
      std::ceil(std::min(1.0, std::max(0.0, fraction)) * static_cast<double>(items.size()))));
  // Neighbours from one package would often be one manual's consecutive pages: look a little
  // ahead for an item from elsewhere, and leave the item out when there is none. An item that
  // cannot share an instance is left out first, so that dropping it later joins no neighbours.
  // (assemble_windows counts what it is given; what is left out here is counted here.)
  std::vector<RagItem> kept;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].piece.tokens >= max_tokens) {
      ++stats.dropped_pieces;
      stats.dropped_tokens += items[i].piece.tokens;
      stats.available_tokens += items[i].piece.tokens;
      continue;
    }
    if (!kept.empty() && items[i].package == kept.back().package) {
      for (size_t k = i + 1; k < items.size() && k < i + 64; ++k)
        if (items[k].package != kept.back().package && items[k].piece.tokens < max_tokens) {
          std::swap(items[i], items[k]);
          break;
        }
      if (items[i].package == kept.back().package) {
        ++stats.dropped_pieces;
        stats.dropped_tokens += items[i].piece.tokens;
        stats.available_tokens += items[i].piece.tokens;
        continue;
      }
    }
    kept.push_back(std::move(items[i]));
  }
  items = std::move(kept);
  std::vector<InstancePiece> pieces;
  pieces.reserve(items.size());
  for (RagItem& it : items) pieces.push_back(std::move(it.piece));
  return assemble_windows(std::move(pieces), counter, min_tokens, max_tokens, rng, stats);
}

}  // namespace blockattn::segment
