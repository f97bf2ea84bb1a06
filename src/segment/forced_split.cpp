#include "segment/forced_split.h"

#include <string>

#include "blockattn/error.h"
#include "segment/chars.h"

namespace blockattn::segment {

namespace {

// The first character boundary >= pos.
size_t char_ceil(std::string_view s, size_t pos) {
  while (pos < s.size() && is_continuation(s[pos])) ++pos;
  return pos;
}

}  // namespace

size_t longest_prefix_within(std::string_view text, size_t begin, size_t end, size_t max_tokens,
                             const TokenCounter& count, size_t guess_bytes) {
  auto tokens = [&](size_t e) { return count(text.substr(begin, e - begin)); };
  size_t lo = next_char_end(text, begin);
  size_t lo_tokens = tokens(lo);
  if (lo_tokens > max_tokens)
    throw InputError("segment: a block of at most " + std::to_string(max_tokens) +
                     " tokens cannot hold the single character at byte " + std::to_string(begin) +
                     " (raise max_tokens)");
  // Extrapolate from the bytes per token seen so far until a probe overshoots: usually two or
  // three counts, then a bisection over a few tokens' worth of bytes.
  size_t hi = std::string_view::npos;  // smallest known boundary that does not fit
  size_t hi_tokens = 0;
  size_t step = guess_bytes > 0 ? guess_bytes : 1;
  while (hi == std::string_view::npos) {
    if (lo >= end) return end;
    size_t cand = end - lo <= step ? end : char_floor(text, lo + step);
    if (cand <= lo) cand = next_char_end(text, lo);
    size_t t = tokens(cand);
    if (t > max_tokens) {
      hi = cand;
      hi_tokens = t;
      break;
    }
    lo = cand;
    lo_tokens = t;
    double bytes_per_token = static_cast<double>(lo - begin) / std::max<size_t>(lo_tokens, 1);
    size_t room = max_tokens - lo_tokens;
    step = static_cast<size_t>(bytes_per_token * (room + 1) * 1.1) + 1;
  }
  // Interpolate between the bracket's counts; bisect whenever that failed to halve it.
  bool bisect = false;
  for (;;) {
    size_t width = hi - lo;
    size_t mid = lo + width / 2;
    if (!bisect && hi_tokens > lo_tokens) {
      double frac = (max_tokens + 0.5 - lo_tokens) / static_cast<double>(hi_tokens - lo_tokens);
      mid = lo + static_cast<size_t>(frac * width);
    }
    mid = char_floor(text, mid);
    if (mid <= lo) mid = next_char_end(text, lo);
    if (mid >= hi) return lo;
    size_t t = tokens(mid);
    if (t <= max_tokens) {
      lo = mid;
      lo_tokens = t;
    } else {
      hi = mid;
      hi_tokens = t;
    }
    bisect = !bisect && (hi - lo) * 2 > width;
  }
}

size_t longest_suffix_within(std::string_view text, size_t begin, size_t end, size_t max_tokens,
                             const TokenCounter& count, size_t guess_bytes) {
  auto fits = [&](size_t s) { return count(text.substr(s, end - s)) <= max_tokens; };
  if (begin >= end) return end;
  size_t hi = char_floor(text, end - 1);  // start of the last character: smallest known fit
  if (!fits(hi)) return end;
  size_t lo = std::string_view::npos;  // largest known boundary that does not fit
  size_t step = guess_bytes > 0 ? guess_bytes : 1;
  while (lo == std::string_view::npos) {
    if (hi <= begin) return begin;
    size_t cand = hi - begin <= step ? begin : char_ceil(text, hi - step);
    if (cand >= hi) cand = char_floor(text, hi - 1);
    if (fits(cand)) {
      hi = cand;
      step *= 2;
    } else {
      lo = cand;
    }
  }
  for (;;) {
    size_t mid = char_ceil(text, lo + (hi - lo) / 2);
    if (mid >= hi) mid = char_floor(text, hi - 1);
    if (mid <= lo) return hi;
    if (fits(mid))
      hi = mid;
    else
      lo = mid;
  }
}

}  // namespace blockattn::segment
