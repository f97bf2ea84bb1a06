#include "eval/perplexity_eval.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "model/model.h"

namespace blockattn::eval {

std::vector<CategoryLoss> eval_perplexity(const Model& model, const Tokenizer& tokenizer,
                                          const std::vector<data::LabeledText>& documents,
                                          const PerplexityOptions& o,
                                          const std::function<void(size_t, size_t)>& progress) {
  const ModelConfig& c = model.config();
  const int64_t window =
      o.window > 0 ? o.window : std::min<int64_t>(c.max_position_embeddings, 2048);
  if (window < 2) throw InputError("perplexity window must be at least 2 tokens");
  if (window > c.max_position_embeddings)
    throw InputError("perplexity window " + std::to_string(window) +
                     " exceeds the model's context of " +
                     std::to_string(c.max_position_embeddings) + " tokens");
  const int32_t eos = c.eos_token_ids.empty() ? -1 : c.eos_token_ids[0];

  struct Sum {
    uint64_t documents = 0, tokens = 0;
    double nll = 0;
  };
  std::map<std::string, Sum> sums;
  torch::NoGradGuard no_grad;
  for (size_t d = 0; d < documents.size(); ++d) {
    Sum& sum = sums[documents[d].category];
    if (o.max_tokens_per_category > 0 && sum.tokens >= o.max_tokens_per_category) continue;
    std::vector<int32_t> ids = tokenizer.encode(documents[d].text);
    if (eos >= 0) ids.push_back(eos);
    for (size_t begin = 0; begin + 1 < ids.size(); begin += window) {
      const int64_t n = std::min<int64_t>(window, static_cast<int64_t>(ids.size() - begin));
      if (n < 2) break;
      torch::Tensor x =
          torch::tensor(std::vector<int64_t>(ids.begin() + begin, ids.begin() + begin + n),
                        torch::kInt64)
              .to(model.device())
              .unsqueeze(0);                                                 // [1, n]
      torch::Tensor logits = model.forward_train(x.narrow(1, 0, n - 1))[0];  // [n-1, V]
      torch::Tensor nll = torch::nn::functional::cross_entropy(
          logits, x[0].narrow(0, 1, n - 1),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
      sum.nll += nll.item<double>();
      sum.tokens += static_cast<uint64_t>(n - 1);
    }
    ++sum.documents;
    if (progress) progress(d + 1, documents.size());
  }
  std::vector<CategoryLoss> out;
  Sum all;
  for (const auto& [name, s] : sums) {
    if (s.tokens == 0) continue;
    out.push_back({name, s.documents, s.tokens, s.nll / s.tokens, std::exp(s.nll / s.tokens)});
    all.documents += s.documents;
    all.tokens += s.tokens;
    all.nll += s.nll;
  }
  if (all.tokens == 0) throw InputError("no document yields a token to predict");
  out.push_back(
      {"all", all.documents, all.tokens, all.nll / all.tokens, std::exp(all.nll / all.tokens)});
  return out;
}

}  // namespace blockattn::eval
