// The Redis-tier options shared by every command that builds an Engine with a block cache
// (generate, serve): --redis, --redis-ttl, --redis-prefix, --redis-timeout-ms.
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

}  // namespace blockattn::cli
