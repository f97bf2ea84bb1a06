#include "attention/prompt_layout.h"

#include "blockattn/error.h"
#include "blockattn/model_config.h"
#include "blockattn/tokenizer.h"

namespace blockattn {

std::vector<int32_t> PromptLayout::flat() const {
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(total_tokens()));
  for (const PromptBlock& b : blocks) out.insert(out.end(), b.tokens.begin(), b.tokens.end());
  out.insert(out.end(), final_tokens.begin(), final_tokens.end());
  return out;
}

PromptLayout make_prompt_layout(const std::vector<std::vector<int32_t>>& blocks,
                                std::vector<int32_t> final_tokens, const SinkConfig& sinks) {
  PromptLayout layout;
  int64_t offset = 0;
  for (const auto& b : blocks) {
    PromptBlock pb;
    pb.tokens.assign(static_cast<size_t>(sinks.count), sinks.token_id);
    pb.tokens.insert(pb.tokens.end(), b.begin(), b.end());
    pb.offset = offset;
    offset += static_cast<int64_t>(pb.tokens.size());
    layout.blocks.push_back(std::move(pb));
  }
  layout.final_tokens = std::move(final_tokens);
  layout.final_offset = offset;
  return layout;
}

SinkConfig resolve_sinks(int32_t requested_count, const ModelConfig& mc, const Tokenizer& tok) {
  SinkConfig s;
  s.count = requested_count >= 0 ? requested_count : mc.block_sink_tokens;
  if (s.count > 64)
    throw InputError("--sinks " + std::to_string(s.count) + " is out of range (0..64)");
  if (mc.block_sink_token_id) {
    s.token_id = *mc.block_sink_token_id;
  } else if (auto id = tok.token_to_id("<|block_sink|>")) {
    s.token_id = *id;
  } else if (tok.bos_id()) {
    s.token_id = *tok.bos_id();
  } else if (tok.eos_id()) {
    s.token_id = *tok.eos_id();
  }
  return s;
}

size_t BlockSample::content_tokens() const {
  size_t n = 0;
  for (const auto& b : blocks) n += b.size();
  return n;
}

std::vector<int64_t> content_ids(const BlockSample& sample) {
  std::vector<int64_t> ids;
  ids.reserve(sample.content_tokens());
  for (const auto& b : sample.blocks) ids.insert(ids.end(), b.begin(), b.end());
  return ids;
}

namespace {

void check_sample(const BlockSample& sample, const LayoutOptions& o) {
  const size_t n_blocks = sample.blocks.size();
  if (n_blocks < 2) throw InputError("a block sample needs at least 2 blocks (context and final)");
  for (size_t b = 0; b < n_blocks; ++b)
    if (sample.blocks[b].empty())
      throw InputError("block " + std::to_string(b) + " of a sample is empty");
  if (o.sink_tokens < 0) throw InputError("sink_tokens must be >= 0");
  for (size_t c = 0; c < o.copies.size(); ++c)
    if (o.copies[c] < 1 || o.copies[c] + 1 >= n_blocks || (c > 0 && o.copies[c] <= o.copies[c - 1]))
      throw InputError("query copies must be ascending context-block indices in [1, " +
                       std::to_string(n_blocks - 1) + ")");
  if (!o.block_mode && !o.copies.empty()) throw InputError("query copies need block mode");
}

}  // namespace

SampleLayout lay_out_sample(const BlockSample& sample, const LayoutOptions& o) {
  check_sample(sample, o);
  const size_t n_context = sample.blocks.size() - 1;
  // The engine's plan of the same prompt: every block's tokens (sinks first) and offset.
  const std::vector<std::vector<int32_t>> context(sample.blocks.begin(), sample.blocks.end() - 1);
  const PromptLayout plan =
      make_prompt_layout(context, sample.blocks.back(), SinkConfig{o.sink_tokens, o.sink_token_id});

  SampleLayout l;
  l.ids.reserve(static_cast<size_t>(plan.total_tokens()));
  auto push = [&](int64_t id, int64_t pos, int64_t group, int64_t prefix) {
    l.ids.push_back(id);
    l.positions.push_back(pos);
    l.group.push_back(o.block_mode ? group : 0);
    l.sees_prefix.push_back(o.block_mode ? prefix : 0);
  };
  // Context blocks: each its own group, at its planned offset; token t sits at position t.
  std::vector<int64_t> content_start(n_context);
  int64_t content = 0;
  for (size_t b = 0; b < n_context; ++b) {
    const PromptBlock& block = plan.blocks[b];
    for (size_t j = 0; j < block.tokens.size(); ++j)
      push(block.tokens[j], block.offset + static_cast<int64_t>(j), static_cast<int64_t>(b), 0);
    content_start[b] = content;
    content += static_cast<int64_t>(sample.blocks[b].size());
  }
  // F attends to everything before it; its tokens but the last are supervised.
  const int64_t final_group = static_cast<int64_t>(n_context);
  for (size_t j = 0; j < plan.final_tokens.size(); ++j) {
    const int64_t t = plan.final_offset + static_cast<int64_t>(j);
    push(plan.final_tokens[j], t, final_group, plan.final_offset);
    if (j + 1 < plan.final_tokens.size()) {
      l.student_index.push_back(t);
      l.content_index.push_back(content + static_cast<int64_t>(j));
    }
  }
  // Query copies: block i as the final block of B0..Bi-1, starting where block i's sinks start.
  int64_t group = final_group + 1;
  for (size_t i : o.copies) {
    const int64_t start = plan.blocks[i].offset;
    for (size_t j = 0; j < sample.blocks[i].size(); ++j) {
      l.student_index.push_back(static_cast<int64_t>(l.ids.size()));
      l.content_index.push_back(content_start[i] + static_cast<int64_t>(j));
      push(sample.blocks[i][j], start + static_cast<int64_t>(j), group, start);
    }
    ++group;
  }
  return l;
}

}  // namespace blockattn
