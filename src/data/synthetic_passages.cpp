#include "data/synthetic_passages.h"

#include <algorithm>

#include "blockattn/error.h"
#include "core/log.h"

namespace blockattn::data {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_closer(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }

}  // namespace

size_t approx_token_count(std::string_view text) { return (text.size() + 3) / 4; }

std::vector<std::pair<size_t, size_t>> sentence_spans(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> spans;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i < n && is_space(text[i])) ++i;
    if (i == n) break;
    size_t begin = i, end = n;
    for (size_t j = i; j < n; ++j) {
      if (text[j] == '\n') {
        end = j;
        break;
      }
      if (text[j] == '.' || text[j] == '!' || text[j] == '?') {
        size_t k = j + 1;
        while (k < n && is_closer(text[k])) ++k;
        if (k == n || is_space(text[k])) {
          end = k;
          break;
        }
      }
    }
    size_t trimmed = end;
    while (trimmed > begin && is_space(text[trimmed - 1])) --trimmed;
    if (trimmed > begin) spans.emplace_back(begin, trimmed);
    i = end;
  }
  return spans;
}

PassageSampler::PassageSampler(const std::vector<std::string>& documents, Split split, size_t min_documents,
                               TokenCounter counter)
    : counter_(counter ? std::move(counter) : TokenCounter(approx_token_count)) {
  std::vector<Doc> train, eval;
  for (const std::string& text : documents) {
    Doc doc{&text, sentence_spans(text)};
    if (doc.spans.empty()) continue;
    (label_hash(text) % 10 == 0 ? eval : train).push_back(std::move(doc));
  }
  if (train.empty() && eval.empty()) throw InputError("the corpus has no text to cut passages from");
  if (train.size() < min_documents || eval.size() < min_documents) {
    BA_WARN("corpus too small to hold out evaluation documents (" << train.size() + eval.size()
                                                                   << " documents): both splits draw passages from all of them");
    docs_ = std::move(train);
    docs_.insert(docs_.end(), std::make_move_iterator(eval.begin()), std::make_move_iterator(eval.end()));
  } else {
    docs_ = split == Split::kTrain ? std::move(train) : std::move(eval);
  }
}

// Whole sentences around `first`: forward until about `target` tokens, then backward if the
// document ended first. A lone sentence longer than 3/2 target is cut at a space instead.
std::string PassageSampler::take_run(const Doc& doc, size_t first, size_t target) const {
  const std::string& text = *doc.text;
  const size_t max = target + target / 2;
  auto span_tokens = [&](size_t s) {
    return counter_(std::string_view(text).substr(doc.spans[s].first, doc.spans[s].second - doc.spans[s].first));
  };
  size_t t = span_tokens(first);
  if (t > max) {
    std::string_view s = std::string_view(text).substr(doc.spans[first].first, doc.spans[first].second - doc.spans[first].first);
    size_t cut = s.size() * target / t;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    size_t space = s.rfind(' ', cut);
    return std::string(s.substr(0, space == std::string_view::npos || space == 0 ? cut : space));
  }
  size_t lo = first, hi = first, total = t;
  while (total < target && hi + 1 < doc.spans.size() && total + (t = span_tokens(hi + 1)) <= max) {
    ++hi;
    total += t;
  }
  while (total < target && lo > 0 && total + (t = span_tokens(lo - 1)) <= max) {
    --lo;
    total += t;
  }
  // The separators between sentences count too: trim from the end while the whole is too long.
  auto run = [&] { return text.substr(doc.spans[lo].first, doc.spans[hi].second - doc.spans[lo].first); };
  std::string out = run();
  while (hi > lo && counter_(out) > max) {
    --hi;
    out = run();
  }
  return out;
}

std::string PassageSampler::sample(SynthRng& rng, size_t target, std::vector<size_t>* used) const {
  constexpr int kAttempts = 64;
  std::string best;
  size_t best_doc = 0, best_tokens = 0;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    size_t d = rng.below(docs_.size());
    // Another passage of a document already in this item only once fresh ones are hard to find.
    if (attempt < kAttempts / 2 && std::find(used->begin(), used->end(), d) != used->end()) continue;
    std::string run = take_run(docs_[d], rng.below(docs_[d].spans.size()), target);
    size_t tokens = counter_(run);
    if (tokens > best_tokens) {
      best = std::move(run);
      best_doc = d;
      best_tokens = tokens;
    }
    if (best_tokens >= target / 2) break;
  }
  used->push_back(best_doc);
  return best;
}

}  // namespace blockattn::data
