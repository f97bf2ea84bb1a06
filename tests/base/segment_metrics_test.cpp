// Pk / WindowDiff against NLTK 3.8 (values computed with Debian's python3-nltk), boundary
// precision/recall/F1 and the conversion from byte offsets to unit boundary strings.
#include <gtest/gtest.h>

#include <string>

#include "blockattn/error.h"
#include "expect_error.h"
#include "segeval/metrics.h"
#include "segeval/units.h"

namespace blockattn::segment {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(SegmentMetrics, PkMatchesNltk) {
  std::string ref = repeat("0100", 100);
  EXPECT_DOUBLE_EQ(pk(ref, std::string(400, '1'), 2), 0.49874686716791977);
  EXPECT_DOUBLE_EQ(pk(ref, std::string(400, '0'), 2), 0.5012531328320802);
  EXPECT_DOUBLE_EQ(pk(ref, ref, 2), 0.0);
  // Bit-exact, not merely close: the same integer division NLTK does.
  EXPECT_EQ(pk(ref, std::string(400, '1'), 2), 0.49874686716791977);
  EXPECT_EQ(pk(ref, std::string(400, '0'), 2), 0.5012531328320802);
  // Default k: round(400 / (100 * 2)) = 2.
  EXPECT_EQ(pk_default_k(ref), 2u);
  EXPECT_EQ(pk(ref, std::string(400, '0')), 0.5012531328320802);
  // Python's round is half-to-even: 10 / (2 * 2) = 2.5 -> 2, 14 / (2 * 2) = 3.5 -> 4.
  EXPECT_EQ(pk_default_k("0001000010"), 2u);
  EXPECT_EQ(pk_default_k("00000010000001"), 4u);
  // More values from NLTK 3.8: pk('000100000010', '000010000100') = 0.3 (default k = 3),
  // and 0.25 with k=5.
  EXPECT_EQ(pk("000100000010", "000010000100"), 0.3);
  EXPECT_EQ(pk("000100000010", "000010000100", 5), 0.25);
}

TEST(SegmentMetrics, WindowDiffMatchesNltk) {
  EXPECT_DOUBLE_EQ(windowdiff("000100000010", "000010000100", 3), 0.3);
  EXPECT_EQ(windowdiff("000100000010", "000010000100", 3), 0.3);
  EXPECT_EQ(windowdiff("000100000010", "000100000010", 3), 0.0);
  EXPECT_EQ(windowdiff("000010000100", "100000010000", 3), 0.8);
  // NLTK: windowdiff('000100000010', '110000000010', 3, weighted=True) = 0.4
  EXPECT_EQ(windowdiff("000100000010", "110000000010", 3, '1', true), 0.4);
  // Any character other than the boundary one is a non-boundary, as in NLTK.
  EXPECT_EQ(windowdiff("abab", "abab", 2, 'b'), 0.0);
}

TEST(SegmentMetrics, EdgeCases) {
  using test::error_of;
  // No boundary in the reference: NLTK divides by zero deriving k.
  EXPECT_CONTAINS(error_of<InputError>([] { pk("0000", "0100"); }), "no boundary");
  // ... but with k given it is well defined.
  EXPECT_EQ(pk("0000", "0100", 2), 2.0 / 3.0);
  EXPECT_EQ(pk("0000", "0000", 2), 0.0);
  // All boundaries: NLTK's k rounds to 0 (and it would return 0.0 for any hypothesis); we use 1.
  EXPECT_EQ(pk_default_k("1111"), 1u);
  EXPECT_EQ(pk("1111", "1111"), 0.0);
  EXPECT_EQ(pk("1111", "0000"), 1.0);
  EXPECT_EQ(windowdiff("1111", "0000", 2), 1.0);
  EXPECT_EQ(windowdiff("1111", "0000", 2, '1', true), 2.0);
  // k equal to the length: one window. Larger: error (NLTK: ZeroDivisionError or -0.0).
  EXPECT_EQ(pk("0100", "0000", 4), 1.0);
  EXPECT_EQ(windowdiff("0100", "0000", 4), 1.0);
  EXPECT_CONTAINS(error_of<InputError>([] { pk("0100", "0000", 5); }), "larger than");
  EXPECT_CONTAINS(error_of<InputError>([] { windowdiff("0100", "0000", 5); }), "larger than");
  EXPECT_CONTAINS(error_of<InputError>([] { pk("0100", "0000", 0); }), "at least 1");
  EXPECT_CONTAINS(error_of<InputError>([] { windowdiff("0100", "0000", 0); }), "at least 1");
  EXPECT_CONTAINS(error_of<InputError>([] { pk("", "", 1); }), "larger than");
  // Mismatched lengths.
  EXPECT_CONTAINS(error_of<InputError>([] { pk("0100", "010", 2); }), "different lengths");
  EXPECT_CONTAINS(error_of<InputError>([] { windowdiff("0100", "010", 2); }), "different lengths");
  EXPECT_CONTAINS(error_of<InputError>([] { boundary_scores("01", "0"); }), "different lengths");
}

TEST(SegmentMetrics, BoundaryPrecisionRecallF1) {
  BoundaryScores s = boundary_scores("0100100001", "0010100000");
  EXPECT_EQ(s.reference, 3u);
  EXPECT_EQ(s.hypothesis, 2u);
  EXPECT_EQ(s.matched, 1u);
  EXPECT_DOUBLE_EQ(s.precision, 0.5);
  EXPECT_DOUBLE_EQ(s.recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.f1, 0.4);
  // A tolerance of one unit matches the near miss, one-to-one.
  s = boundary_scores("0100100001", "0010100000", 1);
  EXPECT_EQ(s.matched, 2u);
  s = boundary_scores("0100000000", "1010000000", 1);  // two hypotheses near one reference
  EXPECT_EQ(s.matched, 1u);
  // Greedy order must not steal: ref 1 and 3, hyp 2 and 4 with tolerance 1 -> both match.
  s = boundary_scores("01010", "00101", 1);
  EXPECT_EQ(s.matched, 2u);
  // Empty sides.
  s = boundary_scores("0000", "0000");
  EXPECT_EQ(s.precision, 1.0);
  EXPECT_EQ(s.recall, 1.0);
  EXPECT_EQ(s.f1, 1.0);
  s = boundary_scores("0100", "0000");
  EXPECT_EQ(s.precision, 0.0);
  EXPECT_EQ(s.recall, 0.0);
  EXPECT_EQ(s.f1, 0.0);
}

TEST(SegmentUnits, BoundaryStrings) {
  std::string text = "ab cd\n\nef";  // words start at 0, 3, 7
  EXPECT_EQ(unit_starts(text, Unit::kWord), (std::vector<size_t>{0, 3, 7}));
  EXPECT_EQ(unit_starts("  ab cd", Unit::kWord), (std::vector<size_t>{0, 5}));
  EXPECT_EQ(unit_starts("", Unit::kWord), (std::vector<size_t>{}));
  EXPECT_EQ(unit_starts("aé€b", Unit::kChar), (std::vector<size_t>{0, 1, 3, 6}));
  auto words = unit_starts(text, Unit::kWord);
  EXPECT_EQ(boundary_string(words, text.size(), {7}), "010");
  EXPECT_EQ(boundary_string(words, text.size(), {3, 7}), "110");
  EXPECT_EQ(boundary_string(words, text.size(), {4}), "100");        // inside "cd": at its start
  EXPECT_EQ(boundary_string(words, text.size(), {1, 0, 9}), "000");  // first unit, start, end
  EXPECT_EQ(boundary_string(words, text.size(), {7, 8, 7}), "010");  // 8 is inside "ef"
  auto chars = unit_starts(text, Unit::kChar);
  EXPECT_EQ(boundary_string(chars, text.size(), {3, 7}), "001000100");
}

}  // namespace
}  // namespace blockattn::segment
