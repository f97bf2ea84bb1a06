#include "cache/tier_factory.h"

#include "cache/disk_tier.h"
#include "cache/redis_tier.h"

namespace blockattn {

std::vector<std::unique_ptr<ByteTier>> make_tiers(const KVStoreConfig& config) {
  std::vector<std::unique_ptr<ByteTier>> tiers;
  if (!config.disk_dir.empty()) {
    DiskTierConfig disk;
    disk.dir = config.disk_dir;
    disk.budget_bytes = config.disk_budget_bytes;
    tiers.push_back(std::make_unique<DiskTier>(disk));
  }
  if (!config.redis_url.empty()) {
    RedisTierConfig redis;
    redis.url = config.redis_url;
    redis.key_prefix = config.redis_key_prefix;
    redis.connect_timeout_ms = config.redis_connect_timeout_ms;
    redis.command_timeout_ms = config.redis_command_timeout_ms;
    redis.ttl_seconds = config.redis_ttl_seconds;
    redis.cooldown_ms = config.redis_cooldown_ms;
    redis.chunk_bytes = config.redis_chunk_bytes;
    tiers.push_back(std::make_unique<RedisTier>(redis));
  }
  return tiers;
}

}  // namespace blockattn
