#include "segment/validate.h"

#include <algorithm>

#include "segment/chars.h"

namespace blockattn::segment {

std::string blocks_problem(std::string_view text, const std::vector<Block>& blocks,
                           size_t max_tokens, const TokenCounter& count, bool allow_overlap) {
  if (text.empty()) return blocks.empty() ? "" : "blocks for empty text";
  if (blocks.empty()) return "no blocks";
  size_t covered = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    std::string at = "block " + std::to_string(i) + " [" + std::to_string(b.begin) + ", " +
                     std::to_string(b.end) + ")";
    if (b.begin >= b.end || b.end > text.size()) return at + ": empty or out of range";
    if (i == 0 && b.begin != 0) return at + ": does not start at 0";
    if (i > 0 && !allow_overlap && b.begin != blocks[i - 1].end) return at + ": not contiguous";
    if (i > 0 && allow_overlap && (b.begin <= blocks[i - 1].begin || b.begin > covered))
      return at + ": leaves a gap or does not advance";
    if (is_continuation(text[b.begin]) || (b.end < text.size() && is_continuation(text[b.end])))
      return at + ": not on a UTF-8 character boundary";
    size_t exact = count(text.substr(b.begin, b.end - b.begin));
    if (exact != b.tokens)
      return at + ": reports " + std::to_string(b.tokens) + " tokens, has " + std::to_string(exact);
    if (exact > max_tokens)
      return at + ": " + std::to_string(exact) + " tokens > max " + std::to_string(max_tokens);
    covered = std::max(covered, b.end);
  }
  if (covered != text.size()) return "blocks end at " + std::to_string(covered);
  return "";
}

}  // namespace blockattn::segment
