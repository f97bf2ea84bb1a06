#include "attention/block_prefill.h"

#include "attention/place_blocks.h"

#include "blockattn/error.h"
#include "model/torch_dtype.h"

namespace blockattn {

torch::Tensor token_tensor(const Model& model, const std::vector<int32_t>& tokens) {
  std::vector<int64_t> ids(tokens.begin(), tokens.end());
  return torch::tensor(ids, torch::kInt64).to(model.device());
}

BlockKV encode_block(const Model& model, const std::vector<int32_t>& tokens, int64_t start) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  KVCache local = model.new_cache(n);
  local.set_base_position(start);
  model.forward(token_tensor(model, tokens), local, LogitsFor::kNone);
  auto [k, v] = local.export_range(0, n);
  return {k, v};
}

std::vector<BlockKV> encode_blocks(const Model& model,
                                   const std::vector<const std::vector<int32_t>*>& blocks) {
  std::vector<BlockKV> out;
  out.reserve(blocks.size());
  size_t first = 0;
  while (first < blocks.size()) {
    // The next pack: blocks [first, last) within the token budget (at least one block).
    size_t last = first;
    int64_t tokens = 0;
    std::vector<int64_t> lengths;
    std::vector<int32_t> ids;
    while (last < blocks.size()) {
      const int64_t n = static_cast<int64_t>(blocks[last]->size());
      if (last > first && tokens + n > kMaxPackedTokens) break;
      lengths.push_back(n);
      ids.insert(ids.end(), blocks[last]->begin(), blocks[last]->end());
      tokens += n;
      ++last;
    }
    if (lengths.size() == 1) {
      out.push_back(encode_block(model, *blocks[first]));
    } else {
      KVCache packed = model.new_cache(tokens);
      model.forward_packed(token_tensor(model, ids), lengths, packed);
      int64_t start = 0;
      for (int64_t n : lengths) {
        auto [k, v] = packed.export_range(start, start + n);  // copies: each entry owns its memory
        out.push_back({k, v});
        start += n;
      }
    }
    first = last;
  }
  return out;
}

BlockKV place_block(const Model& model, const BlockKV& local, int64_t offset) {
  return {model.rope().shift(local.k, offset), local.v};
}

BlockKey block_key(const Model& model, const SinkConfig& sinks,
                   const std::vector<int32_t>& tokens) {
  BlockKeyInputs in;
  in.model_fingerprint = model.fingerprint();
  in.sink_tokens = sinks.count;
  in.sink_token_id = sinks.token_id;
  in.kv_dtype = from_torch(model.dtype());
  in.tokens = tokens.data();
  in.n_tokens = tokens.size();
  return make_block_key(in);
}

KVShape block_kv_shape(const Model& model, size_t n_tok) {
  const ModelConfig& c = model.config();
  KVShape s;
  s.dtype = from_torch(model.dtype());
  s.n_layer = static_cast<uint32_t>(c.num_layers);
  s.n_kv_head = static_cast<uint32_t>(c.num_kv_heads);
  s.n_tok = static_cast<uint32_t>(n_tok);
  s.head_dim = static_cast<uint32_t>(c.head_dim);
  return s;
}

torch::Tensor prefill_blocks(const Model& model, const PromptLayout& layout,
                             const SinkConfig& sinks, BlockStore* store, KVCache& cache,
                             PrefillStats* stats, bool all_logits) {
  if (cache.size() != 0) throw Error("internal: prefill_blocks needs an empty cache");
  // Blocks are cached at local rotation and placed at their offsets (place_blocks: copy and RoPE
  // re-encoding). The blocks no tier has are encoded together (encode_blocks).
  const size_t n_blocks = layout.blocks.size();
  auto compute_many = [&](const std::vector<size_t>& which) {
    std::vector<const std::vector<int32_t>*> tokens;
    for (size_t i : which) tokens.push_back(&layout.blocks[i].tokens);
    return encode_blocks(model, tokens);
  };
  std::vector<BlockFetch> fetched;
  if (store) {
    std::vector<BlockKey> keys;
    std::vector<KVShape> shapes;  // what each entry must be
    for (const PromptBlock& block : layout.blocks) {
      keys.push_back(block_key(model, sinks, block.tokens));
      shapes.push_back(block_kv_shape(model, block.tokens.size()));
    }
    fetched = store->fetch_or_compute_many(keys, compute_many, shapes);
  } else {
    std::vector<size_t> all(n_blocks);
    for (size_t i = 0; i < n_blocks; ++i) all[i] = i;
    for (BlockKV& kv : compute_many(all))
      fetched.push_back({std::move(kv), BlockSource::kComputed, ""});
  }
  std::vector<BlockPlacement> placements;
  for (size_t i = 0; i < n_blocks; ++i) {
    const BlockFetch& f = fetched[i];
    if (stats) {
      (f.source == BlockSource::kComputed ? stats->blocks_computed : stats->blocks_reused)++;
      stats->sources.push_back({f.source, f.tier});
    }
    placements.push_back({&f.kv, layout.blocks[i].offset});
  }
  place_blocks(model, placements, cache);
  return model.forward(token_tensor(model, layout.final_tokens), cache,
                       all_logits ? LogitsFor::kAll : LogitsFor::kLast);
}

torch::Tensor prefill_full(const Model& model, const PromptLayout& layout, KVCache& cache,
                           bool all_logits) {
  if (cache.size() != 0) throw Error("internal: prefill_full needs an empty cache");
  torch::Tensor logits = model.forward(token_tensor(model, layout.flat()), cache,
                                       all_logits ? LogitsFor::kAll : LogitsFor::kLast);
  if (all_logits)
    logits =
        logits.narrow(0, layout.final_offset, static_cast<int64_t>(layout.final_tokens.size()));
  return logits;
}

}  // namespace blockattn
