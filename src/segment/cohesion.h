// Lexical cohesion around candidate cuts: the content signals of the learned segmenter
// (learned_features.h) and of C99 (c99.h).
//
// A text's content words are its alphanumeric runs of >= 3 bytes that are not all digits,
// lowercased (ASCII) and numbered densely in order of first appearance. A word's weight is its
// inverse document frequency within the text itself, over pseudo-sentences of `idf_chunk_words`
// content words: idf(t) = log(chunks / df(t)) + 1, so a word spread over the whole text (a
// function word of a code listing, the name of the single topic) counts less than one that is
// confined to a stretch. No global vocabulary: nothing ships with the model, every language works.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace blockattn::segment {

struct ContentWords {
  std::vector<size_t> begin;   // byte offset of each content word, increasing
  std::vector<uint32_t> term;  // dense term id of each word, < vocabulary
  std::vector<float> idf;      // one per term
  size_t vocabulary = 0;
  size_t size() const { return begin.size(); }
  // The index of the first word at or after byte offset `o` (size() if none).
  size_t word_at(size_t o) const;
};

// `idf_chunk_words` >= 1.
ContentWords content_words(std::string_view text, size_t idf_chunk_words = 20);

// TF-IDF cosine between the bag of the `window` words before word index `at` ([at - window, at),
// clipped to the text) and the bag of the `window` words from `at` on. 0 when either side is
// empty. O(window) per call with the caller's scratch.
class WindowCosine {
 public:
  explicit WindowCosine(const ContentWords& words);
  double operator()(size_t at, size_t window);

 private:
  const ContentWords& words_;
  std::vector<uint32_t> left_count_, right_count_;
};

// TextTiling's depth score over a sequence of similarities (one per gap): from gap i, climb to
// the highest point on each side while the values do not decrease, depth = (left peak - s[i]) +
// (right peak - s[i]). Hearst 1997, section 5.2. `max_climb` bounds each climb (positions), so a
// long monotone run costs O(n * max_climb), not O(n^2).
std::vector<double> depth_scores(const std::vector<double>& similarity,
                                 size_t max_climb = static_cast<size_t>(-1));

// C99's local rank (Choi 2000) applied to a sequence: for each i, the share of values within
// `radius` positions on either side (excluding i) that are strictly greater than s[i]. A cut
// that is the least cohesive point of its neighbourhood scores 1.
std::vector<double> local_rank(const std::vector<double>& similarity, size_t radius);

}  // namespace blockattn::segment
