// Passages of real text for the synthetic tasks: contiguous runs of whole sentences (or lines)
// from corpus documents, about a target number of tokens each.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/name_pools.h"
#include "data/synthetic_rng.h"

namespace blockattn::data {

// Tokens in a piece of text. Without a tokenizer: bytes / 4 rounded up (English under a
// 8k-16k BPE vocabulary averages about four bytes a token).
using TokenCounter = std::function<size_t(std::string_view)>;
size_t approx_token_count(std::string_view text);

// [begin, end) byte ranges of the sentences of `text`: a sentence ends after '.', '!' or '?'
// (and any closing quote or bracket) followed by whitespace, or at a line break. Leading
// whitespace is not part of a sentence; empty sentences are left out.
std::vector<std::pair<size_t, size_t>> sentence_spans(std::string_view text);

class PassageSampler {
 public:
  // Eval draws passages from documents whose content hash is 0 mod 10, train from the rest, so
  // evaluation text is unseen too; a corpus too small to give both splits `min_documents`
  // documents is shared by both. Throws InputError when no document has any text.
  PassageSampler(const std::vector<std::string>& documents, Split split, size_t min_documents,
                 TokenCounter counter);

  // A passage of about `target` tokens: between target/2 and 3*target/2 unless the documents
  // are all shorter (then the longest run found). Avoids the documents in `used` while it can,
  // and adds its own.
  std::string sample(SynthRng& rng, size_t target, std::vector<size_t>* used) const;

  size_t tokens(std::string_view text) const { return counter_(text); }
  size_t documents() const { return docs_.size(); }

 private:
  struct Doc {
    const std::string* text;
    std::vector<std::pair<size_t, size_t>> spans;
  };
  std::string take_run(const Doc& doc, size_t first, size_t target) const;

  std::vector<Doc> docs_;
  TokenCounter counter_;
};

}  // namespace blockattn::data
