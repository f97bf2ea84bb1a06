// A self-check of segmentation output, for tests and for callers that want to assert the cap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "segment/block.h"
#include "segment/token_counter.h"

namespace blockattn::segment {

// "" when `blocks` are contiguous, non-empty, start at 0, end at text.size(), begin on UTF-8
// character boundaries, and each has tokens == count(its text) <= max_tokens; else the first
// problem found, in words. With `allow_overlap` (fixed windows with overlap) a block may start
// before the previous one ends, but starts must increase and the blocks must cover the text.
std::string blocks_problem(std::string_view text, const std::vector<Block>& blocks,
                           size_t max_tokens, const TokenCounter& count,
                           bool allow_overlap = false);

}  // namespace blockattn::segment
