#include "segment/texttiling.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "segment/chars.h"
#include "segment/cohesion.h"

namespace blockattn::segment {

namespace {

// Our own short English list (function words and the fragments that splitting at apostrophes
// leaves: "don't" -> "don" "t").
const std::unordered_set<std::string>& stopwords() {
  static const std::unordered_set<std::string> kWords = {
      "a",         "about",      "above",     "after", "again",   "against", "all",
      "also",      "am",         "an",        "and",   "any",     "are",     "as",
      "at",        "be",         "because",   "been",  "before",  "being",   "below",
      "between",   "both",       "but",       "by",    "can",     "could",   "d",
      "did",       "do",         "does",      "doing", "don",     "down",    "during",
      "each",      "few",        "for",       "from",  "further", "had",     "has",
      "have",      "having",     "he",        "her",   "here",    "hers",    "herself",
      "him",       "himself",    "his",       "how",   "i",       "if",      "in",
      "into",      "is",         "it",        "its",   "itself",  "just",    "ll",
      "m",         "may",        "me",        "might", "more",    "most",    "must",
      "my",        "myself",     "no",        "nor",   "not",     "now",     "of",
      "off",       "on",         "once",      "one",   "only",    "or",      "other",
      "our",       "ours",       "ourselves", "out",   "over",    "own",     "re",
      "s",         "same",       "shall",     "she",   "should",  "so",      "some",
      "such",      "t",          "than",      "that",  "the",     "their",   "theirs",
      "them",      "themselves", "then",      "there", "these",   "they",    "this",
      "those",     "through",    "to",        "too",   "under",   "until",   "up",
      "us",        "ve",         "very",      "was",   "we",      "were",    "what",
      "when",      "where",      "which",     "while", "who",     "whom",    "why",
      "will",      "with",       "would",     "you",   "your",    "yours",   "yourself",
      "yourselves"};
  return kWords;
}

struct Word {
  std::string text;
  size_t offset;
};

// NLTK's tokenization: lowercase, delete every character but a-z, '-', '\'' and whitespace (so
// "abc123def" is one word and "don't" two), then words are runs of letters.
std::vector<Word> words_of(std::string_view text) {
  std::vector<Word> out;
  Word cur;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      if (cur.text.empty()) cur.offset = i;
      cur.text.push_back(static_cast<char>(c | 0x20));
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '-' || c == '\'') {
      if (!cur.text.empty()) out.push_back(std::move(cur));
      cur = Word();
    }
  }
  if (!cur.text.empty()) out.push_back(std::move(cur));
  return out;
}

// Cosine similarity of the word counts of pseudo-sentences [a1, a2) and [b1, b2), one gap per
// call, as NLTK's block comparison.
class BlockComparison {
 public:
  BlockComparison(const std::vector<std::vector<std::pair<int, int>>>& seqs, size_t vocab)
      : seqs_(seqs), f1_(vocab, 0), f2_(vocab, 0) {}

  double score(size_t a1, size_t a2, size_t b1, size_t b2) {
    touched_.clear();
    add(a1, a2, f1_);
    add(b1, b2, f2_);
    double dot = 0, n1 = 0, n2 = 0;
    for (int id : touched_) {
      double x = f1_[id], y = f2_[id];
      dot += x * y;
      n1 += x * x;
      n2 += y * y;
      f1_[id] = f2_[id] = 0;
    }
    double denom = std::sqrt(n1 * n2);
    return denom > 0 ? dot / denom : 0.0;
  }

 private:
  void add(size_t from, size_t to, std::vector<int>& f) {
    for (size_t s = from; s < to; ++s)
      for (auto [id, n] : seqs_[s]) {
        if (f1_[id] == 0 && f2_[id] == 0) touched_.push_back(id);
        f[id] += n;
      }
  }

  const std::vector<std::vector<std::pair<int, int>>>& seqs_;
  std::vector<int> f1_, f2_;
  std::vector<int> touched_;
};

// The SciPy-cookbook moving average NLTK uses: a flat window of `len` with the series extended
// by point reflection about its end values (left: 2*x[0] - x[1 - q], an off-by-one NLTK has).
std::vector<double> smooth(const std::vector<double>& x, size_t len) {
  const long n = static_cast<long>(x.size());
  if (len < 3 || n == 0) return x;
  auto at = [&](long q) {
    auto clamp = [&](long i) { return x[std::clamp(i, 0L, n - 1)]; };
    if (q < 0) return 2 * x[0] - clamp(1 - q);
    if (q >= n) return 2 * x[n - 1] - clamp(n - 1 - (q - n));
    return x[q];
  };
  const long L = static_cast<long>(len), half = (L - 1) / 2;
  std::vector<double> y(x.size());
  for (long j = 0; j < n; ++j) {
    double sum = 0;
    for (long q = j + half - (L - 1); q <= j + half; ++q) sum += at(q);
    y[j] = sum / L;
  }
  return y;
}

// Hearst's depth score (cohesion.h) with NLTK's clip: no boundary within the first/last 2..5 gaps.
std::vector<double> clipped_depth_scores(const std::vector<double>& s) {
  const size_t n = s.size();
  std::vector<double> depth = depth_scores(s);
  const size_t clip = std::min<size_t>(std::max<size_t>(n / 10, 2), 5);
  for (size_t i = 0; i < n; ++i)
    if (i < clip || i + clip >= n) depth[i] = 0.0;
  return depth;
}

std::vector<bool> identify_boundaries(const std::vector<double>& depth, bool liberal) {
  const size_t n = depth.size();
  std::vector<bool> boundary(n, false);
  if (n == 0) return boundary;
  double mean = 0;
  for (double d : depth) mean += d;
  mean /= n;
  double var = 0;
  for (double d : depth) var += (d - mean) * (d - mean);
  double stdev = std::sqrt(var / n);
  double cutoff = liberal ? mean - stdev : mean - stdev / 2.0;
  std::vector<size_t> hp;
  // depth > 0: NLTK also admits zero-depth gaps when the cutoff is negative (clipped ends).
  for (size_t i = 0; i < n; ++i)
    if (depth[i] > cutoff && depth[i] > 0) hp.push_back(i);
  std::sort(hp.begin(), hp.end(),
            [&](size_t a, size_t b) { return depth[a] != depth[b] ? depth[a] > depth[b] : a > b; });
  // Deepest first; a gap within 3 of an accepted one is dropped.
  for (size_t i : hp) {
    bool near = false;
    for (size_t j = i >= 3 ? i - 3 : 0; j <= i + 3 && j < n; ++j) near |= j != i && boundary[j];
    boundary[i] = !near;
  }
  return boundary;
}

// NLTK's _normalize_boundaries position of each gap: 1 + the index of the character at which
// the number of finished " \t\n"-separated words first exceeds max(gap * w, w).
std::vector<size_t> nltk_gap_positions(std::string_view text, size_t numgaps, size_t w) {
  std::vector<size_t> out;
  size_t words = 0;
  bool seen_word = false;
  for (size_t i = 0; i < text.size() && out.size() < numgaps; ++i) {
    bool sep = text[i] == ' ' || text[i] == '\t' || text[i] == '\n';
    if (sep && seen_word) {
      seen_word = false;
      ++words;
    }
    if (!sep) seen_word = true;
    if (words > std::max(out.size() * w, w)) out.push_back(i + 1);
  }
  return out;
}

}  // namespace

std::vector<double> texttiling_scores(std::string_view text,
                                      const std::vector<Candidate>& candidates,
                                      const TextTilingOptions& opts, TextTilingTrace* trace) {
  std::vector<double> scores(candidates.size(), 0.0);
  const size_t w = std::max<size_t>(opts.w, 1), k = std::max<size_t>(opts.k, 1);

  std::vector<Word> words = words_of(text);
  std::unordered_map<std::string, int> ids;
  std::vector<std::vector<std::pair<int, int>>> seqs;  // per pseudo-sentence: (word id, count)
  std::vector<size_t> gap_offsets;
  for (size_t start = 0; start < words.size(); start += w) {
    if (start > 0) gap_offsets.push_back(words[start].offset);
    std::unordered_map<int, int> counts;
    for (size_t i = start; i < std::min(words.size(), start + w); ++i) {
      if (stopwords().count(words[i].text)) continue;
      auto it = ids.emplace(words[i].text, static_cast<int>(ids.size())).first;
      ++counts[it->second];
    }
    seqs.emplace_back(counts.begin(), counts.end());
  }
  const long numgaps = static_cast<long>(gap_offsets.size());

  std::vector<double> gap_scores(gap_offsets.size());
  BlockComparison compare(seqs, ids.size());
  for (long gap = 0; gap < numgaps; ++gap) {
    long ws = static_cast<long>(k);
    if (gap < ws - 1)
      ws = gap + 1;
    else if (gap > numgaps - ws)
      ws = numgaps - gap;
    size_t a1 = gap - ws + 1, a2 = gap + 1;
    size_t b2 = std::min<size_t>(gap + ws + 1, seqs.size());
    gap_scores[gap] = compare.score(a1, a2, a2, b2);
  }
  std::vector<double> smoothed = gap_scores;
  for (size_t r = 0; r < opts.smoothing_rounds; ++r)
    smoothed = smooth(smoothed, opts.smoothing_width + 1);
  std::vector<double> depth = clipped_depth_scores(smoothed);
  std::vector<bool> boundary = identify_boundaries(depth, opts.liberal_cutoff);

  // NLTK's paragraph breaks: blank lines at least 100 characters (here bytes) after the last
  // accepted break, at the start of the blank-line whitespace; 0 is a break that makes no cut.
  // snap_to_lines: every line break is a "paragraph" (sentence-per-line text has no blank line).
  std::vector<size_t> breaks{0}, break_candidate{0};
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].is(CutType::kParagraph) &&
        !(opts.snap_to_lines && candidates[i].type >= CutType::kLine))
      continue;
    size_t ws_start = candidates[i].offset;
    while (ws_start > 0 && is_space(text[ws_start - 1])) --ws_start;
    if (ws_start - breaks.back() < 100) continue;
    breaks.push_back(ws_start);
    break_candidate.push_back(i);
  }
  if (opts.nltk_gap_positions) gap_offsets = nltk_gap_positions(text, gap_offsets.size(), w);
  for (long gap = 0; gap < static_cast<long>(gap_offsets.size()); ++gap) {
    if (!boundary[gap] || breaks.size() < 2) continue;
    size_t pos = gap_offsets[gap];
    size_t best = 0;
    auto dist = [&](size_t b) { return breaks[b] > pos ? breaks[b] - pos : pos - breaks[b]; };
    for (size_t b = 1; b < breaks.size() && dist(b) < dist(best); ++b) best = b;
    if (best != 0) scores[break_candidate[best]] = 1.0;
  }
  if (trace) *trace = {gap_offsets, gap_scores, smoothed, depth, boundary};
  return scores;
}

}  // namespace blockattn::segment
