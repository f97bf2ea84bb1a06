#include "segment/cohesion.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "blockattn/error.h"
#include "core/hash.h"

namespace blockattn::segment {

namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

}  // namespace

size_t ContentWords::word_at(size_t o) const {
  return static_cast<size_t>(std::lower_bound(begin.begin(), begin.end(), o) - begin.begin());
}

ContentWords content_words(std::string_view text, size_t idf_chunk_words) {
  if (idf_chunk_words == 0) throw InputError("cohesion: idf_chunk_words must be >= 1");
  ContentWords out;
  std::unordered_map<uint64_t, uint32_t> ids;
  char lower[32];
  for (size_t i = 0; i < text.size();) {
    if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    bool digits = true;
    while (j < text.size() && is_word_byte(static_cast<unsigned char>(text[j]))) {
      digits = digits && text[j] >= '0' && text[j] <= '9';
      ++j;
    }
    if (j - i >= 3 && !digits) {
      const size_t n = std::min(j - i, sizeof lower);
      for (size_t k = 0; k < n; ++k) {
        const char c = text[i + k];
        lower[k] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
      }
      const uint64_t h = hash64(lower, n);
      auto [it, added] = ids.emplace(h, static_cast<uint32_t>(ids.size()));
      (void)added;
      out.begin.push_back(i);
      out.term.push_back(it->second);
    }
    i = j;
  }
  out.vocabulary = ids.size();
  // Document frequency over consecutive chunks of idf_chunk_words words.
  std::vector<uint32_t> df(out.vocabulary, 0), last_chunk(out.vocabulary, UINT32_MAX);
  const size_t chunks = std::max<size_t>(1, (out.size() + idf_chunk_words - 1) / idf_chunk_words);
  for (size_t w = 0; w < out.size(); ++w) {
    const uint32_t chunk = static_cast<uint32_t>(w / idf_chunk_words);
    const uint32_t t = out.term[w];
    if (last_chunk[t] != chunk) {
      last_chunk[t] = chunk;
      ++df[t];
    }
  }
  out.idf.resize(out.vocabulary);
  for (size_t t = 0; t < out.vocabulary; ++t)
    out.idf[t] = static_cast<float>(std::log(static_cast<double>(chunks) / df[t]) + 1.0);
  return out;
}

WindowCosine::WindowCosine(const ContentWords& words)
    : words_(words), left_count_(words.vocabulary, 0), right_count_(words.vocabulary, 0) {}

double WindowCosine::operator()(size_t at, size_t window) {
  const size_t n = words_.size();
  at = std::min(at, n);
  const size_t lo = at > window ? at - window : 0, hi = std::min(n, at + window);
  if (lo == at || hi == at) return 0.0;
  // Squared norms and the dot product grow incrementally: a term whose count goes from c to
  // c + 1 adds w^2 (2c + 1) to its side's norm, and w^2 * (the other side's count) to the dot.
  double left_sq = 0, right_sq = 0, dot = 0;
  for (size_t k = lo; k < at; ++k) {
    const uint32_t t = words_.term[k];
    const double w2 = static_cast<double>(words_.idf[t]) * words_.idf[t];
    left_sq += w2 * (2.0 * left_count_[t] + 1.0);
    ++left_count_[t];
  }
  for (size_t k = at; k < hi; ++k) {
    const uint32_t t = words_.term[k];
    const double w2 = static_cast<double>(words_.idf[t]) * words_.idf[t];
    right_sq += w2 * (2.0 * right_count_[t] + 1.0);
    dot += w2 * left_count_[t];
    ++right_count_[t];
  }
  for (size_t k = lo; k < at; ++k) left_count_[words_.term[k]] = 0;
  for (size_t k = at; k < hi; ++k) right_count_[words_.term[k]] = 0;
  return dot / std::sqrt(left_sq * right_sq);
}

std::vector<double> depth_scores(const std::vector<double>& s, size_t max_climb) {
  std::vector<double> depth(s.size(), 0.0);
  for (size_t i = 0; i < s.size(); ++i) {
    double left = s[i], right = s[i];
    for (size_t k = i, steps = 0; k > 0 && s[k - 1] >= left && steps < max_climb; --k, ++steps)
      left = s[k - 1];
    for (size_t k = i + 1, steps = 0; k < s.size() && s[k] >= right && steps < max_climb;
         ++k, ++steps)
      right = s[k];
    depth[i] = (left - s[i]) + (right - s[i]);
  }
  return depth;
}

std::vector<double> local_rank(const std::vector<double>& s, size_t radius) {
  std::vector<double> rank(s.size(), 0.0);
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t lo = i > radius ? i - radius : 0, hi = std::min(s.size(), i + radius + 1);
    size_t greater = 0;
    for (size_t k = lo; k < hi; ++k) greater += k != i && s[k] > s[i];
    const size_t others = hi - lo - 1;
    rank[i] = others == 0 ? 0.0 : static_cast<double>(greater) / static_cast<double>(others);
  }
  return rank;
}

}  // namespace blockattn::segment
