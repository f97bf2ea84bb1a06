// The block-cache options shared by every command that builds an Engine with a block cache
// (generate, serve): --cache-dir, --cache-mb, --memory-cache-mb, --host-cache-mb, and the Redis
// tier's --redis, --redis-ttl, --redis-prefix, --redis-timeout-ms.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "cache/redis_tier.h"
#include "option_checks.h"

namespace blockattn::cli {

// CLI11 validator: a URL parse_redis_url accepts; otherwise its one-line reason.
inline CLI::Validator redis_url() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        try {
          parse_redis_url(s);
        } catch (const InputError& e) {
          return e.what();
        }
        return "";
      },
      "URL");
}

inline void add_redis_options(CLI::App* cmd, KVStoreConfig& cache) {
  cmd->add_option("--redis", cache.redis_url,
                  "Redis block KV tier shared by engines and servers, searched after --cache-dir:\n"
                  "redis://[[user]:password@]host[:port][/db]. Unreachable or failing: blocks are\n"
                  "recomputed (a failure pauses the tier for 2 s, then it is retried)")
      ->check(redis_url());
  cmd->add_option("--redis-ttl", cache.redis_ttl_seconds,
                  "Seconds each block written to --redis lives (0: no expiry; Redis' own\n"
                  "maxmemory policy evicts)")
      ->check(integer_in(0, 2147483647))
      ->capture_default_str();
  cmd->add_option("--redis-prefix", cache.redis_key_prefix,
                  "Namespace of the keys written to --redis (<prefix><32 hex digits>)")
      ->capture_default_str();
  cmd->add_option("--redis-timeout-ms", cache.redis_command_timeout_ms,
                  "Longest wait for one read or write on a Redis connection, ms")
      ->check(integer_in(1, 600000))
      ->capture_default_str();
}

// Tier sizes as typed (validated and converted by apply_cache_sizes).
struct CacheSizeOptions {
  std::string memory_mb = "auto", host_mb = "auto";
  double disk_mb = 20480;
};

inline void add_cache_options(CLI::App* cmd, KVStoreConfig& cache, CacheSizeOptions& sizes) {
  cmd->add_option("--cache-dir", cache.disk_dir,
                  "Directory for the on-disk block KV cache (shared by processes)");
  cmd->add_option("--cache-mb", sizes.disk_mb, "Size limit of --cache-dir in MiB (LRU eviction)")
      ->capture_default_str();
  cmd->add_option("--memory-cache-mb", sizes.memory_mb,
                  "Device-memory block KV budget in MiB (0 disables); auto: 40% of the free device "
                  "memory on CUDA, 2048 on the CPU")
      ->capture_default_str();
  cmd->add_option("--host-cache-mb", sizes.host_mb,
                  "Host-memory (pinned) block KV tier in MiB between device memory and "
                  "--cache-dir, CUDA only (0 disables); auto: a quarter of RAM, at most 64 GiB")
      ->capture_default_str();
  add_redis_options(cmd, cache);
}

// One-line InputError naming the option for a size that is not a valid budget.
inline void apply_cache_sizes(const CacheSizeOptions& sizes, KVStoreConfig& cache) {
  cache.memory_budget_bytes = memory_budget_option(sizes.memory_mb, "--memory-cache-mb");
  cache.host_budget_bytes = memory_budget_option(sizes.host_mb, "--host-cache-mb");
  cache.disk_budget_bytes = mib_to_bytes(sizes.disk_mb, "--cache-mb", /*allow_zero=*/false);
}

}  // namespace blockattn::cli
