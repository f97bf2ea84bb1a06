// Duplicate removal over a list of documents, deterministic for a given input order:
//   exact  the same text (XXH3-128), and
//   near   MinHash over word 5-shingles (64 hashes, LSH 16 bands x 4 rows); a candidate is a
//          duplicate when the signatures agree on >= `threshold` of the hashes (estimated
//          Jaccard similarity).
// The first document in input order is kept; later copies are dropped.
#pragma once

#include <cstdint>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "data/document.h"

namespace blockattn::data {

struct DedupResult {
  std::vector<bool> keep;        // per input document
  size_t exact_duplicates = 0;
  size_t near_duplicates = 0;
  std::vector<std::pair<std::string, std::string>> dropped;  // (dropped id, kept id)
};

constexpr int kMinHashSize = 64;

// MinHash signature of the text's word 5-shingles (words = maximal runs of non-space bytes).
// Texts with fewer than 5 words get one shingle of all their words.
std::vector<uint64_t> minhash_signature(std::string_view text);

// Fraction of equal positions of two signatures: the estimated Jaccard similarity.
double signature_similarity(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b);

DedupResult deduplicate(const std::vector<Document>& docs, double threshold = 0.8);

}  // namespace blockattn::data
