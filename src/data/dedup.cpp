#include "data/dedup.h"

#include <cstdint>
#include <limits>
#include <map>
#include <unordered_map>

#include "core/hash.h"

namespace blockattn::data {

namespace {

constexpr int kBands = 16, kRows = kMinHashSize / kBands;

// splitmix64 finaliser: cheap independent-looking permutations of one shingle hash.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

}  // namespace

std::vector<uint64_t> minhash_signature(std::string_view text) {
  std::vector<std::string_view> words;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && space(text[i])) ++i;
    size_t s = i;
    while (i < text.size() && !space(text[i])) ++i;
    if (i > s) words.push_back(text.substr(s, i - s));
  }
  std::vector<uint64_t> sig(kMinHashSize, std::numeric_limits<uint64_t>::max());
  const size_t k = 5;
  size_t n = words.size() >= k ? words.size() - k + 1 : (words.empty() ? 0 : 1);
  for (size_t i = 0; i < n; ++i) {
    // Hash the shingle as the bytes from its first word to its last (original spacing aside,
    // word hashes combined so reflowed text still matches).
    uint64_t h = 0;
    for (size_t j = i; j < std::min(i + k, words.size()); ++j) h = mix(h ^ hash64(words[j].data(), words[j].size()));
    for (int p = 0; p < kMinHashSize; ++p) {
      uint64_t v = mix(h ^ (0xA0761D6478BD642Full * static_cast<uint64_t>(p + 1)));
      if (v < sig[p]) sig[p] = v;
    }
  }
  return sig;
}

double signature_similarity(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  int same = 0;
  for (int p = 0; p < kMinHashSize; ++p) same += a[p] == b[p];
  return static_cast<double>(same) / kMinHashSize;
}

DedupResult deduplicate(const std::vector<Document>& docs, double threshold) {
  DedupResult r;
  r.keep.assign(docs.size(), true);
  std::map<std::pair<uint64_t, uint64_t>, size_t> exact;  // text hash -> first index
  // Band bucket -> kept documents in it. Only looked up, never iterated into output.
  std::unordered_map<uint64_t, std::vector<size_t>> buckets;
  std::vector<std::vector<uint64_t>> sigs(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    Hash128 h = hash128(docs[i].text);
    auto [it, inserted] = exact.emplace(std::make_pair(h.lo, h.hi), i);
    if (!inserted) {
      r.keep[i] = false;
      ++r.exact_duplicates;
      r.dropped.emplace_back(docs[i].id, docs[it->second].id);
      continue;
    }
    sigs[i] = minhash_signature(docs[i].text);
    uint64_t band_keys[kBands];
    size_t match = SIZE_MAX;
    for (int band = 0; band < kBands && match == SIZE_MAX; ++band) {
      uint64_t key = mix(static_cast<uint64_t>(band));
      for (int row = 0; row < kRows; ++row) key = mix(key ^ sigs[i][band * kRows + row]);
      band_keys[band] = key;
      auto b = buckets.find(key);
      if (b == buckets.end()) continue;
      for (size_t j : b->second)
        if (signature_similarity(sigs[i], sigs[j]) >= threshold) {
          match = j;
          break;
        }
    }
    if (match != SIZE_MAX) {
      r.keep[i] = false;
      ++r.near_duplicates;
      r.dropped.emplace_back(docs[i].id, docs[match].id);
      sigs[i].clear();
      continue;
    }
    for (int band = 0; band < kBands; ++band) buckets[band_keys[band]].push_back(i);
  }
  return r;
}

}  // namespace blockattn::data
