#include "blockattn/engine.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include <unistd.h>

#include "attention/block_prefill.h"
#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "cache/block_store.h"
#include "cache/tier_factory.h"
#include "core/log.h"
#include "core/utf8.h"
#include "engine/sampler.h"
#include "model/compat.h"
#include "model/lora.h"
#include "model/torch_dtype.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/text_stream.h"

namespace blockattn {

namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
double ms_since(Clock::time_point t) { return ms_between(t, Clock::now()); }

// KVStoreConfig::kAutoBudget resolved for the device the model is on.
uint64_t memory_budget(const KVStoreConfig& cache, const torch::Device& device) {
  if (cache.memory_budget_bytes != KVStoreConfig::kAutoBudget) return cache.memory_budget_bytes;
  if (auto memory = compat::device_memory(device)) {
    const uint64_t budget = memory->first / 10 * 4;
    BA_INFO("block cache: memory tier " << (budget >> 20) << " MiB (40% of the "
                                        << (memory->first >> 20) << " MiB free on " << device.str()
                                        << ")");
    return budget;
  }
  return 2ull << 30;
}

// KVStoreConfig::host_budget_bytes resolved: a host tier only when the blocks live on a GPU.
uint64_t host_budget(const KVStoreConfig& cache, const torch::Device& device) {
  if (!device.is_cuda()) return 0;
  if (cache.host_budget_bytes != KVStoreConfig::kAutoBudget) return cache.host_budget_bytes;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const uint64_t ram = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
  return std::min<uint64_t>(ram / 4, 64ull << 30);
}

}  // namespace

struct Engine::Impl {
  EngineConfig config;
  std::shared_ptr<Model> model;        // the base: full-mode requests (unless AdapterMode::kAlways)
  std::shared_ptr<Model> block_model;  // block mode and the block cache: `model`, or it with the
                                       // adapter merged in
  std::string adapter_description;     // ModelInfo::adapter
  const Model& model_for(AttentionMode mode) const {
    return mode == AttentionMode::kBlock || config.adapter_mode == AdapterMode::kAlways
               ? *block_model
               : *model;
  }
  std::unique_ptr<Tokenizer> tokenizer;
  SinkConfig sinks;       // block mode (and the block cache)
  SinkConfig full_sinks;  // full mode: `sinks`, or the base's when an adapter serves block mode
  const SinkConfig& sinks_for(AttentionMode mode) const {
    return mode == AttentionMode::kBlock ? sinks : full_sinks;
  }
  std::unique_ptr<BlockStore> store;

  std::vector<int32_t> encode_part(const std::string& text, const std::string& what) const {
    if (text.empty()) throw InputError(what + " is empty");
    require_utf8(text, what);
    return tokenizer->encode(text);
  }

  // encode_part for a part that may use at most `budget` tokens. A long text is tokenized in
  // growing prefixes (each cut just before a whitespace that follows a non-whitespace character,
  // where the pre-tokenizers in use split anyway, so a prefix never has more tokens than the
  // whole text): once a prefix alone is over the budget, the part cannot fit and tokenizing
  // stops there, so a 50 MB block costs a few hundred KB of work, not the whole text. Returns
  // nullopt when the part does not fit; `*probed_bytes` says how much of it was tokenized.
  std::optional<std::vector<int32_t>> encode_within(const std::string& text,
                                                    const std::string& what, int64_t budget,
                                                    size_t* probed_bytes) const {
    if (text.empty()) throw InputError(what + " is empty");
    require_utf8(text, what);
    // ~4 bytes per token is typical; 16 bytes per token of budget covers sparse text too.
    size_t probe = static_cast<size_t>(std::max<int64_t>(budget, 0)) * 16 + 4096;
    while (probe < text.size()) {
      size_t cut = probe;
      auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
      while (cut > 0 && !(space(text[cut]) && !space(text[cut - 1]))) --cut;
      if (cut == 0) break;  // no whitespace boundary to cut at: tokenize the whole text
      *probed_bytes = cut;
      if (static_cast<int64_t>(tokenizer->encode(std::string_view(text).substr(0, cut)).size()) >
          budget)
        return std::nullopt;
      probe *= 2;
    }
    *probed_bytes = text.size();
    std::vector<int32_t> ids = tokenizer->encode(text);
    if (static_cast<int64_t>(ids.size()) > budget) return std::nullopt;
    return ids;
  }

  std::vector<int32_t> eos_tokens(const ChatFormat& chat) const {
    std::vector<int32_t> eos = model->config().eos_token_ids;
    if (tokenizer->eos_id()) eos.push_back(*tokenizer->eos_id());
    eos.insert(eos.end(), chat.stop_tokens.begin(), chat.stop_tokens.end());
    return eos;
  }

  // The block's tokens as cached: sinks first.
  std::vector<int32_t> block_tokens(const std::vector<int32_t>& text_tokens) const {
    return make_prompt_layout({text_tokens}, {}, sinks).blocks[0].tokens;
  }
};

// ------------------------------------------------------------------------------------ Session

struct Session::Impl {
  Engine::Impl* engine = nullptr;
  const Model* model = nullptr;  // engine->model_for(request.mode)
  GenerateRequest request;       // kept for the stop strings and the mode
  PromptLayout layout;
  int64_t max_new = 0;
  std::vector<int32_t> eos;
  Sampler sampler;
  TextStream stream;
  std::optional<KVCache> cache;
  torch::Tensor logits;  // [1, vocab] float32: the distribution of the next token
  GenerateResult result;
  Clock::time_point t_start, t_first;
  bool prefilled = false, finished = false;

  Impl(Engine::Impl* e, const GenerateRequest& r)
      : engine(e),
        model(&e->model_for(r.mode)),
        request(r),
        sampler(r.sampling),
        stream(*e->tokenizer, r.stop) {}

  void finish(const std::string& reason, StepOutput& out) {
    finished = true;
    result.finish_reason = reason;
    out.finished = true;
    out.finish_reason = reason;
    out.text += stream.finish();
    result.text = stream.text();
    GenerateTimings& t = result.timings;
    t.generated_tokens = static_cast<int>(result.tokens.size());
    if (t.generated_tokens > 0) {
      t.decode_ms = ms_since(t_first);
      if (t.generated_tokens > 1 && t.decode_ms > 0)
        t.decode_tokens_per_s = (t.generated_tokens - 1) * 1000.0 / t.decode_ms;
    }
    cache.reset();  // the KV of a finished request is not needed any more
    logits = torch::Tensor();
  }

  TokenLogprob logprob_of(int32_t token) const {
    TokenLogprob lp;
    lp.token = token;
    lp.text = engine->tokenizer->decode({token});
    torch::Tensor logp = torch::log_softmax(logits.reshape({-1}), 0).to(torch::kCPU);  // [vocab]
    lp.logprob = logp[token].item<float>();
    if (request.top_logprobs > 0) {
      auto [vals, idx] = logp.topk(std::min<int64_t>(request.top_logprobs, logp.size(0)));
      for (int64_t i = 0; i < vals.size(0); ++i)
        lp.top.emplace_back(static_cast<int32_t>(idx[i].item<int64_t>()), vals[i].item<float>());
    }
    return lp;
  }

  // Samples from `logits`; true when the request goes on (the token then needs a forward).
  bool sample(StepOutput& out) {
    const int32_t token = sampler.next(logits);
    if (result.tokens.empty()) {
      t_first = Clock::now();
      result.timings.ttft_ms = ms_between(t_start, t_first);
    }
    if (!request.ignore_eos && std::find(eos.begin(), eos.end(), token) != eos.end()) {
      finish("eos", out);
      return false;
    }
    if (request.top_logprobs >= 0) {
      result.logprobs.push_back(logprob_of(token));
      out.logprob = &result.logprobs.back();
    }
    out.token = token;
    result.tokens.push_back(token);
    const bool stop_hit = stream.push(token);
    out.text = stream.take_ready();
    if (stop_hit) {
      finish("stop", out);
      return false;
    }
    if (static_cast<int64_t>(result.tokens.size()) >= max_new) {
      finish("length", out);
      return false;
    }
    return true;
  }
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

bool Session::prefilled() const { return impl_->prefilled; }
bool Session::finished() const { return impl_->finished; }
int Session::prompt_tokens() const { return static_cast<int>(impl_->layout.total_tokens()); }
int Session::max_new_tokens() const { return static_cast<int>(impl_->max_new); }
const GenerateResult& Session::result() const { return impl_->result; }

void Session::cancel() {
  if (impl_->finished) return;
  StepOutput ignored;
  impl_->finish("cancelled", ignored);
}

void Session::prefill() {
  Impl& s = *impl_;
  if (s.prefilled) throw Error("internal: prefill() called twice");
  if (s.finished) throw Error("internal: prefill() of a finished session");
  const Model& model = *s.model;
  const auto t_prefill = Clock::now();
  try {
    // Room for the generated tokens, and for the padding a graphed forward of the prompt's last
    // part may add (model/decode_graphs.h: up to the next power of two, beyond size()).
    const int64_t last_part = s.request.mode == AttentionMode::kBlock
                                  ? static_cast<int64_t>(s.layout.final_tokens.size())
                                  : s.layout.total_tokens();
    int64_t padded = 1;
    while (padded < last_part) padded *= 2;
    const int64_t padding = last_part <= DecodeGraphs::kMaxTokens ? padded - last_part : 0;
    s.cache.emplace(model.new_cache(s.layout.total_tokens() + s.max_new + padding));
    GenerateTimings& t = s.result.timings;
    if (s.request.mode == AttentionMode::kBlock) {
      PrefillStats stats;
      s.logits =
          prefill_blocks(model, s.layout, s.engine->sinks,
                         s.request.use_cache ? s.engine->store.get() : nullptr, *s.cache, &stats);
      t.blocks_reused = stats.blocks_reused;
      t.blocks_computed = stats.blocks_computed;
      for (size_t i = 0; i < s.result.blocks.size() && i < stats.sources.size(); ++i) {
        s.result.blocks[i].reused = stats.sources[i].source != BlockSource::kComputed;
        s.result.blocks[i].tier = stats.sources[i].tier;
      }
    } else {
      s.logits = prefill_full(model, s.layout, *s.cache);
      t.blocks_computed = t.blocks_total;
    }
    compat::synchronize(model.device());
    t.prefill_ms = ms_since(t_prefill);
  } catch (...) {
    s.finished = true;
    s.result.finish_reason = "error";
    s.cache.reset();
    throw;
  }
  s.prefilled = true;
}

namespace {

// One forward of the sampled `tokens` of `running` (sessions of `model`): each session's logits
// for its next token.
void decode_step(const Model& model, const std::vector<Session::Impl*>& running,
                 const std::vector<int64_t>& tokens) {
  try {
    if (running.size() == 1) {
      Session::Impl& s = *running[0];
      s.logits = model.forward(token_tensor(model, {static_cast<int32_t>(tokens[0])}), *s.cache,
                               LogitsFor::kLast);
    } else {
      std::vector<KVCache*> caches;
      for (Session::Impl* s : running) caches.push_back(&*s->cache);
      torch::Tensor ids = torch::tensor(tokens, torch::kInt64).to(model.device());  // [B]
      torch::Tensor logits = model.forward_decode_batch(ids, caches);               // [B, vocab]
      for (size_t b = 0; b < running.size(); ++b)
        running[b]->logits = logits.narrow(0, static_cast<int64_t>(b), 1);
    }
  } catch (...) {
    for (Session::Impl* s : running) {
      StepOutput ignored;
      s->finish("error", ignored);
    }
    throw;
  }
}

// One step of several sessions of one engine (Engine::step_batch; Session::step is a batch of one).
std::vector<StepOutput> step_sessions(const std::vector<Session::Impl*>& sessions) {
  std::vector<StepOutput> outs(sessions.size());
  std::vector<Session::Impl*> running;
  std::vector<int64_t> tokens;
  for (size_t i = 0; i < sessions.size(); ++i) {
    Session::Impl& s = *sessions[i];
    if (!s.prefilled) throw Error("internal: step() before prefill()");
    if (s.finished) {
      outs[i].finished = true;
      outs[i].finish_reason = s.result.finish_reason;
      continue;
    }
    if (s.sample(outs[i])) {
      running.push_back(&s);
      tokens.push_back(outs[i].token);
    }
  }
  // Sessions of one model (base or adapted) decode as one batch.
  while (!running.empty()) {
    const Model& model = *running[0]->model;
    std::vector<Session::Impl*> batch, rest;
    std::vector<int64_t> batch_tokens, rest_tokens;
    for (size_t i = 0; i < running.size(); ++i) {
      (running[i]->model == &model ? batch : rest).push_back(running[i]);
      (running[i]->model == &model ? batch_tokens : rest_tokens).push_back(tokens[i]);
    }
    try {
      decode_step(model, batch, batch_tokens);  // on failure it ends `batch`'s sessions
    } catch (...) {
      for (Session::Impl* s : rest) {
        StepOutput ignored;
        s->finish("error", ignored);
      }
      throw;
    }
    running = std::move(rest);
    tokens = std::move(rest_tokens);
  }
  return outs;
}

}  // namespace

StepOutput Session::step() { return std::move(step_sessions({impl_.get()})[0]); }

// ------------------------------------------------------------------------------------- Engine

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::create(const EngineConfig& config) {
  if (config.model_dir.empty()) throw InputError("no model directory given");
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->model = Model::load(config.model_dir, ModelLoadOptions{config.device, config.dtype});
  impl->block_model = impl->model;
  if (!config.adapter_dir.empty()) {
    LoraAdapter adapter =
        load_lora_adapter(config.adapter_dir, impl->model->config(), impl->model->device());
    const auto trained = read_lora_block_settings(config.adapter_dir);
    if (trained && !trained->base_fingerprint.empty() &&
        trained->base_fingerprint != impl->model->fingerprint())
      BA_WARN("adapter " << config.adapter_dir << " was trained on a base with fingerprint "
                         << trained->base_fingerprint << ", this one is "
                         << impl->model->fingerprint()
                         << " (another checkpoint, or the same in another dtype)");
    impl->block_model = impl->model->merged_with(adapter, trained ? &*trained : nullptr);
    std::string targets;
    for (const std::string& t : adapter.config.targets) targets += (targets.empty() ? "" : ",") + t;
    char scale[64];
    std::snprintf(scale, sizeof scale, "%g", adapter.config.alpha);
    impl->adapter_description =
        config.adapter_dir + ": LoRA rank " + std::to_string(adapter.config.rank) + ", alpha " +
        scale + ", " + targets + ", " +
        (config.adapter_mode == AdapterMode::kAlways ? "every request" : "block mode only");
    impl->block_model->fuse_projections();
  }
  impl->model->fuse_projections();  // the engine never trains or replaces weights
  impl->tokenizer = Tokenizer::load(config.model_dir);
  const ModelConfig& mc = impl->model->config();
  if (impl->tokenizer->vocab_size() > mc.vocab_size)
    throw FormatError(config.model_dir + ": tokenizer has " +
                      std::to_string(impl->tokenizer->vocab_size()) +
                      " tokens but the model's vocab_size is " + std::to_string(mc.vocab_size));
  impl->full_sinks = resolve_sinks(config.sink_tokens, mc, *impl->tokenizer);
  // Block mode's sinks: the block model's (with an adapter, the ones it was trained with).
  impl->sinks = resolve_sinks(config.sink_tokens, impl->block_model->config(), *impl->tokenizer);
  if (config.adapter_mode == AdapterMode::kAlways) impl->full_sinks = impl->sinks;
  BlockStoreConfig store;
  store.memory_budget_bytes = memory_budget(config.cache, impl->model->device());
  store.write_queue_bytes = config.cache.write_queue_bytes != KVStoreConfig::kAutoBudget
                                ? config.cache.write_queue_bytes
                                : std::max<uint64_t>(4ull << 30, store.memory_budget_bytes / 4);
  store.host_budget_bytes = host_budget(config.cache, impl->model->device());
  impl->store =
      std::make_unique<BlockStore>(store, make_tiers(config.cache), impl->model->device());
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

std::unique_ptr<Session> Engine::start(const GenerateRequest& request) {
  Impl& m = *impl_;
  const auto t_start = Clock::now();
  if (request.max_new_tokens < 1) throw InputError("max_new_tokens must be >= 1");
  if (request.top_logprobs > 20) throw InputError("top_logprobs must be <= 20");
  auto s = std::make_unique<Session::Impl>(&m, request);  // the sampler checks its parameters
  s->t_start = t_start;
  ChatFormat chat = ChatFormat::detect(*m.tokenizer, request.chat_template);
  const SinkConfig& sinks = m.sinks_for(request.mode);
  const int64_t context = m.model->config().max_position_embeddings;
  std::vector<std::vector<int32_t>> blocks;
  int64_t used = 0;
  for (size_t i = 0; i < request.blocks.size(); ++i) {
    const std::string what = "block " + std::to_string(i + 1);
    // At most this many tokens leave room for the block's sinks and one query token.
    const int64_t budget = context - 1 - used - sinks.count;
    size_t probed = 0;
    std::optional<std::vector<int32_t>> ids =
        m.encode_within(request.blocks[i], what, budget, &probed);
    if (!ids)
      throw ContextLengthError(
          "the prompt does not fit the model's context of " + std::to_string(context) +
          " tokens: " + what + " (" + std::to_string(request.blocks[i].size()) +
          " bytes) needs more than the " + std::to_string(std::max<int64_t>(budget, 0)) +
          " tokens left for it" +
          (probed < request.blocks[i].size()
               ? " (tokenizing stopped after its first " + std::to_string(probed) + " bytes)"
               : ""));
    blocks.push_back(std::move(*ids));
    used += static_cast<int64_t>(blocks.back().size()) + sinks.count;
  }
  std::string final_text;
  if (!request.messages.empty()) {
    std::vector<std::pair<std::string, std::string>> turns;
    for (size_t i = 0; i < request.messages.size(); ++i) {
      const ChatMessage& msg = request.messages[i];
      require_utf8(msg.content, "message " + std::to_string(i + 1));
      turns.emplace_back(msg.role, msg.content);
    }
    final_text = chat.conversation_text(turns);
  } else {
    if (request.query.empty()) throw InputError("query is empty");
    require_utf8(request.query, "query");
    final_text = chat.final_text(request.query);
  }
  size_t probed = 0;
  std::optional<std::vector<int32_t>> query_ids =
      m.encode_within(final_text, "query", context - 1 - used, &probed);
  if (!query_ids)
    throw ContextLengthError("the prompt does not fit the model's context of " +
                             std::to_string(context) + " tokens: the query needs more than the " +
                             std::to_string(std::max<int64_t>(context - 1 - used, 0)) +
                             " tokens the blocks leave");
  s->layout = make_prompt_layout(blocks, std::move(*query_ids), sinks);
  if (s->layout.total_tokens() >= context)
    throw ContextLengthError("prompt of " + std::to_string(s->layout.total_tokens()) +
                             " tokens does not fit the model's context of " +
                             std::to_string(context) + " tokens");
  s->max_new = std::min<int64_t>(request.max_new_tokens, context - s->layout.total_tokens());
  s->eos = m.eos_tokens(chat);
  GenerateTimings& t = s->result.timings;
  t.prompt_tokens = static_cast<int>(s->layout.total_tokens());
  t.blocks_total = static_cast<int>(s->layout.blocks.size());
  for (const PromptBlock& b : s->layout.blocks) {
    BlockReport r;
    r.tokens = static_cast<int>(b.tokens.size());
    r.key = blockattn::block_key(*m.block_model, m.sinks, b.tokens).hex();
    s->result.blocks.push_back(std::move(r));
  }
  t.tokenize_ms = ms_since(t_start);
  return std::unique_ptr<Session>(new Session(std::move(s)));
}

std::vector<StepOutput> Engine::step_batch(const std::vector<Session*>& sessions) {
  std::vector<Session::Impl*> impls;
  for (Session* s : sessions) {
    if (s->impl_->engine != impl_.get())
      throw Error("internal: step_batch() of another engine's session");
    impls.push_back(s->impl_.get());
  }
  return step_sessions(impls);
}

GenerateResult Engine::generate(const GenerateRequest& request, const TokenCallback& on_text) {
  std::unique_ptr<Session> session = start(request);
  session->prefill();
  while (!session->finished()) {
    StepOutput out = session->step();
    if (!out.text.empty() && on_text && !on_text(out.text)) session->cancel();
  }
  return session->result();
}

EncodedBlock Engine::encode_block(const std::string& text) {
  Impl& m = *impl_;
  const int64_t context = m.model->config().max_position_embeddings;
  size_t probed = 0;
  std::optional<std::vector<int32_t>> text_tokens =
      m.encode_within(text, "block", context - 1 - m.sinks.count, &probed);
  if (!text_tokens)
    throw ContextLengthError(
        "block of " + std::to_string(text.size()) + " bytes does not fit the model's context of " +
        std::to_string(context) + " tokens" +
        (probed < text.size()
             ? " (tokenizing stopped after its first " + std::to_string(probed) + " bytes)"
             : ""));
  std::vector<int32_t> tokens = m.block_tokens(*text_tokens);
  if (static_cast<int64_t>(tokens.size()) >= context)
    throw ContextLengthError("block of " + std::to_string(tokens.size()) +
                             " tokens does not fit the model's context of " +
                             std::to_string(context) + " tokens");
  const BlockKey key = blockattn::block_key(*m.block_model, m.sinks, tokens);
  BlockFetch f = m.store->fetch_or_compute(
      key, [&] { return blockattn::encode_block(*m.block_model, tokens); },
      block_kv_shape(*m.block_model, tokens.size()));
  EncodedBlock out;
  out.key = key.hex();
  out.tokens = static_cast<int>(tokens.size());
  out.reused = f.source != BlockSource::kComputed;
  out.tier = f.tier;
  return out;
}

std::string Engine::block_key(const std::string& text) const {
  const Impl& m = *impl_;
  return blockattn::block_key(*m.block_model, m.sinks, m.block_tokens(m.encode_part(text, "block")))
      .hex();
}

bool Engine::forget_block(const std::string& key) {
  std::optional<Hash128> h = Hash128::from_hex(key);
  if (!h) return false;
  return impl_->store->forget(BlockKey{*h});
}

std::vector<int32_t> Engine::tokenize(const std::string& text, bool add_special_tokens) const {
  require_utf8(text, "text");
  return impl_->tokenizer->encode(text, add_special_tokens);
}

std::string Engine::detokenize(const std::vector<int32_t>& ids) const {
  const int32_t vocab = impl_->tokenizer->vocab_size();
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      throw InputError("token " + std::to_string(i + 1) + " (" + std::to_string(ids[i]) +
                       ") is not in the vocabulary of " + std::to_string(vocab) + " tokens");
  return impl_->tokenizer->decode(ids);
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
  info.tokenizer =
      impl_->tokenizer->kind() + ", " + std::to_string(impl_->tokenizer->vocab_size()) + " tokens";
  info.sink_tokens = impl_->sinks.count;
  info.fingerprint = model.fingerprint();
  info.adapter = impl_->adapter_description;
  return info;
}

void Engine::flush_cache() { impl_->store->flush(); }

CacheStats Engine::cache_stats() const {
  const BlockStore& store = *impl_->store;
  CacheStats s;
  BlockStoreStats b = store.stats();
  s.memory_hits = b.memory_hits;
  s.lower_hits = b.lower_hits;
  s.misses = b.misses;
  s.memory_bytes = b.memory_bytes;
  s.memory_entries = b.memory_entries;
  s.memory_evictions = b.evictions;
  s.memory_budget = store.memory_budget();
  s.corrupt_dropped = b.corrupt_dropped;  // entries of the wrong shape; the tiers add theirs
  s.writes_dropped = b.writes_dropped;
  s.describe = "memory " + std::to_string(b.memory_entries) + " blocks, " +
               std::to_string(b.memory_bytes >> 20) + " MiB";
  s.host_hits = b.host_hits;
  s.host_bytes = b.host_bytes;
  s.host_entries = b.host_entries;
  s.host_budget = store.host_budget();
  s.demotions = b.demotions;
  s.tier_skips = b.tier_skips;
  if (store.host_budget() > 0) {
    s.describe += "\nhost " + std::to_string(b.host_entries) + " blocks, " +
                  std::to_string(b.host_bytes >> 20) + " MiB of " +
                  std::to_string(store.host_budget() >> 20) + " MiB (pinned)";
    TierCacheStats t;
    t.name = "host";
    t.hits = b.host_hits;
    t.puts = b.demotions;
    t.evictions = b.host_evictions;
    t.bytes = b.host_bytes;
    s.tiers.push_back(std::move(t));
  }
  for (const auto& tier : store.tiers()) {
    TierStats ts = tier->stats();
    s.corrupt_dropped += ts.corrupt_dropped;
    s.write_failures += ts.put_failures;
    s.describe += "\n" + tier->describe();
    TierCacheStats t;
    t.name = tier->name();
    t.hits = ts.hits;
    t.misses = ts.misses;
    t.puts = ts.puts;
    t.put_failures = ts.put_failures;
    t.corrupt_dropped = ts.corrupt_dropped;
    t.evictions = ts.evictions;
    t.bytes = ts.bytes_used;
    t.errors = ts.errors;
    s.tiers.push_back(std::move(t));
  }
  return s;
}

}  // namespace blockattn
