// Bounded, thread-safe memo of BPE results per pre-token: natural text repeats the same words,
// and merging is the costly step.
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace blockattn::tok {

class WordCache {
 public:
  // Holds at most about `capacity` words; a full shard is emptied (cheap, and the working set
  // refills it quickly).
  explicit WordCache(size_t capacity) : shard_capacity_(capacity / kShards + 1) {}

  // Appends the cached ids of `word` to `out` and returns true, or returns false.
  bool get(const std::string& word, std::vector<int32_t>& out) const;
  void put(const std::string& word, const int32_t* ids, size_t n) const;

  // Longer words are not worth caching (rare, and they would crowd the cache).
  static constexpr size_t kMaxWordBytes = 256;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>> map;
  };
  Shard& shard_of(const std::string& word) const {
    return shards_[std::hash<std::string>{}(word) % kShards];
  }

  size_t shard_capacity_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace blockattn::tok
