#include "segment/c99.h"

#include <algorithm>
#include <cmath>

#include "blockattn/error.h"
#include "segment/cohesion.h"

namespace blockattn::segment {

namespace {

using Matrix = std::vector<std::vector<double>>;

// Sparse term-frequency vector: (term, count), sorted by term.
using TermCounts = std::vector<std::pair<uint32_t, uint32_t>>;

double cosine(const TermCounts& a, const TermCounts& b) {
  double dot = 0, na = 0, nb = 0;
  for (const auto& [t, c] : a) na += double(c) * c;
  for (const auto& [t, c] : b) nb += double(c) * c;
  if (na == 0 || nb == 0) return 0.0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i].first < b[j].first) {
      ++i;
    } else if (b[j].first < a[i].first) {
      ++j;
    } else {
      dot += double(a[i].second) * b[j].second;
      ++i, ++j;
    }
  }
  return dot / std::sqrt(na * nb);
}

}  // namespace

Matrix c99_rank(const Matrix& sim, size_t radius) {
  const size_t n = sim.size();
  Matrix rank(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const size_t i0 = i > radius ? i - radius : 0, i1 = std::min(n, i + radius + 1);
      const size_t j0 = j > radius ? j - radius : 0, j1 = std::min(n, j + radius + 1);
      size_t lower = 0;
      for (size_t a = i0; a < i1; ++a)
        for (size_t b = j0; b < j1; ++b) lower += sim[a][b] < sim[i][j];
      const size_t others = (i1 - i0) * (j1 - j0) - 1;
      rank[i][j] = others == 0 ? 0.0 : static_cast<double>(lower) / static_cast<double>(others);
    }
  return rank;
}

void c99_divide(const Matrix& rank, std::vector<size_t>& split_order, std::vector<double>& gain) {
  const size_t n = rank.size();
  split_order.clear();
  gain.clear();
  if (n < 2) return;
  // prefix[i][j]: sum of rank[<i][<j]; square(a, b): the sum over [a, b) x [a, b).
  std::vector<std::vector<double>> prefix(n + 1, std::vector<double>(n + 1, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      prefix[i + 1][j + 1] = rank[i][j] + prefix[i][j + 1] + prefix[i + 1][j] - prefix[i][j];
  auto square = [&](size_t a, size_t b) {
    return prefix[b][b] - prefix[a][b] - prefix[b][a] + prefix[a][a];
  };
  auto area = [](size_t a, size_t b) { return double(b - a) * double(b - a); };
  std::vector<size_t> bounds{0, n};  // segment boundaries, sorted
  double inside = square(0, n), inside_area = area(0, n);
  double density = inside / inside_area;
  for (size_t step = 0; step + 1 < n; ++step) {
    double best = -1.0;
    size_t best_p = 0, best_seg = 0;
    for (size_t s = 0; s + 1 < bounds.size(); ++s) {
      const size_t a = bounds[s], b = bounds[s + 1];
      const double rest = inside - square(a, b), rest_area = inside_area - area(a, b);
      for (size_t p = a + 1; p < b; ++p) {
        const double d =
            (rest + square(a, p) + square(p, b)) / (rest_area + area(a, p) + area(p, b));
        if (d > best) {
          best = d;
          best_p = p;
          best_seg = s;
        }
      }
    }
    const size_t a = bounds[best_seg], b = bounds[best_seg + 1];
    inside += square(a, best_p) + square(best_p, b) - square(a, b);
    inside_area += area(a, best_p) + area(best_p, b) - area(a, b);
    bounds.insert(bounds.begin() + static_cast<long>(best_seg) + 1, best_p);
    split_order.push_back(best_p);
    gain.push_back(best - density);
    density = best;
  }
}

size_t c99_kept_splits(const std::vector<double>& gain, double c) {
  if (gain.empty()) return 0;
  double mean = 0;
  for (double g : gain) mean += g;
  mean /= static_cast<double>(gain.size());
  double var = 0;
  for (double g : gain) var += (g - mean) * (g - mean);
  const double cutoff = mean + c * std::sqrt(var / static_cast<double>(gain.size()));
  size_t kept = 0;
  while (kept < gain.size() && gain[kept] >= cutoff) ++kept;
  return kept;
}

std::vector<double> c99_scores(std::string_view text, const std::vector<Candidate>& candidates,
                               const C99Options& opts, C99Trace* trace) {
  if (opts.max_units < 2) throw InputError("c99: max_units must be >= 2");
  std::vector<double> scores(candidates.size(), 0.0);
  // Unit boundaries: sentence-or-stronger candidates, as candidate indices.
  std::vector<size_t> cuts;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].type >= CutType::kSentence) cuts.push_back(i);
  const ContentWords words = content_words(text);
  // Merge into at most max_units units of about equal word counts: a unit closes at the first
  // cut at or past the next multiple of total_words / max_units.
  std::vector<size_t> unit_cut;  // candidate index where unit k + 1 starts
  {
    const double per_unit =
        cuts.size() + 1 <= opts.max_units
            ? 0.0
            : static_cast<double>(words.size()) / static_cast<double>(opts.max_units);
    double next = per_unit;
    for (size_t ci : cuts) {
      const double before = static_cast<double>(words.word_at(candidates[ci].offset));
      if (before > 0 && before >= next && before < static_cast<double>(words.size())) {
        if (!unit_cut.empty() && words.word_at(candidates[unit_cut.back()].offset) ==
                                     words.word_at(candidates[ci].offset))
          continue;  // no word in between: an empty unit
        unit_cut.push_back(ci);
        next = before + per_unit;
      }
    }
  }
  const size_t n = unit_cut.size() + 1;
  std::vector<TermCounts> units(n);
  {
    size_t u = 0;
    std::vector<std::vector<uint32_t>> terms(n);
    for (size_t w = 0; w < words.size(); ++w) {
      while (u < unit_cut.size() && words.begin[w] >= candidates[unit_cut[u]].offset) ++u;
      terms[u].push_back(words.term[w]);
    }
    for (size_t k = 0; k < n; ++k) {
      std::sort(terms[k].begin(), terms[k].end());
      for (uint32_t t : terms[k])
        if (!units[k].empty() && units[k].back().first == t)
          ++units[k].back().second;
        else
          units[k].emplace_back(t, 1);
    }
  }
  Matrix sim(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i; j < n; ++j) sim[i][j] = sim[j][i] = cosine(units[i], units[j]);
  const Matrix rank = c99_rank(sim, opts.rank_radius);
  std::vector<size_t> order;
  std::vector<double> gain;
  c99_divide(rank, order, gain);
  const size_t kept = c99_kept_splits(gain, opts.stop_c);
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t ci = unit_cut[order[k] - 1];
    if (k < kept)
      scores[ci] = 1.0 - 0.5 * static_cast<double>(k) / static_cast<double>(kept);
    else
      scores[ci] = 0.5 * (1.0 - static_cast<double>(k - kept + 1) /
                                    static_cast<double>(order.size() - kept + 1));
  }
  if (trace) {
    trace->unit_begin = {0};
    for (size_t ci : unit_cut) trace->unit_begin.push_back(candidates[ci].offset);
    trace->similarity = sim;
    trace->rank = rank;
    trace->split_order = order;
    trace->gain = gain;
    trace->kept = kept;
  }
  return scores;
}

}  // namespace blockattn::segment
