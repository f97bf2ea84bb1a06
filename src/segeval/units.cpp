#include "segeval/units.h"

#include <algorithm>

#include "segment/chars.h"

namespace blockattn::segment {

std::vector<size_t> unit_starts(std::string_view text, Unit unit) {
  std::vector<size_t> out;
  if (text.empty()) return out;
  out.push_back(0);
  if (unit == Unit::kChar) {
    for (size_t i = 1; i < text.size(); ++i)
      if (!is_continuation(text[i])) out.push_back(i);
    return out;
  }
  bool seen_word = !is_space(text[0]);
  for (size_t i = 1; i < text.size(); ++i) {
    if (is_space(text[i])) continue;
    if (is_space(text[i - 1]) && seen_word) out.push_back(i);
    seen_word = true;
  }
  return out;
}

std::string boundary_string(const std::vector<size_t>& starts, size_t text_size,
                            const std::vector<size_t>& cuts) {
  std::string out(starts.size(), '0');
  for (size_t cut : cuts) {
    if (cut == 0 || cut >= text_size) continue;
    // The unit containing byte `cut`; the boundary is after the unit before it.
    size_t unit = std::upper_bound(starts.begin(), starts.end(), cut) - starts.begin() - 1;
    if (unit > 0) out[unit - 1] = '1';
  }
  return out;
}

}  // namespace blockattn::segment
