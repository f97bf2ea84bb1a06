#include "segment/fixed.h"

#include <algorithm>
#include <string>

#include "blockattn/error.h"
#include "segment/forced_split.h"

namespace blockattn::segment {

std::vector<Block> fixed_windows(std::string_view text, size_t window_tokens, size_t overlap_tokens,
                                 const TokenCounter& count) {
  if (window_tokens == 0) throw InputError("segment: the fixed window must be at least 1 token");
  if (overlap_tokens >= window_tokens)
    throw InputError("segment: overlap (" + std::to_string(overlap_tokens) +
                     " tokens) must be smaller than the window (" + std::to_string(window_tokens) +
                     " tokens)");
  std::vector<Block> out;
  // Bytes per token from a sample of the text predicts each window's length for the gallop.
  size_t sample = std::min<size_t>(text.size(), 4096);
  while (sample < text.size() && (static_cast<unsigned char>(text[sample]) & 0xC0) == 0x80)
    ++sample;
  size_t sample_tokens = std::max<size_t>(1, count(text.substr(0, sample)));
  double bytes_per_token = static_cast<double>(std::max<size_t>(sample, 1)) / sample_tokens;
  size_t guess = std::max<size_t>(1, static_cast<size_t>(0.9 * bytes_per_token * window_tokens));
  size_t overlap_guess = std::max<size_t>(1, static_cast<size_t>(bytes_per_token * overlap_tokens));

  for (size_t begin = 0; begin < text.size();) {
    size_t end = longest_prefix_within(text, begin, text.size(), window_tokens, count, guess);
    bool first = out.empty();
    out.push_back({begin, end, count(text.substr(begin, end - begin)), first ? 1.0 : 0.0,
                   first ? CutType::kStart : CutType::kForced});
    if (end == text.size()) break;
    size_t next = end;
    if (overlap_tokens > 0)
      next = longest_suffix_within(text, begin, end, overlap_tokens, count, overlap_guess);
    begin = next > begin ? next : end;
  }
  return out;
}

}  // namespace blockattn::segment
