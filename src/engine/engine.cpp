#include "blockattn/engine.h"

#include <chrono>

#include "attention/block_prefill.h"
#include "attention/block_store.h"
#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "cache/disk_tier.h"
#include "core/log.h"
#include "core/utf8.h"
#include "tokenizer/chat_format.h"
#include "engine/sampler.h"
#include "engine/text_stream.h"
#include "model/compat.h"
#include "model/torch_dtype.h"

namespace blockattn {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

SinkConfig resolve_sinks(const EngineConfig& config, const ModelConfig& mc, const Tokenizer& tok) {
  SinkConfig s;
  s.count = config.sink_tokens >= 0 ? config.sink_tokens : mc.block_sink_tokens;
  if (s.count > 64) throw InputError("--sinks " + std::to_string(s.count) + " is out of range (0..64)");
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

}  // namespace

struct Engine::Impl {
  EngineConfig config;
  std::shared_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  SinkConfig sinks;
  std::unique_ptr<BlockStore> store;

  std::vector<int32_t> encode_part(const std::string& text, const std::string& what) const {
    if (text.empty()) throw InputError(what + " is empty");
    require_utf8(text, what);
    return tokenizer->encode(text);
  }

  std::vector<int32_t> eos_tokens(const ChatFormat& chat) const {
    std::vector<int32_t> eos = model->config().eos_token_ids;
    if (tokenizer->eos_id()) eos.push_back(*tokenizer->eos_id());
    eos.insert(eos.end(), chat.stop_tokens.begin(), chat.stop_tokens.end());
    return eos;
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::create(const EngineConfig& config) {
  if (config.model_dir.empty()) throw InputError("no model directory given");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->model = Model::load(config.model_dir, ModelLoadOptions{config.device, config.dtype});
  impl->tokenizer = Tokenizer::load(config.model_dir);
  const ModelConfig& mc = impl->model->config();
  if (impl->tokenizer->vocab_size() > mc.vocab_size)
    throw FormatError(config.model_dir + ": tokenizer has " + std::to_string(impl->tokenizer->vocab_size()) +
                      " tokens but the model's vocab_size is " + std::to_string(mc.vocab_size));
  impl->sinks = resolve_sinks(config, mc, *impl->tokenizer);
  std::vector<std::unique_ptr<ByteTier>> tiers;
  if (!config.cache.disk_dir.empty()) {
    DiskTierConfig disk;
    disk.dir = config.cache.disk_dir;
    disk.budget_bytes = config.cache.disk_budget_bytes;
    tiers.push_back(std::make_unique<DiskTier>(disk));
  }
  impl->store = std::make_unique<BlockStore>(config.cache.memory_budget_bytes, std::move(tiers),
                                             impl->model->device());
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

GenerateResult Engine::generate(const GenerateRequest& request, const TokenCallback& on_text) {
  Impl& m = *impl_;
  const Model& model = *m.model;
  const auto t_start = Clock::now();
  GenerateResult result;
  GenerateTimings& t = result.timings;

  if (request.max_new_tokens < 1) throw InputError("max_new_tokens must be >= 1");
  Sampler sampler(request.sampling);
  ChatFormat chat = ChatFormat::detect(*m.tokenizer, request.chat_template);
  std::vector<std::vector<int32_t>> blocks;
  for (size_t i = 0; i < request.blocks.size(); ++i)
    blocks.push_back(m.encode_part(request.blocks[i], "block " + std::to_string(i + 1)));
  if (request.query.empty()) throw InputError("query is empty");
  PromptLayout layout =
      make_prompt_layout(blocks, m.encode_part(chat.final_text(request.query), "query"), m.sinks);
  const int64_t context = model.config().max_position_embeddings;
  if (layout.total_tokens() >= context)
    throw InputError("prompt of " + std::to_string(layout.total_tokens()) +
                     " tokens does not fit the model's context of " + std::to_string(context) + " tokens");
  const int64_t max_new = std::min<int64_t>(request.max_new_tokens, context - layout.total_tokens());
  t.prompt_tokens = static_cast<int>(layout.total_tokens());
  t.blocks_total = static_cast<int>(layout.blocks.size());
  t.tokenize_ms = ms_since(t_start);

  const auto t_prefill = Clock::now();
  KVCache cache = model.new_cache(layout.total_tokens() + max_new);
  torch::Tensor logits;  // [1, vocab] float32
  if (request.mode == AttentionMode::kBlock) {
    PrefillStats stats;
    logits = prefill_blocks(model, layout, m.sinks, request.use_cache ? m.store.get() : nullptr, cache, &stats);
    t.blocks_reused = stats.blocks_reused;
    t.blocks_computed = stats.blocks_computed;
  } else {
    logits = prefill_full(model, layout, cache);
    t.blocks_computed = t.blocks_total;
  }
  compat::synchronize(model.device());
  t.prefill_ms = ms_since(t_prefill);

  const std::vector<int32_t> eos = m.eos_tokens(chat);
  TextStream stream(*m.tokenizer, request.stop);
  Clock::time_point t_first;
  result.finish_reason = "length";
  for (int64_t i = 0; i < max_new; ++i) {
    const int32_t token = sampler.next(logits);
    if (i == 0) {
      t_first = Clock::now();
      t.ttft_ms = ms_since(t_start);
    }
    if (std::find(eos.begin(), eos.end(), token) != eos.end()) {
      result.finish_reason = "eos";
      break;
    }
    result.tokens.push_back(token);
    const bool stop_hit = stream.push(token);
    const std::string piece = stream.take_ready();
    if (!piece.empty() && on_text && !on_text(piece)) {
      result.finish_reason = "cancelled";
      break;
    }
    if (stop_hit) {
      result.finish_reason = "stop";
      break;
    }
    if (i + 1 < max_new) logits = model.forward(token_tensor(model, {token}), cache, LogitsFor::kLast);
  }
  const std::string tail = stream.finish();
  if (!tail.empty() && on_text) on_text(tail);
  result.text = stream.text();
  t.generated_tokens = static_cast<int>(result.tokens.size());
  if (t.generated_tokens > 0) {
    t.decode_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_first).count();
    if (t.generated_tokens > 1 && t.decode_ms > 0)
      t.decode_tokens_per_s = (t.generated_tokens - 1) * 1000.0 / t.decode_ms;
  }
  return result;
}

ModelInfo Engine::info() const {
  const Model& model = *impl_->model;
  const ModelConfig& c = model.config();
  ModelInfo info;
  info.architecture = c.architecture_name();
  info.parameters = c.num_parameters();
  info.dtype = float_dtype_name(model.dtype());
  info.stored_dtype = c.torch_dtype;
  info.device = model.device().str();
  info.context_length = c.max_position_embeddings;
  info.vocab_size = c.vocab_size;
  info.hidden_size = c.hidden_size;
  info.num_layers = c.num_layers;
  info.num_heads = c.num_heads;
  info.num_kv_heads = c.num_kv_heads;
  info.head_dim = c.head_dim;
  info.tokenizer = impl_->tokenizer->kind() + ", " + std::to_string(impl_->tokenizer->vocab_size()) + " tokens";
  info.sink_tokens = impl_->sinks.count;
  info.fingerprint = model.fingerprint();
  return info;
}

CacheStats Engine::cache_stats() const {
  const BlockStore& store = *impl_->store;
  CacheStats s;
  BlockStoreStats b = store.stats();
  s.memory_hits = b.memory_hits;
  s.lower_hits = b.lower_hits;
  s.misses = b.misses;
  s.memory_bytes = store.memory_bytes();
  s.memory_entries = store.memory_entries();
  s.describe = "memory " + std::to_string(store.memory_entries()) + " blocks, " +
               std::to_string(store.memory_bytes() >> 20) + " MiB";
  for (const auto& tier : store.tiers()) {
    TierStats ts = tier->stats();
    s.corrupt_dropped += ts.corrupt_dropped;
    s.write_failures += ts.put_failures;
    s.describe += "\n" + tier->describe();
  }
  return s;
}

}  // namespace blockattn
