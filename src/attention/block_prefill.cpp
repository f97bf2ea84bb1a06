#include "attention/block_prefill.h"

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
  // Blocks go into the cache at local rotation; then every key of every block is moved to its
  // global position in one pass (RoPE re-encoding) instead of one rotation per block.
  std::vector<int64_t> offsets, lengths;
  for (const PromptBlock& block : layout.blocks) {
    auto compute = [&] { return encode_block(model, block.tokens); };
    BlockKV local;
    if (store) {
      BlockFetch f = store->fetch_or_compute(block_key(model, sinks, block.tokens), compute,
                                             block_kv_shape(model, block.tokens.size()));
      local = f.kv;
      if (stats) {
        (f.source == BlockSource::kComputed ? stats->blocks_computed : stats->blocks_reused)++;
        stats->sources.push_back({f.source, f.tier});
      }
    } else {
      local = compute();
      if (stats) {
        stats->blocks_computed++;
        stats->sources.push_back({BlockSource::kComputed, ""});
      }
    }
    cache.append_block(local.k, local.v);
    offsets.push_back(block.offset);
    lengths.push_back(static_cast<int64_t>(block.tokens.size()));
  }
  if (!layout.blocks.empty()) {
    torch::Tensor keys = cache.key_range(0, layout.final_offset);  // [n_layer, n_kv, Σ len, hd]
    keys.copy_(model.rope().shift_blocks(keys, offsets, lengths));
  }
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
