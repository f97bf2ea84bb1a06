#include "segeval/metrics.h"

#include <cmath>
#include <string>
#include <vector>

#include "blockattn/error.h"

namespace blockattn::segment {

namespace {

void check_lengths(std::string_view a, std::string_view b, const char* what) {
  if (a.size() != b.size())
    throw InputError(std::string(what) + ": segmentations have different lengths (" +
                     std::to_string(a.size()) + " and " + std::to_string(b.size()) + " units)");
}

void check_k(size_t k, size_t len, const char* what) {
  if (k == 0) throw InputError(std::string(what) + ": window k must be at least 1");
  if (k > len)
    throw InputError(std::string(what) + ": window k=" + std::to_string(k) +
                     " is larger than the segmentation (" + std::to_string(len) + " units)");
}

// prefix[i] = boundaries among the first i units.
std::vector<size_t> prefix_counts(std::string_view s, char boundary) {
  std::vector<size_t> p(s.size() + 1, 0);
  for (size_t i = 0; i < s.size(); ++i) p[i + 1] = p[i] + (s[i] == boundary);
  return p;
}

}  // namespace

size_t pk_default_k(std::string_view ref, char boundary) {
  size_t count = 0;
  for (char c : ref) count += c == boundary;
  if (count == 0)
    throw InputError("pk: the reference has no boundary, so k cannot be derived; give k");
  double k = std::nearbyint(static_cast<double>(ref.size()) / (static_cast<double>(count) * 2.0));
  return k < 1.0 ? 1 : static_cast<size_t>(k);
}

double pk(std::string_view ref, std::string_view hyp, std::optional<size_t> k, char boundary) {
  check_lengths(ref, hyp, "pk");
  size_t kk = k ? *k : pk_default_k(ref, boundary);
  check_k(kk, ref.size(), "pk");
  std::vector<size_t> r = prefix_counts(ref, boundary), h = prefix_counts(hyp, boundary);
  size_t err = 0;
  for (size_t i = 0; i + kk <= ref.size(); ++i) err += (r[i + kk] > r[i]) != (h[i + kk] > h[i]);
  return static_cast<double>(err) / (static_cast<double>(ref.size() - kk) + 1.0);
}

double windowdiff(std::string_view seg1, std::string_view seg2, size_t k, char boundary,
                  bool weighted) {
  check_lengths(seg1, seg2, "windowdiff");
  check_k(k, seg1.size(), "windowdiff");
  std::vector<size_t> a = prefix_counts(seg1, boundary), b = prefix_counts(seg2, boundary);
  size_t wd = 0;
  for (size_t i = 0; i + k <= seg1.size(); ++i) {
    size_t na = a[i + k] - a[i], nb = b[i + k] - b[i];
    size_t diff = na > nb ? na - nb : nb - na;
    wd += weighted ? diff : (diff > 0);
  }
  return static_cast<double>(wd) / (static_cast<double>(seg1.size() - k) + 1.0);
}

BoundaryScores boundary_scores(std::string_view ref, std::string_view hyp, size_t tolerance,
                               char boundary) {
  check_lengths(ref, hyp, "boundary scores");
  std::vector<size_t> r, h;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] == boundary) r.push_back(i);
    if (hyp[i] == boundary) h.push_back(i);
  }
  BoundaryScores s;
  s.reference = r.size();
  s.hypothesis = h.size();
  // Greedy in position order is a maximum matching for points on a line with a fixed window:
  // each hypothesis takes the earliest reference it can still reach.
  size_t j = 0;
  for (size_t x : h) {
    while (j < r.size() && r[j] + tolerance < x) ++j;
    if (j < r.size() && r[j] <= x + tolerance) {
      ++s.matched;
      ++j;
    }
  }
  auto ratio = [](size_t num, size_t den, size_t other) {
    if (den == 0) return other == 0 ? 1.0 : 0.0;
    return static_cast<double>(num) / static_cast<double>(den);
  };
  s.precision = ratio(s.matched, s.hypothesis, s.reference);
  s.recall = ratio(s.matched, s.reference, s.hypothesis);
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  return s;
}

}  // namespace blockattn::segment
