// Cutting where no candidate helps: at UTF-8 character boundaries, by exact token counts.
#pragma once

#include <cstddef>
#include <string_view>

#include "segment/token_counter.h"

namespace blockattn::segment {

// The largest character boundary e in (begin, end] with count(text[begin, e)) <= max_tokens,
// found by galloping from `guess_bytes` then bisecting (O(log) counts of about the answer's
// length). Assumes counts grow with length, as they do for real tokenizers up to a token or so;
// whatever it returns has been counted and is <= max_tokens. Throws InputError when even the
// first character alone has more than max_tokens tokens (max_tokens is then unsatisfiable).
size_t longest_prefix_within(std::string_view text, size_t begin, size_t end, size_t max_tokens,
                             const TokenCounter& count, size_t guess_bytes);

// The smallest character boundary s in [begin, end) with count(text[s, end)) <= max_tokens,
// or `end` when even the last character has more (an empty suffix).
size_t longest_suffix_within(std::string_view text, size_t begin, size_t end, size_t max_tokens,
                             const TokenCounter& count, size_t guess_bytes);

}  // namespace blockattn::segment
