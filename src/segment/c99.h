// Baseline: C99 (Choi 2000, "Advances in domain independent linear text segmentation"), written
// from the paper.
//
//   1. Units: the spans between consecutive sentence-or-stronger candidates (a sentence end, a
//      line break, a blank line), merged into at most `max_units` spans of about equal word count
//      (the matrix below is units^2).
//   2. Similarity matrix: cosine of the units' content-word frequency vectors (cohesion.h).
//   3. Rank transform: each cell becomes the share of the cells in the (2 * rank_radius + 1)^2
//      mask around it (clipped at the edges, itself excluded) with a lower similarity.
//   4. Divisive clustering: starting from one segment, repeatedly split the segment at the unit
//      boundary that maximises the inside density D = sum(s_k) / sum(a_k) (rank sums and areas of
//      the diagonal squares of the segments), until every unit boundary is used. The gain of each
//      step is dD; Choi stops at the first step whose gain falls below mean(dD) + c * stdev(dD).
//
// Scores encode the split order: the k-th split of the m that Choi's rule keeps scores in
// (0.5, 1], earlier splits higher; the splits after it score below 0.5, in order. So the default
// threshold 0.5 is Choi's automatic count, a lower or higher threshold is a finer or coarser
// segmentation, and `--blocks N` (the N - 1 highest scores) is C99 with a known number of segments.
// Candidates that are not unit boundaries score 0.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "segment/candidates.h"

namespace blockattn::segment {

struct C99Options {
  size_t max_units = 400;  // >= 2
  size_t rank_radius = 5;  // Choi's 11 x 11 mask
  double stop_c = 1.2;     // Choi's stopping coefficient
};

// Intermediate values, for tests.
struct C99Trace {
  std::vector<size_t> unit_begin;  // byte offset where each unit starts (first: 0)
  std::vector<std::vector<double>> similarity, rank;  // units x units
  std::vector<size_t> split_order;  // unit boundaries (1..units-1) in the order chosen
  std::vector<double> gain;         // dD of each split
  size_t kept = 0;                  // splits Choi's rule keeps
};

std::vector<double> c99_scores(std::string_view text, const std::vector<Candidate>& candidates,
                               const C99Options& opts = {}, C99Trace* trace = nullptr);

// The core on a given similarity matrix (n x n, symmetric): rank transform, then the split order
// and gains of divisive clustering. Exposed for the hand-worked test.
std::vector<std::vector<double>> c99_rank(const std::vector<std::vector<double>>& similarity,
                                          size_t radius);
void c99_divide(const std::vector<std::vector<double>>& rank, std::vector<size_t>& split_order,
                std::vector<double>& gain);
// Choi's stop: how many of the splits (in order) to keep given their gains.
size_t c99_kept_splits(const std::vector<double>& gain, double c);

}  // namespace blockattn::segment
