#include "eval/final_block_eval.h"

#include <algorithm>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "eval/qa_score.h"
#include "model/model.h"
#include "train/block_layout.h"

namespace blockattn::eval {

namespace {

// Summed NLL of the final block's tokens after its first, laid out as the engine would (the
// model's sinks included) in block or full attention.
double final_block_nll(const Model& model, const train::BlockSample& sample,
                       const QaScoreOptions& sinks, bool block) {
  train::LayoutOptions lo;
  lo.block_mode = block;
  lo.sink_tokens = sinks.sink_tokens;
  lo.sink_token_id = sinks.sink_token_id;
  const train::SampleLayout layout = train::lay_out_sample(sample, lo);
  train::PackedBatch b = train::pack_rows({layout}, {&sample}, {{0}}, model.device());
  torch::Tensor logits = model.forward_train(b.ids, b.mask, b.positions);  // [1, T, V]
  torch::Tensor pred =
      logits.view({-1, logits.size(-1)}).index_select(0, b.student_flat);  // [N, V]
  return torch::nn::functional::cross_entropy(
             pred, b.targets,
             torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
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
  const QaScoreOptions sinks = sink_options_of(model, tokenizer, true);
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
    const int64_t sinks_per_block = model.config().block_sink_tokens;
    while (first > 0 && !blocks[first - 1].empty() &&
           used + static_cast<int64_t>(blocks[first - 1].size()) + sinks_per_block <= o.window) {
      --first;
      used += static_cast<int64_t>(blocks[first].size()) + sinks_per_block;
    }
    if (final_block.size() < std::max<size_t>(o.min_final_tokens, 2) || used > o.window ||
        first == blocks.size() - 1) {
      ++r.skipped;
      if (progress) progress(n + 1, instances.size());
      continue;
    }
    train::BlockSample sample;
    sample.blocks.assign(blocks.begin() + static_cast<std::ptrdiff_t>(first), blocks.end());
    const size_t context_blocks = sample.blocks.size() - 1;
    const double full = final_block_nll(model, sample, sinks, /*block=*/false);
    const double block = final_block_nll(model, sample, sinks, /*block=*/true);
    for (FinalBlockLoss* l : {&r.by_category[inst.category], &r.all}) {
      ++l->instances;
      l->tokens += final_block.size() - 1;
      l->blocks += context_blocks;
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
