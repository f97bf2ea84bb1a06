// The "semantic chunking" baseline of `blockattn segment --method semantic`: embed the text
// around every sentence-or-stronger candidate cut with the reference model's hidden states and
// score the cut by how far apart (cosine distance) the two sides are.
//
// As in the common semantic chunkers (consecutive-window distance, percentile threshold): the
// text is cut into units at candidates of type sentence, line, code or paragraph; each unit's
// embedding is the mean of its tokens' final hidden states (one causal pass over the text in
// windows of `window_tokens`); the two sides of a cut are the `buffer` units before and after
// it; a candidate's score is the percentile rank of its distance among the text's eligible
// candidates, so `threshold` = 0.95 cuts at the 5% most distant ones. Word-level candidates
// score 0.
#pragma once

#include <cstdint>
#include <memory>

#include "segment/segment.h"

namespace blockattn {
class Model;
class Tokenizer;
}  // namespace blockattn

namespace blockattn::embed {

struct SemanticOptions {
  int64_t window_tokens = 1024;  // tokens per model pass (<= the model's context)
  int buffer = 1;                // units on each side of a cut
};

// The model and tokenizer must belong together and outlive the scorer's use.
segment::Scorer make_semantic_scorer(std::shared_ptr<const Model> model,
                                     std::shared_ptr<const Tokenizer> tokenizer,
                                     const SemanticOptions& options = {});

}  // namespace blockattn::embed
