// Byte-budgeted LRU bookkeeping for BlockStore's in-memory KV tiers (device and host).
//
// Holds only keys and sizes: BlockStore owns the tensors in its own maps and asks this index what
// to drop. Every operation is O(1) (a recency list plus a hash map into it) except
// evict_to_fit, which is O(evicted keys). Not thread-safe and takes no lock itself: BlockStore
// calls it only while holding BlockStore::mu_, the mutex that also guards its tensor maps.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>
#include <utility>
#include <vector>

namespace blockattn {

template <class Key, class Hash = std::hash<Key>>
class LruIndex {
 public:
  // Marks `key` most recently used. True if it was present.
  bool touch(const Key& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    order_.splice(order_.begin(), order_, it->second);
    return true;
  }

  // Adds `key` as most recently used. Re-inserting a present key updates its size and recency.
  // Never evicts by itself (the total may exceed any budget): call evict_to_fit afterwards, so
  // the caller decides when the dropped tensors are released.
  void insert(const Key& key, uint64_t bytes) {
    auto it = map_.find(key);
    if (it != map_.end()) {
      bytes_ = bytes_ - it->second->second + bytes;
      it->second->second = bytes;
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, bytes);
    map_.emplace(key, order_.begin());
    bytes_ += bytes;
  }

  // Removes least recently used keys until bytes() <= budget; returns them oldest first. They
  // are no longer in the index.
  std::vector<Key> evict_to_fit(uint64_t budget) {
    std::vector<Key> out;
    while (bytes_ > budget && !order_.empty()) {
      auto& [key, bytes] = order_.back();
      bytes_ -= bytes;
      map_.erase(key);
      out.push_back(std::move(key));
      order_.pop_back();
    }
    return out;
  }

  // True if `key` was present.
  bool erase(const Key& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    bytes_ -= it->second->second;
    order_.erase(it->second);
    map_.erase(it);
    return true;
  }

  bool contains(const Key& key) const { return map_.count(key) != 0; }
  uint64_t bytes() const { return bytes_; }
  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }

  // Keys from most to least recently used (diagnostics and tests; O(n)).
  std::vector<Key> keys_mru_first() const {
    std::vector<Key> out;
    out.reserve(order_.size());
    for (const auto& e : order_) out.push_back(e.first);
    return out;
  }

 private:
  using Order = std::list<std::pair<Key, uint64_t>>;
  Order order_;  // front = most recently used
  std::unordered_map<Key, typename Order::iterator, Hash> map_;
  uint64_t bytes_ = 0;
};

}  // namespace blockattn
