#include "tokenizer/word_cache.h"

#include <mutex>

namespace blockattn::tok {

bool WordCache::get(const std::string& word, std::vector<int32_t>& out) const {
  Shard& s = shard_of(word);
  std::shared_lock lock(s.mu);
  auto it = s.map.find(word);
  if (it == s.map.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::put(const std::string& word, const int32_t* ids, size_t n) const {
  if (word.size() > kMaxWordBytes) return;
  Shard& s = shard_of(word);
  std::unique_lock lock(s.mu);
  if (s.map.size() >= shard_capacity_) s.map.clear();
  s.map.try_emplace(word, ids, ids + n);
}

}  // namespace blockattn::tok
