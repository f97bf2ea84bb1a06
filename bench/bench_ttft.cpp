// Time to first token, cold vs warm block cache, against full attention.
//   bench_ttft --model DIR --blocks 8 --block-tokens 256 [--device cuda] [--cache-dir DIR]
// cold: every block encoded; warm (memory): same blocks again in the same engine;
// warm (disk): a fresh engine reading the blocks from --cache-dir; full: ordinary attention.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <random>

#include "blockattn/engine.h"
#include "blockattn/tokenizer.h"
#include "core/host_allocator.h"

namespace {

// Deterministic prose-like text of roughly `n_tokens` tokens for `tok`.
std::string make_block(const blockattn::Tokenizer& tok, int n_tokens, uint64_t seed) {
  static const char* kWords[] = {"the",    "archive", "river",  "code",  "north",  "engine",
                                 "value",  "garden",  "system", "stone", "light",  "record",
                                 "number", "city",    "block",  "cache", "signal", "paper",
                                 "window", "market",  "is",     "of",    "and",    "a",
                                 "to",     "in",      "was",    "with"};
  std::mt19937_64 rng(seed);
  std::string text = "Document " + std::to_string(seed) + ".";
  while (static_cast<int>(tok.encode(text).size()) < n_tokens) {
    for (int i = 0; i < 16; ++i)
      text += std::string(" ") + kWords[rng() % (sizeof kWords / sizeof *kWords)];
    text += ".";
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  blockattn::keep_freed_host_memory();  // as the CLI does (src/core/host_allocator.h)
  CLI::App app{"Time to first token: block mode cold / warm vs full attention"};
  blockattn::EngineConfig cfg;
  int n_blocks = 8, block_tokens = 256, repeats = 3;
  app.add_option("--model", cfg.model_dir)->required();
  app.add_option("--device", cfg.device)->capture_default_str();
  app.add_option("--dtype", cfg.dtype)->capture_default_str();
  app.add_option("--blocks", n_blocks)->capture_default_str();
  app.add_option("--block-tokens", block_tokens)->capture_default_str();
  app.add_option("--repeats", repeats, "Warm/full runs to average")->capture_default_str();
  app.add_option("--cache-dir", cfg.cache.disk_dir,
                 "Also measure warm-from-disk with this (empty) dir");
  CLI11_PARSE(app, argc, argv);
  try {
    auto engine = blockattn::Engine::create(cfg);
    auto tok = blockattn::Tokenizer::load(cfg.model_dir);
    blockattn::GenerateRequest req;
    for (int i = 0; i < n_blocks; ++i)
      req.blocks.push_back(make_block(*tok, block_tokens, 1000 + i));
    req.query = "Which document mentions the archive first?";
    req.max_new_tokens = 4;
    auto ttft = [&](blockattn::Engine& e, blockattn::AttentionMode mode, int runs) {
      req.mode = mode;
      double sum = 0;
      blockattn::GenerateResult r;
      for (int i = 0; i < runs; ++i) sum += (r = e.generate(req)).timings.ttft_ms;
      return std::make_pair(sum / runs, r.timings);
    };
    // Warm up libtorch kernels on an unrelated prompt so "cold" measures block encoding only.
    {
      blockattn::GenerateRequest w = req;
      w.blocks = {"warm up"};
      engine->generate(w);
    }
    auto [cold, tc] = ttft(*engine, blockattn::AttentionMode::kBlock, 1);
    auto [warm, tw] = ttft(*engine, blockattn::AttentionMode::kBlock, repeats);
    auto [full, tf] = ttft(*engine, blockattn::AttentionMode::kFull, repeats);
    blockattn::ModelInfo info = engine->info();
    int block_total = 0;
    for (const auto& b : req.blocks) block_total += static_cast<int>(tok->encode(b).size());
    std::printf(
        "model %s (%.1f M params, %s on %s), prompt %d tokens: %d blocks (%d tokens) + query\n",
        info.architecture.c_str(), info.parameters / 1e6, info.dtype.c_str(), info.device.c_str(),
        tc.prompt_tokens, n_blocks, block_total);
    std::printf("TTFT block cold   %9.2f ms  (computed %d, reused %d)\n", cold, tc.blocks_computed,
                tc.blocks_reused);
    std::printf("TTFT block warm   %9.2f ms  (computed %d, reused %d, memory tier)\n", warm,
                tw.blocks_computed, tw.blocks_reused);
    if (!cfg.cache.disk_dir.empty()) {
      engine->flush_cache();  // every entry on disk before the fresh engine looks
      std::printf("first engine: %llu new entries not written to the lower tiers (queue full)\n",
                  static_cast<unsigned long long>(engine->cache_stats().writes_dropped));
      auto fresh = blockattn::Engine::create(cfg);
      // The fresh engine's kernels warm up on an unrelated prompt too: the disk figure is the
      // disk's, not the first forward's setup.
      {
        blockattn::GenerateRequest w = req;
        w.blocks = {"warm up"};
        fresh->generate(w);
      }
      auto [disk, td] = ttft(*fresh, blockattn::AttentionMode::kBlock, 1);
      uint64_t bytes = 0;
      for (const auto& f : std::filesystem::recursive_directory_iterator(cfg.cache.disk_dir))
        if (f.is_regular_file() && f.path().extension() == ".bakv") bytes += f.file_size();
      std::printf(
          "TTFT block disk   %9.2f ms  (computed %d, reused %d, fresh engine, disk tier; "
          "%.2f GB of entries on disk, %.2f GB/s if all were read)\n",
          disk, td.blocks_computed, td.blocks_reused, bytes / 1e9, bytes / 1e6 / disk);
      // Why blocks were computed rather than read: computing was faster (the overlapped
      // load-or-compute took them), or the tier had no valid entry.
      const blockattn::CacheStats cs = fresh->cache_stats();
      std::printf(
          "  fresh engine: %llu read from a lower tier, %llu computed (%llu of them while the "
          "tier had them: load-or-compute), %llu corrupt",
          static_cast<unsigned long long>(cs.lower_hits),
          static_cast<unsigned long long>(cs.misses),
          static_cast<unsigned long long>(cs.tier_skips),
          static_cast<unsigned long long>(cs.corrupt_dropped));
      for (const blockattn::TierCacheStats& t : cs.tiers)
        std::printf("; %s hits %llu misses %llu errors %llu", t.name.c_str(),
                    static_cast<unsigned long long>(t.hits),
                    static_cast<unsigned long long>(t.misses),
                    static_cast<unsigned long long>(t.errors));
      std::printf("\n");
    }
    std::printf("TTFT full         %9.2f ms\n", full);
    std::printf("cold/warm ratio   %9.2f x | full/warm ratio %.2f x\n", cold / warm, full / warm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
