#include "eval/final_block_eval.h"

#include <algorithm>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "model/model.h"
#include "train/block_mask.h"

namespace blockattn::eval {

namespace {

// Summed NLL of tokens [from, T) of `ids` ([1, T]) given logits [T, V] of the positions before.
double nll_from(const torch::Tensor& logits, const torch::Tensor& ids, int64_t from) {
  const int64_t T = ids.size(1);
  torch::Tensor pred = logits.narrow(0, from - 1, T - from);  // [T-from, V]
  torch::Tensor target = ids[0].narrow(0, from, T - from);    // [T-from]
  return torch::nn::functional::cross_entropy(
             pred, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
      .item<double>();
}

}  // namespace

FinalBlockResult eval_final_block(const Model& model, const Tokenizer& tokenizer,
                                  const std::vector<segment::SegInstance>& instances,
                                  const FinalBlockOptions& o,
                                  const std::function<void(size_t, size_t)>& progress) {
  if (o.window < 4 || o.window > model.config().max_position_embeddings)
    throw InputError("final-block window of " + std::to_string(o.window) +
                     " tokens: need 4..context (" +
                     std::to_string(model.config().max_position_embeddings) + ")");
  FinalBlockResult r;
  torch::NoGradGuard no_grad;
  for (size_t n = 0; n < instances.size(); ++n) {
    const segment::SegInstance& inst = instances[n];
    std::vector<size_t> starts{0};
    starts.insert(starts.end(), inst.boundaries.begin(), inst.boundaries.end());
    std::vector<std::vector<int32_t>> blocks;
    for (size_t b = 0; b < starts.size(); ++b) {
      const size_t end = b + 1 < starts.size() ? starts[b + 1] : inst.text.size();
      blocks.push_back(
          tokenizer.encode(std::string_view(inst.text).substr(starts[b], end - starts[b])));
    }
    const std::vector<int32_t>& final_block = blocks.back();
    // Context: the nearest preceding blocks that fit with the final block in the window.
    int64_t used = static_cast<int64_t>(final_block.size());
    size_t first = blocks.size() - 1;
    while (first > 0 && !blocks[first - 1].empty() &&
           used + static_cast<int64_t>(blocks[first - 1].size()) <= o.window) {
      --first;
      used += static_cast<int64_t>(blocks[first].size());
    }
    if (final_block.size() < std::max<size_t>(o.min_final_tokens, 2) || used > o.window ||
        first == blocks.size() - 1) {
      ++r.skipped;
      if (progress) progress(n + 1, instances.size());
      continue;
    }
    std::vector<int64_t> flat, lengths;
    for (size_t b = first; b < blocks.size(); ++b) {
      flat.insert(flat.end(), blocks[b].begin(), blocks[b].end());
      lengths.push_back(static_cast<int64_t>(blocks[b].size()));
    }
    const int64_t final_start = static_cast<int64_t>(flat.size() - final_block.size());
    torch::Tensor ids =
        torch::tensor(flat, torch::kInt64).unsqueeze(0).to(model.device());     // [1, T]
    torch::Tensor mask = train::block_attention_mask(lengths, model.device());  // [T, T]
    const double full = nll_from(model.forward_train(ids)[0], ids, final_start + 1);
    const double block = nll_from(model.forward_train(ids, mask)[0], ids, final_start + 1);
    for (FinalBlockLoss* l : {&r.by_category[inst.category], &r.all}) {
      ++l->instances;
      l->tokens += final_block.size() - 1;
      l->blocks += lengths.size() - 1;
      l->full_nll += full;
      l->block_nll += block;
    }
    if (progress) progress(n + 1, instances.size());
  }
  if (r.all.instances == 0)
    throw InputError("no instance has a final block of at least " +
                     std::to_string(o.min_final_tokens) + " tokens with context that fits");
  return r;
}

}  // namespace blockattn::eval
