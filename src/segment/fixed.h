// Baseline: fixed-size token windows.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "segment/block.h"
#include "segment/token_counter.h"

namespace blockattn::segment {

// Consecutive windows of at most window_tokens tokens, each the longest that fits, cut at
// character boundaries (the counter gives no token offsets, so a window ends at the last
// character that keeps it within the budget, mid-word if need be). With overlap_tokens > 0 each
// window after the first starts at the longest suffix of the previous one that has at most
// overlap_tokens tokens, so windows overlap (they always advance). Candidates are ignored.
// InputError when window_tokens == 0 or overlap_tokens >= window_tokens.
std::vector<Block> fixed_windows(std::string_view text, size_t window_tokens, size_t overlap_tokens,
                                 const TokenCounter& count);

}  // namespace blockattn::segment
