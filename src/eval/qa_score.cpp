#include "eval/qa_score.h"

#include <algorithm>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "model/model.h"
#include "train/block_layout.h"

namespace blockattn::eval {

QaScoreOptions sink_options_of(const Model& model, const Tokenizer& tokenizer, bool block_mode) {
  QaScoreOptions o;
  o.block_mode = block_mode;
  const SinkConfig sinks = resolve_sinks(-1, model.config(), tokenizer);
  o.sink_tokens = sinks.count;
  o.sink_token_id = sinks.token_id;
  return o;
}

std::vector<bool> score_qa(const Model& model, const Tokenizer& tokenizer, const ChatFormat& format,
                           const std::vector<QaItem>& items, const QaScoreOptions& o,
                           const std::function<void(size_t)>& progress,
                           std::vector<std::string>* argmax_answers) {
  torch::NoGradGuard no_grad;
  std::vector<bool> correct(items.size(), false);
  if (argmax_answers) argmax_answers->assign(items.size(), std::string());
  const int64_t context = model.config().max_position_embeddings;
  for (size_t first = 0; first < items.size();
       first += static_cast<size_t>(std::max<int64_t>(1, o.batch_rows))) {
    const size_t last =
        std::min(items.size(), first + static_cast<size_t>(std::max<int64_t>(1, o.batch_rows)));
    std::vector<train::BlockSample> samples(last - first);
    std::vector<train::SampleLayout> layouts;
    std::vector<const train::BlockSample*> sample_ptrs;
    std::vector<std::vector<size_t>> rows;
    std::vector<size_t> answer_tokens;
    for (size_t i = first; i < last; ++i) {
      train::BlockSample& s = samples[i - first];
      for (const std::string& b : items[i].blocks) s.blocks.push_back(tokenizer.encode(b));
      std::vector<int32_t> final_ids = tokenizer.encode(format.final_text(items[i].question));
      const std::vector<int32_t> answer = tokenizer.encode(format.answer_text(items[i].answer));
      final_ids.insert(final_ids.end(), answer.begin(), answer.end());
      s.blocks.push_back(std::move(final_ids));
      answer_tokens.push_back(answer.size());
      train::LayoutOptions lo;
      lo.block_mode = o.block_mode;
      lo.sink_tokens = o.sink_tokens;
      lo.sink_token_id = o.sink_token_id;
      layouts.push_back(train::lay_out_sample(s, lo));
      if (static_cast<int64_t>(layouts.back().ids.size()) > context)
        throw InputError("QA item " + items[i].id + " needs " +
                         std::to_string(layouts.back().ids.size()) +
                         " positions, more than the model's context of " + std::to_string(context));
      sample_ptrs.push_back(&s);
      rows.push_back({rows.size()});
    }
    train::PackedBatch b = train::pack_rows(layouts, sample_ptrs, rows, model.device());
    torch::Tensor logits = model.forward_train(b.ids, b.mask, b.positions);  // [R, T, V]
    torch::Tensor predicted =                                                // [N]
        logits.view({-1, logits.size(-1)})
            .index_select(0, b.student_flat)
            .argmax(-1)
            .to(torch::kCPU);
    torch::Tensor hit = predicted == b.targets.to(torch::kCPU);  // [N] bool
    const bool* h = hit.data_ptr<bool>();
    torch::Tensor predicted_ids = predicted.to(torch::kLong).contiguous();
    const int64_t* pid = predicted_ids.data_ptr<int64_t>();
    int64_t at = 0;
    for (size_t r = 0; r < layouts.size(); ++r) {
      // Each row's predictions are its final block's; the answer's are the last ones.
      const int64_t n = static_cast<int64_t>(layouts[r].student_index.size());
      const int64_t a = static_cast<int64_t>(answer_tokens[r]);
      correct[first + r] =
          a > 0 && std::all_of(h + at + n - a, h + at + n, [](bool x) { return x; });
      if (argmax_answers) {
        std::vector<int32_t> ids;
        for (int64_t k = at + n - a; k < at + n; ++k) ids.push_back(static_cast<int32_t>(pid[k]));
        (*argmax_answers)[first + r] = tokenizer.decode(ids, /*skip_special_tokens=*/true);
      }
      at += n;
    }
    if (progress) progress(last);
  }
  return correct;
}

}  // namespace blockattn::eval
