// Features of the learned segmenter: for every candidate cut (candidates.h) a list of hashed
// feature ids in [0, 2^bucket_bits), built from the text on both sides of the cut.
//
// Only candidates at least as strong as `min_type` (default: a line break) get features; the
// others are scored 0 by the model. Every gold boundary of the dataset is at a line start, so
// the model never sees a positive inside a line, and skipping mid-line candidates (about 6 in 7
// of all candidates in prose) keeps training and inference cheap. Inside a long line the cap
// still splits at the strongest remaining type (sentence before word).
//
// Feature groups, each in its own hash space (a namespace salt), so "def" as the first word after
// the cut and "def" somewhere before it are different features:
//   - the cut: type, kinds bits, line breaks in the separating whitespace, form feed;
//   - line shape of the line after the cut, the line after that and the last line before the cut:
//     length and word-count buckets, indentation, first/last character class, first and last word,
//     the first three bytes, ALL CAPS, Title Case, a numbered heading ("3.2", "IV.", "A)");
//   - pairs: indentation change, last character before x first character after, type x first word;
//   - layout: lines until the next blank line (a heading is short and followed by one), lines since
//     the previous one, bytes since the previous/until the next paragraph-or-code candidate
//     (log2 buckets), position in the text;
//   - words: the last `window_words` words before the cut and the first after it (lowercased,
//     alphanumeric runs and single punctuation characters), plus bigrams of the nearest
//     `bigram_words`;
//   - lexical cohesion (TextTiling's cue): how many distinct content words (>= 4 letters) the
//     `cohesion_words` words before and after share, bucketed;
//   - content signals (cohesion.h), when `content_windows` is not empty: the TF-IDF cosine of the
//     content words before and after the cut for each window size, the same cosine relative to
//     the text's mean, TextTiling's depth score and C99's local rank over the sequence of scored
//     candidates (at the middle window), and crosses of these with the cut type and each other.
//     They see a change of subject where the layout gives nothing away (joined excerpts,
//     sentence-per-line prose). Models without them (content_windows empty) load and score as
//     before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "segment/candidates.h"

namespace blockattn::segment {

struct FeatureConfig {
  uint32_t bucket_bits = 16;   // hash space 2^bucket_bits, 8..24
  uint32_t window_words = 24;  // bag of words each side
  uint32_t bigram_words = 6;   // bigrams among the nearest words each side
  uint32_t cohesion_words = 64;
  CutType min_type = CutType::kLine;  // weaker candidates are not scored
  // Content signals: window sizes in content words (increasing, 1..1024, at most 4); empty: off.
  std::vector<uint32_t> content_windows;
  uint32_t rank_radius = 20;  // C99 local rank over this many scored candidates each side
};

// The content windows a new model gets (`segmenter train` without --no-content).
std::vector<uint32_t> default_content_windows();

// InputError naming the field if a value is out of range.
void check_feature_config(const FeatureConfig& c);

// Features of the scored candidates, as a CSR matrix: candidate `which[r]` has the ids
// ids[row_begin[r] .. row_begin[r + 1]). Ids may repeat (a word twice in a window counts twice).
struct CandidateFeatures {
  std::vector<size_t> which;      // index into the candidates, increasing
  std::vector<size_t> row_begin;  // which.size() + 1 entries
  std::vector<uint32_t> ids;
  size_t rows() const { return which.size(); }
};

// `candidates` must be find_candidates(text) (or a subset in increasing order).
CandidateFeatures extract_features(std::string_view text, const std::vector<Candidate>& candidates,
                                   const FeatureConfig& config);

}  // namespace blockattn::segment
