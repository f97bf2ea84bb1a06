// Language-modelling loss of held-out documents, per category (`blockattn eval --task
// perplexity`): each document (+ EOS) is cut into consecutive windows of the model's context
// (or `window` tokens), each window scored on its own with full causal attention.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/synthetic_corpus.h"

namespace blockattn {
class Model;
class Tokenizer;
}  // namespace blockattn

namespace blockattn::eval {

struct PerplexityOptions {
  int64_t window = 0;  // tokens per window; 0: min(context length, 2048)
  uint64_t max_tokens_per_category =
      0;  // 0: all; else stop adding documents of a category beyond it
};

struct CategoryLoss {
  std::string category;  // "" sorts first: documents without one; "all" is the token-weighted total
  uint64_t documents = 0, tokens = 0;  // tokens predicted
  double loss = 0;                     // mean next-token cross-entropy, nats
  double perplexity = 0;               // exp(loss)
};

// Categories in name order, then "all". InputError when no document yields a prediction.
std::vector<CategoryLoss> eval_perplexity(const Model& model, const Tokenizer& tokenizer,
                                          const std::vector<data::LabeledText>& documents,
                                          const PerplexityOptions& options,
                                          const std::function<void(size_t, size_t)>& progress = {});

}  // namespace blockattn::eval
