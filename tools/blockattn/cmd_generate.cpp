// `blockattn generate`: answer a query over context blocks, reusing cached block KV.
#include <cstdio>
#include <map>
#include <memory>

#include "adapter_options.h"
#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "cache_options.h"
#include "commands.h"
#include "core/io.h"
#include "option_checks.h"

namespace blockattn::cli {

namespace {

struct GenerateOptions {
  EngineConfig engine;
  std::vector<std::string> block_files;
  std::string query, query_file, mode = "block";
  GenerateRequest request;
  CacheSizeOptions cache_sizes;
  bool no_cache = false;
};

std::string read_input(const std::string& path, const std::string& what) {
  try {
    return read_file(path);
  } catch (const IoError& e) {
    throw IoError(what + ": " + e.what());
  }
}

// Where the reused blocks came from, and each lower tier's counters (this process only):
//   cache: blocks reused from redis 2
//   tier redis 127.0.0.1:6379/0 (...): 2 hits, 0 misses, 0 puts, 0 put failures, ...
void print_cache_report(const Engine& engine, const GenerateResult& r) {
  std::map<std::string, int> from;
  for (const BlockReport& b : r.blocks)
    if (b.reused) from[b.tier]++;
  const CacheStats s = engine.cache_stats();
  if (from.empty() && s.tiers.empty()) return;
  std::string line = "cache: blocks reused from";
  for (const auto& [tier, n] : from) line += " " + tier + " " + std::to_string(n) + ",";
  if (from.empty()) line += " none";
  if (line.back() == ',') line.pop_back();
  std::fprintf(stderr, "%s\n", line.c_str());
  // describe: "memory ...", then one line per lower tier in s.tiers' order.
  std::vector<std::string> lines;
  for (size_t start = 0, nl; start <= s.describe.size(); start = nl + 1) {
    nl = s.describe.find('\n', start);
    if (nl == std::string::npos) nl = s.describe.size();
    lines.push_back(s.describe.substr(start, nl - start));
  }
  for (size_t i = 0; i < s.tiers.size(); ++i) {
    const TierCacheStats& t = s.tiers[i];
    std::fprintf(stderr,
                 "tier %s: %llu hits, %llu misses, %llu puts, %llu put failures, %llu corrupt "
                 "dropped, %llu errors\n",
                 i + 1 < lines.size() ? lines[i + 1].c_str() : t.name.c_str(),
                 static_cast<unsigned long long>(t.hits), static_cast<unsigned long long>(t.misses),
                 static_cast<unsigned long long>(t.puts),
                 static_cast<unsigned long long>(t.put_failures),
                 static_cast<unsigned long long>(t.corrupt_dropped),
                 static_cast<unsigned long long>(t.errors));
  }
}

int run(GenerateOptions& o) {
  apply_cache_sizes(o.cache_sizes, o.engine.cache);
  if (o.query.empty() == o.query_file.empty())
    throw InputError("give exactly one of --query and --query-file");
  GenerateRequest& req = o.request;
  req.query = o.query_file.empty() ? o.query : read_input(o.query_file, "--query-file");
  for (const auto& f : o.block_files) req.blocks.push_back(read_input(f, "--block"));
  req.mode = o.mode == "full" ? AttentionMode::kFull : AttentionMode::kBlock;
  req.use_cache = !o.no_cache;

  auto engine = Engine::create(o.engine);
  GenerateResult r = engine->generate(req, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
  std::fflush(stdout);  // the answer's end before the timings on stderr, also through a pipe
  const GenerateTimings& t = r.timings;
  std::fprintf(
      stderr,
      "--\nmode %s | prompt %d tokens in %d blocks + query | blocks reused %d, computed %d\n"
      "prefill %.1f ms | time to first token %.1f ms | %d tokens generated, decode %.1f tokens/s | "
      "finish: %s\n",
      o.mode.c_str(), t.prompt_tokens, t.blocks_total, t.blocks_reused, t.blocks_computed,
      t.prefill_ms, t.ttft_ms, t.generated_tokens, t.decode_tokens_per_s, r.finish_reason.c_str());
  engine->flush_cache();  // the report counts this run's writes to the lower tiers
  print_cache_report(*engine, r);
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand(
      "generate",
      "Answer --query over the --block files. In block mode each block's KV is computed once,\n"
      "cached by content (memory, then --cache-dir, then --redis) and reused at any position in\n"
      "later prompts.");
  cmd->add_option("-m,--model", o->engine.model_dir,
                  "Model directory (config.json, *.safetensors, tokenizer)")
      ->required();
  cmd->add_option("-b,--block", o->block_files,
                  "A context block: a UTF-8 text file (repeat, in prompt order)");
  cmd->add_option("-q,--query", o->query, "The question (the final block)");
  cmd->add_option("--query-file", o->query_file, "Read the question from a file");
  cmd->add_option("--mode", o->mode,
                  "block: blocks encoded independently and reused; full: ordinary causal attention")
      ->check(CLI::IsMember({"block", "full"}))
      ->capture_default_str();
  add_cache_options(cmd, o->engine.cache, o->cache_sizes);
  add_adapter_options(cmd, o->engine);
  cmd->add_flag("--no-cache", o->no_cache, "Encode every block now; read and write no cache");
  cmd->add_option("--sinks", o->engine.sink_tokens,
                  "Block sink tokens per block (default: the model's setting)")
      ->check(integer_in(0, 64));
  cmd->add_option("-n,--max-new-tokens", o->request.max_new_tokens, "Most tokens to generate")
      ->check(integer_in(1, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--temperature", o->request.sampling.temperature, "0 = greedy")
      ->check(number_in(0, 100))
      ->capture_default_str();
  cmd->add_option("--top-k", o->request.sampling.top_k,
                  "Sample from the k most likely tokens (0 = off)")
      ->capture_default_str();
  cmd->add_option("--top-p", o->request.sampling.top_p, "Nucleus sampling mass (1 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", o->request.sampling.seed, "Sampling seed")
      ->check(unsigned_integer())
      ->capture_default_str();
  cmd->add_option("--stop", o->request.stop, "Stop when this text is generated (repeatable)");
  cmd->add_flag("!--no-chat-template", o->request.chat_template,
                "Use the query verbatim as the final block");
  cmd->add_option("--device", o->engine.device, "auto | cpu | cuda | cuda:N")
      ->capture_default_str();
  cmd->add_option("--dtype", o->engine.dtype,
                  "auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16")
      ->capture_default_str();
  return [o] { return run(*o); };
}

}  // namespace blockattn::cli
