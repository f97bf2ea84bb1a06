#include "segment/learned_features.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "blockattn/error.h"
#include "core/hash.h"
#include "segment/chars.h"
#include "segment/cohesion.h"

namespace blockattn::segment {

namespace {

// Feature namespaces: the salt keeps equal values of different groups apart. Values are part of
// the model format (a trained model's ids depend on them): append, never renumber.
enum Ns : uint64_t {
  kBias = 1,
  kType,
  kKinds,
  kBreaks,
  kFormFeed,
  kPosition,
  kNextLine = 16,
  kNext2Line = 48,
  kPrevLine = 80,  // + a line-shape field (< 32)
  kIndentDelta = 120,
  kPrevLastNextFirst,
  kTypeFirstWord,
  kRunAfter,
  kRunBefore,
  kPrevStrong,
  kNextStrong,
  kLeftWord,
  kRightWord,
  kLeftBigram,
  kRightBigram,
  kCohesion,
  kCohesionShare,
  kBlankAfterNext,
  kTypeBreaksIndent,
  kContentCosine = 200,  // + window index (< 8)
  kContentCosineRel = 210,
  kContentDepth,
  kContentRank,
  kContentCosineType,
  kContentRankDepth,
  kContentSmallLarge,
  kContentRankType,
  kContentTextMean,
  kContentTextLow,
};

// Line-shape fields, added to kNextLine/kNext2Line/kPrevLine.
enum Field : uint64_t {
  kLen,
  kWords,
  kIndent,
  kTab,
  kFirstClass,
  kLastClass,
  kFirstWord,
  kLastWord,
  kPrefix3,
  kAllCaps,
  kTitle,
  kNumbered,
  kEmpty,
};

inline uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

bool is_alnum_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}
bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// 'A' upper, 'a' lower, '0' digit, 'U' non-ASCII, else the punctuation byte itself.
uint64_t char_class(unsigned char c) {
  if (is_upper(c)) return 'A';
  if (is_lower(c)) return 'a';
  if (is_digit(c)) return '0';
  if (c >= 0x80) return 'U';
  return c;
}

// 0, 1, 2-3, 4-7, ...: the bit length, capped.
uint64_t log2_bucket(size_t v, uint64_t cap) {
  uint64_t b = 0;
  while (v > 0 && b < cap) {
    v >>= 1;
    ++b;
  }
  return b;
}

uint64_t hash_lower(std::string_view s) {
  char buf[24];
  size_t n = std::min(s.size(), sizeof buf);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    buf[i] = is_upper(c) ? static_cast<char>(c + 32) : static_cast<char>(c);
  }
  return hash64(buf, n);
}

struct Token {
  size_t begin;
  uint64_t hash;
  bool content;  // an alphanumeric run of >= 4 bytes, not all digits
};

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> out;
  out.reserve(text.size() / 4);
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (is_space(text[i])) {
      ++i;
    } else if (is_alnum_byte(c)) {
      size_t j = i;
      bool digits = true;
      while (j < text.size() && is_alnum_byte(static_cast<unsigned char>(text[j]))) {
        digits = digits && is_digit(static_cast<unsigned char>(text[j]));
        ++j;
      }
      std::string_view w = text.substr(i, j - i);
      out.push_back({i, hash_lower(w), w.size() >= 4 && !digits});
      i = j;
    } else {
      out.push_back({i, c, false});
      ++i;
    }
  }
  return out;
}

struct Lines {
  std::vector<size_t> start;        // line i is [start[i], start[i+1]) including its '\n'
  std::vector<uint8_t> blank;       // only whitespace
  std::vector<uint8_t> run_after;   // non-blank lines from i on until a blank line (capped)
  std::vector<uint8_t> run_before;  // non-blank lines before i since a blank line (capped)
};

Lines split_lines(std::string_view text) {
  Lines l;
  l.start.push_back(0);
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') l.start.push_back(i + 1);
  const size_t n = l.start.size();
  l.start.push_back(text.size() + 1);  // sentinel: the end of the last line
  l.blank.assign(n, 1);
  for (size_t i = 0; i < n; ++i) {
    size_t e = std::min(l.start[i + 1], text.size());
    for (size_t p = l.start[i]; p < e; ++p)
      if (!is_space(text[p])) {
        l.blank[i] = 0;
        break;
      }
  }
  constexpr uint8_t kCap = 12;
  l.run_after.assign(n + 1, 0);
  for (size_t i = n; i-- > 0;)
    l.run_after[i] =
        l.blank[i] ? 0 : static_cast<uint8_t>(std::min<int>(kCap, l.run_after[i + 1] + 1));
  l.run_before.assign(n, 0);
  for (size_t i = 1; i < n; ++i)
    l.run_before[i] =
        l.blank[i - 1] ? 0 : static_cast<uint8_t>(std::min<int>(kCap, l.run_before[i - 1] + 1));
  return l;
}

class Emitter {
 public:
  Emitter(std::vector<uint32_t>& ids, uint32_t mask) : ids_(ids), mask_(mask) {}
  void num(uint64_t ns, uint64_t value) {
    ids_.push_back(static_cast<uint32_t>(mix(ns * 0x9e3779b97f4a7c15ULL + value) & mask_));
  }
  void hashed(uint64_t ns, uint64_t h) { num(ns, mix(h)); }
  void pair(uint64_t ns, uint64_t a, uint64_t b) { num(ns, mix(a) ^ (b * 0x2545f4914f6cdd1dULL)); }

 private:
  std::vector<uint32_t>& ids_;
  uint32_t mask_;
};

// The visible part of a line: from `begin` (its first non-space byte, or the cut) to its end
// without trailing whitespace.
struct LineView {
  std::string_view s;  // empty for a blank line
  size_t indent = 0;   // columns before `s` (a tab counts 4)
  bool tab = false;
};

LineView line_view(std::string_view text, const Lines& lines, size_t li) {
  LineView v;
  size_t b = lines.start[li], e = std::min(lines.start[li + 1], text.size());
  while (b < e && is_space(text[b])) {
    v.tab = v.tab || text[b] == '\t';
    v.indent += text[b] == '\t' ? 4 : 1;
    ++b;
  }
  while (e > b && is_space(text[e - 1])) --e;
  v.s = text.substr(b, e - b);
  return v;
}

// Kind of numbered heading at the start of s: 0 none, 1 "3." / "3)", 2 "3.2" (dotted), 3 roman
// numeral "IV.", 4 a letter "A." / "a)".
uint64_t numbered_kind(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && is_digit(s[i])) {
    bool dotted = false;
    while (i < s.size() && is_digit(s[i])) {
      while (i < s.size() && is_digit(s[i])) ++i;
      if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
        dotted = true;
        ++i;
      } else {
        break;
      }
    }
    bool closed = i < s.size() && (s[i] == '.' || s[i] == ')');
    if (closed) ++i;
    if (i < s.size() && s[i] != ' ' && s[i] != '\t') return 0;
    if (dotted) return 2;
    return closed ? 1 : 0;
  }
  size_t r = 0;
  while (r < s.size() && std::string_view("IVXLC").find(s[r]) != std::string_view::npos) ++r;
  if (r > 0 && r + 1 < s.size() && (s[r] == '.' || s[r] == ')') && s[r + 1] == ' ') return 3;
  if (s.size() >= 3 && (is_upper(s[0]) || is_lower(s[0])) && (s[1] == '.' || s[1] == ')') &&
      s[2] == ' ')
    return 4;
  return 0;
}

void line_shape(Emitter& e, uint64_t ns, const LineView& v) {
  if (v.s.empty()) {
    e.num(ns + kEmpty, 1);
    return;
  }
  const std::string_view s = v.s;
  static constexpr size_t kLenEdges[] = {3, 10, 20, 40, 60, 80, 120};
  uint64_t len_b = 0;
  while (len_b < 7 && s.size() > kLenEdges[len_b]) ++len_b;
  e.num(ns + kLen, len_b);
  e.num(ns + kIndent,
        std::min<size_t>(v.indent, 3) + (v.indent > 4 ? 1 : 0) + (v.indent > 8 ? 1 : 0));
  if (v.tab) e.num(ns + kTab, 1);
  e.num(ns + kFirstClass, char_class(static_cast<unsigned char>(s.front())));
  e.num(ns + kLastClass, char_class(static_cast<unsigned char>(s.back())));
  size_t first_end = 0;
  while (first_end < s.size() && !is_space(s[first_end])) ++first_end;
  e.hashed(ns + kFirstWord, hash_lower(s.substr(0, first_end)));
  size_t last_begin = s.size();
  while (last_begin > 0 && !is_space(s[last_begin - 1])) --last_begin;
  e.hashed(ns + kLastWord, hash_lower(s.substr(last_begin)));
  e.hashed(ns + kPrefix3, hash64(s.data(), std::min<size_t>(3, s.size())));
  // Words, case: ALL CAPS (letters, none lowercase), Title Case (every word of >= 4 letters
  // capitalised, at least two capitalised words).
  size_t words = 0, letters = 0, lower = 0, long_words = 0, long_capital = 0, capital = 0;
  bool in_word = false;
  size_t word_len = 0;
  bool word_cap = false;
  auto end_word = [&] {
    if (word_len >= 4) {
      ++long_words;
      if (word_cap) ++long_capital;
    }
    if (word_cap) ++capital;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (is_space(s[i])) {
      if (in_word) end_word();
      in_word = false;
      continue;
    }
    if (!in_word) {
      ++words;
      in_word = true;
      word_len = 0;
      word_cap = is_upper(c);
    }
    ++word_len;
    if (is_upper(c) || is_lower(c)) ++letters;
    if (is_lower(c)) ++lower;
  }
  if (in_word) end_word();
  static constexpr size_t kWordEdges[] = {1, 2, 3, 6, 10, 20};
  uint64_t words_b = 0;
  while (words_b < 6 && words > kWordEdges[words_b]) ++words_b;
  e.num(ns + kWords, words_b);
  if (letters >= 2 && lower == 0) e.num(ns + kAllCaps, 1);
  if (capital >= 2 && long_capital == long_words && words <= 12) e.num(ns + kTitle, 1);
  if (uint64_t k = numbered_kind(s)) e.num(ns + kNumbered, k);
}

size_t sorted_overlap(std::vector<uint64_t>& a, std::vector<uint64_t>& b) {
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  size_t n = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++n, ++i, ++j;
    }
  }
  return n;
}

// Per scored candidate: the cosine at each content window, and depth and local rank at the
// middle one.
struct ContentSignals {
  std::vector<std::vector<double>> cosine;  // [window][row]
  std::vector<double> mean;                 // per window, over rows
  std::vector<double> depth, rank;          // per row
  double low_share = 0;  // rows whose largest-window cosine is under 0.05: unrelated neighbours
};

ContentSignals content_signals(std::string_view text, const std::vector<Candidate>& candidates,
                               const std::vector<size_t>& rows, const FeatureConfig& config) {
  ContentSignals out;
  const ContentWords words = content_words(text);
  WindowCosine cosine(words);
  out.cosine.assign(config.content_windows.size(), std::vector<double>(rows.size(), 0.0));
  out.mean.assign(config.content_windows.size(), 0.0);
  size_t wi = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const size_t o = candidates[rows[r]].offset;
    while (wi < words.size() && words.begin[wi] < o) ++wi;
    for (size_t k = 0; k < config.content_windows.size(); ++k) {
      out.cosine[k][r] = cosine(wi, config.content_windows[k]);
      out.mean[k] += out.cosine[k][r];
    }
  }
  for (double& m : out.mean) m /= std::max<size_t>(1, rows.size());
  for (double c : out.cosine.back()) out.low_share += c < 0.05;
  out.low_share /= std::max<size_t>(1, rows.size());
  const std::vector<double>& middle = out.cosine[config.content_windows.size() / 2];
  out.depth = depth_scores(middle, 2 * config.rank_radius);
  out.rank = local_rank(middle, config.rank_radius);
  return out;
}

uint64_t tenths(double x, uint64_t cap) {
  return std::min<uint64_t>(cap, static_cast<uint64_t>(std::max(0.0, x) * 10.0 + 0.5));
}

}  // namespace

std::vector<uint32_t> default_content_windows() { return {10, 30, 100}; }

void check_feature_config(const FeatureConfig& c) {
  auto bad = [](const std::string& what) { throw InputError("segmenter features: " + what); };
  if (c.bucket_bits < 8 || c.bucket_bits > 24)
    bad("bucket_bits " + std::to_string(c.bucket_bits) + " is outside 8..24");
  if (c.window_words > 1024)
    bad("window_words " + std::to_string(c.window_words) + " is over 1024");
  if (c.bigram_words > c.window_words)
    bad("bigram_words (" + std::to_string(c.bigram_words) + ") is greater than window_words (" +
        std::to_string(c.window_words) + ")");
  if (c.cohesion_words > 1024)
    bad("cohesion_words " + std::to_string(c.cohesion_words) + " is over 1024");
  if (c.min_type < CutType::kWord || c.min_type > CutType::kParagraph)
    bad("min_type must be a candidate type (word..paragraph)");
  if (c.content_windows.size() > 4) bad("at most 4 content_windows");
  for (size_t i = 0; i < c.content_windows.size(); ++i) {
    const uint32_t w = c.content_windows[i];
    if (w < 1 || w > 1024) bad("content window " + std::to_string(w) + " is outside 1..1024");
    if (i > 0 && w <= c.content_windows[i - 1]) bad("content_windows must increase");
  }
  if (c.rank_radius < 1 || c.rank_radius > 1024)
    bad("rank_radius " + std::to_string(c.rank_radius) + " is outside 1..1024");
}

CandidateFeatures extract_features(std::string_view text, const std::vector<Candidate>& candidates,
                                   const FeatureConfig& config) {
  check_feature_config(config);
  CandidateFeatures out;
  out.row_begin.push_back(0);
  if (text.empty() || candidates.empty()) return out;
  const uint32_t mask = (1u << config.bucket_bits) - 1;
  const std::vector<Token> toks = tokenize(text);
  const Lines lines = split_lines(text);
  const size_t num_lines = lines.blank.size();

  // Offsets of the strong candidates (paragraph or code), for the distance features.
  std::vector<size_t> strong;
  for (const Candidate& c : candidates)
    if (c.type >= CutType::kCode) strong.push_back(c.offset);

  for (size_t ci = 0; ci < candidates.size(); ++ci)
    if (candidates[ci].type >= config.min_type) out.which.push_back(ci);
  ContentSignals content;
  if (!config.content_windows.empty() && !out.which.empty())
    content = content_signals(text, candidates, out.which, config);

  Emitter e(out.ids, mask);
  std::vector<uint64_t> left_set, right_set;
  size_t li = 0, ti = 0, si = 0;
  for (size_t row = 0; row < out.which.size(); ++row) {
    const size_t ci = out.which[row];
    const Candidate& c = candidates[ci];
    const size_t o = c.offset;
    while (li + 1 < num_lines && lines.start[li + 1] <= o) ++li;
    while (ti < toks.size() && toks[ti].begin < o) ++ti;
    while (si < strong.size() && strong[si] < o) ++si;

    e.num(kBias, 0);
    e.num(kType, static_cast<uint64_t>(c.type));
    e.num(kKinds, c.kinds);
    size_t breaks = 0, ws = o;
    bool form_feed = false;
    while (ws > 0 && is_space(text[ws - 1])) {
      --ws;
      breaks += text[ws] == '\n';
      form_feed = form_feed || text[ws] == '\f';
    }
    breaks = std::min<size_t>(breaks, 4);
    e.num(kBreaks, breaks);
    if (form_feed) e.num(kFormFeed, 1);
    e.num(kPosition, o * 10 / text.size());

    // The line after the cut (from the cut: a cut after a form feed may be mid-line), the next
    // non-blank line after it, and the last non-blank line before the cut.
    LineView next = line_view(text, lines, li);
    if (next.s.data() < text.data() + o) {
      size_t skip = text.data() + o - next.s.data();
      next.s.remove_prefix(std::min(skip, next.s.size()));
    }
    line_shape(e, kNextLine, next);
    size_t n2 = li + 1;
    if (n2 < num_lines && lines.blank[n2]) e.num(kBlankAfterNext, 1);
    while (n2 < num_lines && lines.blank[n2]) ++n2;
    if (n2 < num_lines) line_shape(e, kNext2Line, line_view(text, lines, n2));
    size_t p = li;
    while (p > 0 && lines.blank[p - 1]) --p;
    LineView prev;
    if (p > 0) prev = line_view(text, lines, p - 1);
    line_shape(e, kPrevLine, prev);

    int delta = static_cast<int>(next.indent) - static_cast<int>(prev.indent);
    e.num(kIndentDelta, delta > 0 ? 2 : delta < 0 ? 0 : 1);
    e.num(kTypeBreaksIndent,
          static_cast<uint64_t>(c.type) * 64 + breaks * 8 + std::min<size_t>(next.indent, 7));
    uint64_t prev_last = prev.s.empty() ? 0 : char_class(static_cast<unsigned char>(prev.s.back()));
    uint64_t next_first =
        next.s.empty() ? 0 : char_class(static_cast<unsigned char>(next.s.front()));
    e.pair(kPrevLastNextFirst, prev_last, next_first);
    size_t first_end = 0;
    while (first_end < next.s.size() && !is_space(next.s[first_end])) ++first_end;
    e.pair(kTypeFirstWord, static_cast<uint64_t>(c.type), hash_lower(next.s.substr(0, first_end)));
    e.num(kRunAfter, lines.run_after[li]);
    e.num(kRunBefore, lines.run_before[li]);
    // si: the first strong candidate at or after o.
    size_t prev_strong = si > 0 ? o - strong[si - 1] : o;
    size_t next_i = si < strong.size() && strong[si] == o ? si + 1 : si;
    size_t next_strong = next_i < strong.size() ? strong[next_i] - o : text.size() - o;
    e.num(kPrevStrong, log2_bucket(prev_strong, 20));
    e.num(kNextStrong, log2_bucket(next_strong, 20));

    // Bags of words on both sides.
    const size_t w = config.window_words;
    const size_t left_begin = ti > w ? ti - w : 0;
    for (size_t k = left_begin; k < ti; ++k) e.hashed(kLeftWord, toks[k].hash);
    const size_t right_end = std::min(toks.size(), ti + w);
    for (size_t k = ti; k < right_end; ++k) e.hashed(kRightWord, toks[k].hash);
    const size_t bw = config.bigram_words;
    for (size_t k = 0; k + 1 < bw && ti >= k + 2; ++k)
      e.pair(kLeftBigram, toks[ti - k - 2].hash, toks[ti - k - 1].hash);
    for (size_t k = 0; k + 1 < bw && ti + k + 1 < toks.size(); ++k)
      e.pair(kRightBigram, toks[ti + k].hash, toks[ti + k + 1].hash);

    // Lexical cohesion.
    if (config.cohesion_words > 0) {
      left_set.clear();
      right_set.clear();
      const size_t cw = config.cohesion_words;
      for (size_t k = ti > cw ? ti - cw : 0; k < ti; ++k)
        if (toks[k].content) left_set.push_back(toks[k].hash);
      for (size_t k = ti; k < std::min(toks.size(), ti + cw); ++k)
        if (toks[k].content) right_set.push_back(toks[k].hash);
      size_t shared = sorted_overlap(left_set, right_set);
      size_t smaller = std::min(left_set.size(), right_set.size());
      e.num(kCohesion, std::min<size_t>(shared, 8));
      e.num(kCohesionShare, smaller == 0 ? 11 : shared * 10 / smaller);
    }

    if (!content.cosine.empty()) {
      const size_t windows = content.cosine.size(), middle = windows / 2;
      for (size_t k = 0; k < windows; ++k)
        e.num(kContentCosine + k, tenths(content.cosine[k][row], 10));
      const double rel = content.cosine[middle][row] - content.mean[middle];
      e.num(kContentCosineRel,
            static_cast<uint64_t>(std::clamp(static_cast<int>(std::lround(rel * 10)), -6, 6) + 6));
      const uint64_t cos_b = tenths(content.cosine[middle][row], 10);
      const uint64_t depth_b = tenths(content.depth[row], 12);
      const uint64_t rank_b = tenths(content.rank[row], 10);
      e.num(kContentDepth, depth_b);
      e.num(kContentRank, rank_b);
      const uint64_t type = static_cast<uint64_t>(c.type) * 8 + breaks;
      e.pair(kContentCosineType, cos_b, type);
      e.pair(kContentRankType, rank_b, type);
      e.pair(kContentRankDepth, rank_b, depth_b);
      e.pair(kContentSmallLarge, tenths(content.cosine.front()[row], 10),
             tenths(content.cosine.back()[row], 10));
      // The text as a whole: one subject throughout (high mean cosine, few unrelated
      // neighbourhoods) or many (a concatenation), crossed with the local evidence.
      e.pair(kContentTextMean, tenths(content.mean[middle], 10), cos_b);
      e.pair(kContentTextLow, tenths(content.low_share * 2.0, 10), rank_b * 64 + type);
    }
    out.row_begin.push_back(out.ids.size());
  }
  return out;
}

}  // namespace blockattn::segment
