#include "model/attention_spans.h"

#include <algorithm>
#include <set>
#include <string>

#include "blockattn/error.h"

namespace blockattn {

std::vector<AttentionSpan> attention_spans(const std::vector<int64_t>& group,
                                           const std::vector<int64_t>& start,
                                           const std::vector<int64_t>& prefix_end, int64_t rows,
                                           int64_t row_length) {
  const size_t n = static_cast<size_t>(rows * row_length);
  if (rows < 0 || row_length < 0 || group.size() != n || start.size() != n ||
      prefix_end.size() != n)
    throw InputError("attention_spans: group, start and prefix_end need rows * row_length = " +
                     std::to_string(n) + " entries");
  std::vector<AttentionSpan> spans;
  for (int64_t r = 0; r < rows; ++r) {
    std::set<int64_t> finished;  // groups of this row whose run has ended
    int64_t t = 0;
    while (t < row_length) {
      const size_t f = static_cast<size_t>(r * row_length + t);
      const int64_t g = group[f];
      int64_t end = t + 1;  // one past the run of tokens of group g (or of padding)
      if (g < 0) {
        while (end < row_length && group[f + static_cast<size_t>(end - t)] < 0) ++end;
        spans.push_back({r * row_length + t, end - t, r * row_length + t, 0});
        t = end;
        continue;
      }
      if (!finished.insert(g).second)
        throw InputError("attention_spans: group " + std::to_string(g) + " of row " +
                         std::to_string(r) + " is not one contiguous run of tokens");
      while (end < row_length && group[f + static_cast<size_t>(end - t)] == g) {
        const size_t e = f + static_cast<size_t>(end - t);
        if (start[e] != start[f] || prefix_end[e] != prefix_end[f])
          throw InputError("attention_spans: the tokens of group " + std::to_string(g) +
                           " of row " + std::to_string(r) + " see different prefixes");
        ++end;
      }
      const int64_t lo = start[f], hi = std::max(start[f], prefix_end[f]);
      if (lo < 0 || lo > t || hi > t)
        throw InputError("attention_spans: the prefix [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + ") of group " + std::to_string(g) + " of row " +
                         std::to_string(r) + " does not end before the group (at " +
                         std::to_string(t) + ")");
      spans.push_back({r * row_length + t, end - t, r * row_length + lo, hi - lo});
      t = end;
    }
  }
  return spans;
}

int64_t gathered_keys(const std::vector<AttentionSpan>& spans) {
  int64_t n = 0;
  for (const AttentionSpan& s : spans) n += s.prefix_length + s.length;
  return n;
}

}  // namespace blockattn
