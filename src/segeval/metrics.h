// Segmentation metrics over boundary strings (units.h): Pk and WindowDiff exactly as NLTK 3.8's
// nltk.metrics.segmentation defines them, and boundary precision/recall/F1.
//
// A boundary string has one character per unit; units equal to `boundary` are boundaries, any
// other character is not. Where NLTK fails or returns a meaningless number we throw InputError:
//   - reference and hypothesis of different lengths (NLTK's pk does not even check);
//   - an explicit k of 0 (NLTK returns 0.0), or k greater than the length (NLTK: windowdiff
//     raises, pk divides by zero at k = len + 1 and returns -0.0 beyond);
//   - pk without k on a reference with no boundary (NLTK divides by zero).
// One deliberate difference: when pk computes k itself and the formula rounds to 0 (more than
// two boundaries per three units, e.g. a reference of all boundaries), we use k = 1; NLTK would
// compare empty windows and return 0.0 whatever the hypothesis.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace blockattn::segment {

// NLTK's default k: int(round(len(ref) / (ref.count(boundary) * 2.0))), Python's round (half to
// even); clamped to >= 1 as above. InputError when ref has no boundary.
size_t pk_default_k(std::string_view ref, char boundary = '1');

// Share of the len-k+1 windows of k units in which ref and hyp disagree on whether the window
// holds any boundary.
double pk(std::string_view ref, std::string_view hyp, std::optional<size_t> k = std::nullopt,
          char boundary = '1');

// Share of windows whose boundary counts differ (weighted: mean absolute difference of counts).
double windowdiff(std::string_view seg1, std::string_view seg2, size_t k, char boundary = '1',
                  bool weighted = false);

struct BoundaryScores {
  double precision = 0, recall = 0, f1 = 0;
  size_t matched = 0, reference = 0, hypothesis = 0;  // boundary counts
};

// Hypothesis boundaries matched one-to-one to reference boundaries at most `tolerance` units
// away (0: exact positions). precision = matched / hypothesis, recall = matched / reference; an
// empty side scores 1 if the other is empty too, else 0; f1 is 0 when precision + recall is 0.
BoundaryScores boundary_scores(std::string_view ref, std::string_view hyp, size_t tolerance = 0,
                               char boundary = '1');

}  // namespace blockattn::segment
