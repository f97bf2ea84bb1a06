// blockattn's inference engine: load a Hugging Face-style model directory, run prompts in block
// or full attention, reuse block KV across requests.
//
//   blockattn::EngineConfig cfg;
//   cfg.model_dir = "models/tiny";
//   cfg.cache.disk_dir = "/var/cache/blockattn";         // optional second tier
//   auto engine = blockattn::Engine::create(cfg);
//   blockattn::GenerateRequest req;
//   req.blocks = {doc1, doc2};                            // each encoded alone, cached by content
//   req.query = "What does doc2 say about X?";            // attends to every block
//   blockattn::GenerateResult r = engine->generate(req);
//
// Prompt layout (block mode): [B0][B1]…[Bn][F]. Block i is encoded alone at positions
// 0..len_i-1 (after `sink_tokens` sink tokens), cached, and placed at global offset
// off_i = Σ_{j<i} len_j by re-rotating its keys (RoPE). F = the chat-formatted query or
// conversation; it attends to every block and causally to itself. Full mode runs the same token
// sequence with ordinary causal attention. See docs/block-attention.md.
//
// Engine and Session. The Engine owns what every request shares: the model, the tokenizer and
// the block KV store. A Session is one request in flight: its prompt layout, its KV cache, its
// sampler and text stream. generate() is start() + prefill() + step() until finished.
//
// Threading: every Engine method may be called from any number of threads at once (the model
// is read-only, the tokenizer const, the store locked; concurrent requests that need the same
// missing block compute it once). A Session must be used by one thread at a time; step_batch()
// advances several sessions of one Engine in one batched forward. An Engine must outlive its
// Sessions.
//
// Errors: every method throws blockattn::Error subclasses (error.h). InputError from start()
// means the request is unusable (empty, invalid UTF-8, longer than the context) and nothing was
// computed; the Engine stays usable after any error, and a Session that threw is finished.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace blockattn {

enum class AttentionMode { kBlock, kFull };

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  uint64_t seed = 0;         // sampling is reproducible for a given seed
};

// Where block KV is cached. The device-memory LRU comes first; below it an ordered chain of
// byte tiers, built by src/cache/tier_factory from these fields, searched in this order: the
// disk tier (local, fastest), then the Redis tier (shared by every engine and server pointing at
// the same Redis). Every tier receives newly computed blocks; a hit in a later tier also fills
// the earlier ones. A tier is a cache, never the source of truth: any tier failure (full disk,
// Redis down or slow) is a miss and the block is recomputed; the request never fails for it.
struct KVStoreConfig {
  // memory_budget_bytes = kAutoBudget: on CUDA, 40% of the device memory free once the weights
  // are loaded (the rest is left to the requests' own KV caches and activations); on the CPU,
  // 2 GiB. Engine::cache_stats().memory_budget reports the value chosen.
  static constexpr uint64_t kAutoBudget = ~0ull;
  uint64_t memory_budget_bytes = kAutoBudget;  // device-memory LRU of block KV; 0 disables it
  // Host-memory LRU (pinned) between device memory and the lower tiers, on CUDA only: entries the
  // device tier evicts are copied here and copied back on a hit. kAutoBudget: a quarter of the
  // machine's physical memory, at most 64 GiB, on CUDA; 0 (none) on the CPU, where the memory
  // tier already is host memory. 0 disables it.
  uint64_t host_budget_bytes = kAutoBudget;
  std::string disk_dir;                      // empty: no disk tier
  uint64_t disk_budget_bytes = 20ull << 30;  // disk tier size limit (LRU eviction beyond it)
  // Newly computed blocks reach the lower tiers through a writer thread (never on the path to
  // the first token); entries beyond this many queued bytes are not written (counted in
  // CacheStats::writes_dropped). Queued entries are device tensors until the writer has copied
  // them. kAutoBudget: a quarter of the memory tier's budget, at least 4 GiB (a fixed 4 GiB
  // dropped blocks of one cold 32K-token context of an 8B model, 4.2 GB of KV queued at once
  // while the writer waited for the GPU to finish computing them).
  uint64_t write_queue_bytes = kAutoBudget;

  // Redis tier. Empty: none. "redis://[[user]:password@]host[:port][/db]" (port 6379, db 0 by
  // default; a bare "host[:port]" is accepted too). Engine::create throws InputError on a
  // malformed URL; an unreachable Redis is not an error: a warning is logged and the tier
  // answers "miss" until Redis accepts connections again (probed every redis_cooldown_ms).
  std::string redis_url;
  uint32_t redis_ttl_seconds = 0;               // expiry of each entry written, seconds; 0 = none
  uint32_t redis_connect_timeout_ms = 200;      // connecting (and AUTH/SELECT), milliseconds
  uint32_t redis_command_timeout_ms = 1000;     // longest wait for each socket read or write, ms
  uint32_t redis_cooldown_ms = 2000;            // after a failure, no traffic for this long (ms)
  std::string redis_key_prefix = "blockattn:";  // namespace: keys are <prefix><32 hex digits>
  uint64_t redis_chunk_bytes = 16ull << 20;     // entries above this many bytes are chunked
};

// Which requests a LoRA adapter (EngineConfig::adapter_dir) serves. An adapter distilled for
// block attention (`blockattn distill` with "lora") is meant for block mode; full attention is
// then exactly the base model.
enum class AdapterMode { kBlock, kAlways };

struct EngineConfig {
  std::string model_dir;
  // A LoRA adapter in PEFT's layout (adapter_config.json + adapter_model.safetensors), or empty.
  // It is merged into a second copy of the weights at create() (one more copy of device
  // memory, no per-token cost); cached blocks carry that copy's fingerprint, so KV of different
  // adapters never mixes.
  std::string adapter_dir;
  AdapterMode adapter_mode = AdapterMode::kBlock;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  std::string dtype = "auto";   // auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16
  int sink_tokens = -1;         // block sink tokens per block; -1 = the model's config (default 0)
  KVStoreConfig cache;
};

// One turn of a conversation (the final block F in chat form).
struct ChatMessage {
  std::string role;     // "system" | "user" | "assistant"
  std::string content;  // valid UTF-8
};

struct GenerateRequest {
  std::vector<std::string> blocks;    // context blocks, each non-empty valid UTF-8
  std::string query;                  // the final block's user text (non-empty), unless messages
  std::vector<ChatMessage> messages;  // when non-empty: the conversation replaces query
  AttentionMode mode = AttentionMode::kBlock;
  bool chat_template = true;  // wrap the query in the model's chat layout (ChatML if known)
  int max_new_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (in addition to the model's EOS tokens)
  bool use_cache = true;          // false: compute every block, read and write no cache
  bool ignore_eos = false;        // end-of-sequence tokens do not end generation (benchmarks)
  int top_logprobs = -1;          // -1: no log-probabilities; 0..20: the chosen token's and this
                                  // many most likely alternatives' per generated token
};

// Where one context block's KV came from in a request.
struct BlockReport {
  int tokens = 0;       // the block's tokens, sinks included
  bool reused = false;  // found in a cache tier (or computed by a concurrent request)
  std::string tier;     // "memory", "disk", ... when reused; "" when computed now
  std::string key;      // 32 hex digits: the block's content address (model, sinks, dtype, tokens)
};

struct TokenLogprob {
  int32_t token = 0;
  std::string text;   // the token's own decoded text (may be a partial UTF-8 sequence)
  float logprob = 0;  // natural log of the probability under the (temperature-free) model
  std::vector<std::pair<int32_t, float>> top;  // most likely tokens first, with their logprobs
};

struct GenerateTimings {
  int prompt_tokens = 0;  // all positions before the first generated token (sinks included)
  int blocks_total = 0;
  int blocks_reused = 0;    // found in a cache tier
  int blocks_computed = 0;  // encoded now
  double tokenize_ms = 0;
  double prefill_ms = 0;  // blocks (fetch or encode + placement) and the final block
  double ttft_ms = 0;     // request start to first token sampled
  double decode_ms = 0;   // after the first token
  int generated_tokens = 0;
  double decode_tokens_per_s = 0;
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;  // "eos", "stop" (a stop string), "length" or "cancelled"
  GenerateTimings timings;
  std::vector<BlockReport> blocks;     // per context block, in prompt order
  std::vector<TokenLogprob> logprobs;  // per generated token when top_logprobs >= 0
};

// What one decode step produced.
struct StepOutput {
  int32_t token = -1;     // the sampled token; -1 when the step sampled an end-of-sequence token
  std::string text;       // text that became safe to show (may be empty)
  bool finished = false;  // true: no further step (see finish_reason)
  std::string finish_reason;
  const TokenLogprob* logprob =
      nullptr;  // this token's, when requested (valid until the next step)
};

struct ModelInfo {
  std::string architecture;  // e.g. "llama (LlamaForCausalLM)"
  int64_t parameters = 0;
  std::string dtype;         // compute dtype in use
  std::string stored_dtype;  // dtype in config.json
  std::string device;
  int64_t context_length = 0;
  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0,
          head_dim = 0;
  std::string tokenizer;  // kind + vocabulary size
  int sink_tokens = 0;
  std::string fingerprint;
  std::string
      adapter;  // "" without an adapter, else "<dir>: LoRA rank R, alpha A, <targets>, <mode>"
};

struct TierCacheStats {
  std::string name;  // "disk", "redis"
  uint64_t hits = 0, misses = 0, puts = 0, put_failures = 0, corrupt_dropped = 0, evictions = 0,
           bytes = 0;
  uint64_t errors = 0;  // backend failures (Redis: connection refused or lost, timeouts, error
                        // replies); each also counts as a miss or a put failure
};

struct CacheStats {
  uint64_t memory_hits = 0, lower_hits = 0, misses = 0, memory_bytes = 0, memory_entries = 0;
  uint64_t memory_evictions = 0, memory_budget = 0;
  uint64_t corrupt_dropped = 0, write_failures = 0;
  uint64_t writes_dropped = 0;  // new entries never written to the lower tiers: the queue was full
  uint64_t host_hits = 0, host_bytes = 0, host_entries = 0, host_budget = 0, demotions = 0;
  uint64_t tier_skips = 0;  // blocks computed because a lower tier was measured slower than that
  std::vector<TierCacheStats> tiers;  // the tiers below memory, in search order ("host" first)
  std::string describe;               // one line per tier
};

// A block pre-encoded into the store (Engine::encode_block).
struct EncodedBlock {
  std::string key;  // 32 hex digits (BlockReport::key)
  int tokens = 0;   // sinks included
  bool reused = false;
  std::string tier;
};

class Engine;

// One request in flight (see the file comment). Created by Engine::start().
class Session {
 public:
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Computes the prompt's KV (blocks from the store or encoded) and the first logits. Once.
  void prefill();
  // Samples the next token and, unless that finishes the request, runs its forward. Needs
  // prefill(). After finished() it returns {finished = true} and does nothing.
  StepOutput step();
  // Ends the request now (finish_reason "cancelled"; the text so far stays in result()).
  void cancel();

  bool prefilled() const;
  bool finished() const;
  int prompt_tokens() const;   // positions before the first generated token, sinks included
  int max_new_tokens() const;  // after clamping to the context
  const GenerateResult& result() const;  // text, tokens, timings, blocks so far

  struct Impl;

 private:
  friend class Engine;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Called with each new piece of decoded text while generating; return false to stop early.
using TokenCallback = std::function<bool(const std::string& piece)>;

class Engine {
 public:
  static std::unique_ptr<Engine> create(const EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  GenerateResult generate(const GenerateRequest& request, const TokenCallback& on_text = {});

  // Tokenizes and validates `request` and lays out its prompt; runs no model work. Throws
  // InputError for an unusable request (the message names the block or field).
  std::unique_ptr<Session> start(const GenerateRequest& request);
  // One step of every session in `sessions` (each prefilled, none finished, all of this
  // Engine): each samples its next token, then those still running share one batched forward.
  // Output i belongs to sessions[i]. Tokens equal those of stepping each session alone
  // (up to floating-point reassociation in the batched matrix products).
  std::vector<StepOutput> step_batch(const std::vector<Session*>& sessions);

  // Encodes `text` as one block (sinks added) into the store unless it is there already.
  EncodedBlock encode_block(const std::string& text);
  // The content address a block text would have, without computing anything.
  std::string block_key(const std::string& text) const;
  // Drops a block from the memory tier (lower tiers keep their copy). True if it was there.
  bool forget_block(const std::string& key);

  std::vector<int32_t> tokenize(const std::string& text, bool add_special_tokens = false) const;
  std::string detokenize(const std::vector<int32_t>& ids) const;

  ModelInfo info() const;
  // Waits until every block queued for the lower tiers (disk, Redis) has been written or
  // dropped. Writes happen behind the requests; the destructor also waits for them.
  void flush_cache();
  CacheStats cache_stats() const;

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blockattn
