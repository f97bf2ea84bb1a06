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
// off_i = Σ_{j<i} len_j by re-rotating its keys (RoPE). F = the chat-formatted query; it
// attends to every block and causally to itself. Full mode runs the same token sequence with
// ordinary causal attention. See docs/block-attention.md.
//
// Errors: every method throws blockattn::Error subclasses (error.h); an Engine stays usable
// after a failed generate().  An Engine is not thread-safe: use one per thread.
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

struct KVStoreConfig {
  uint64_t memory_budget_bytes = 2ull << 30;  // device-memory LRU of block KV; 0 disables it
  std::string disk_dir;                       // empty: no disk tier
  uint64_t disk_budget_bytes = 20ull << 30;   // disk tier size limit (LRU eviction beyond it)
};

struct EngineConfig {
  std::string model_dir;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  std::string dtype = "auto";   // auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16
  int sink_tokens = -1;         // block sink tokens per block; -1 = the model's config (default 0)
  KVStoreConfig cache;
};

struct GenerateRequest {
  std::vector<std::string> blocks;  // context blocks, each non-empty valid UTF-8
  std::string query;                // the final block's user text (non-empty)
  AttentionMode mode = AttentionMode::kBlock;
  bool chat_template = true;        // wrap the query in the model's chat layout (ChatML if known)
  int max_new_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;    // stop strings (in addition to the model's EOS tokens)
  bool use_cache = true;            // false: compute every block, read and write no cache
};

struct GenerateTimings {
  int prompt_tokens = 0;       // all positions before the first generated token (sinks included)
  int blocks_total = 0;
  int blocks_reused = 0;       // found in a cache tier
  int blocks_computed = 0;     // encoded now
  double tokenize_ms = 0;
  double prefill_ms = 0;       // blocks (fetch or encode + placement) and the final block
  double ttft_ms = 0;          // request start to first token sampled
  double decode_ms = 0;        // after the first token
  int generated_tokens = 0;
  double decode_tokens_per_s = 0;
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;  // "eos", "stop" (a stop string) or "length"
  GenerateTimings timings;
};

struct ModelInfo {
  std::string architecture;   // e.g. "llama (LlamaForCausalLM)"
  int64_t parameters = 0;
  std::string dtype;          // compute dtype in use
  std::string stored_dtype;   // dtype in config.json
  std::string device;
  int64_t context_length = 0;
  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  std::string tokenizer;      // kind + vocabulary size
  int sink_tokens = 0;
  std::string fingerprint;
};

struct CacheStats {
  uint64_t memory_hits = 0, lower_hits = 0, misses = 0, memory_bytes = 0, memory_entries = 0;
  uint64_t corrupt_dropped = 0, write_failures = 0;
  std::string describe;  // one line per tier
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
  ModelInfo info() const;
  CacheStats cache_stats() const;

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blockattn
