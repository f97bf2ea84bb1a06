// Byte-budgeted LRU bookkeeping (src/cache/lru_index.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "cache/block_key.h"
#include "cache/lru_index.h"

namespace blockattn {
namespace {

using Keys = std::vector<std::string>;
using Index = LruIndex<std::string>;

TEST(LruIndex, InsertTouchAndEvictInLruOrder) {
  Index lru;
  EXPECT_EQ(lru.size(), 0u);
  EXPECT_EQ(lru.bytes(), 0u);
  lru.insert("a", 10);
  lru.insert("b", 20);
  lru.insert("c", 30);
  EXPECT_EQ(lru.size(), 3u);
  EXPECT_EQ(lru.bytes(), 60u);
  EXPECT_EQ(lru.keys_mru_first(), (Keys{"c", "b", "a"}));

  EXPECT_TRUE(lru.touch("a"));
  EXPECT_FALSE(lru.touch("zz"));
  EXPECT_EQ(lru.keys_mru_first(), (Keys{"a", "c", "b"}));

  EXPECT_EQ(lru.evict_to_fit(60), Keys{});  // already fits: nothing to drop
  EXPECT_EQ(lru.evict_to_fit(35), (Keys{"b", "c"}));  // 60 -> 40 -> 10
  EXPECT_EQ(lru.size(), 1u);
  EXPECT_EQ(lru.bytes(), 10u);
  EXPECT_FALSE(lru.contains("b"));
  EXPECT_FALSE(lru.touch("c"));
  EXPECT_TRUE(lru.contains("a"));
}

TEST(LruIndex, EvictionStopsAsSoonAsTheBudgetFits) {
  Index lru;
  for (const char* k : {"k1", "k2", "k3", "k4"}) lru.insert(k, 25);
  EXPECT_EQ(lru.evict_to_fit(75), (Keys{"k1"}));
  EXPECT_EQ(lru.bytes(), 75u);
  EXPECT_EQ(lru.evict_to_fit(74), (Keys{"k2"}));
  EXPECT_EQ(lru.bytes(), 50u);
  EXPECT_EQ(lru.evict_to_fit(0), (Keys{"k3", "k4"}));
  EXPECT_EQ(lru.size(), 0u);
  EXPECT_EQ(lru.bytes(), 0u);
  EXPECT_EQ(lru.evict_to_fit(0), Keys{});
}

TEST(LruIndex, InsertMayExceedTheBudgetAndASingleHugeEntryIsEvictable) {
  Index lru;
  lru.insert("small", 1);
  lru.insert("huge", 1000);
  EXPECT_EQ(lru.bytes(), 1001u);
  EXPECT_EQ(lru.evict_to_fit(500), (Keys{"small", "huge"}));
  EXPECT_EQ(lru.bytes(), 0u);
}

TEST(LruIndex, ReinsertingAKeyUpdatesItsSizeAndRecency) {
  Index lru;
  lru.insert("a", 10);
  lru.insert("b", 20);
  lru.insert("a", 5);
  EXPECT_EQ(lru.size(), 2u);
  EXPECT_EQ(lru.bytes(), 25u);
  EXPECT_EQ(lru.keys_mru_first(), (Keys{"a", "b"}));
  lru.insert("a", 50);
  EXPECT_EQ(lru.bytes(), 70u);
  EXPECT_EQ(lru.evict_to_fit(50), (Keys{"b"}));
  EXPECT_EQ(lru.bytes(), 50u);
}

TEST(LruIndex, EraseRemovesBytesAndKey) {
  Index lru;
  lru.insert("a", 10);
  lru.insert("b", 20);
  lru.insert("c", 30);
  EXPECT_TRUE(lru.erase("b"));
  EXPECT_FALSE(lru.erase("b"));
  EXPECT_EQ(lru.size(), 2u);
  EXPECT_EQ(lru.bytes(), 40u);
  EXPECT_EQ(lru.evict_to_fit(0), (Keys{"a", "c"}));
}

TEST(LruIndex, WorksWithBlockKeys) {
  auto key = [](int32_t t) { return make_block_key({"fp", 0, 0, DType::kBF16, &t, 1}); };
  LruIndex<BlockKey, std::hash<BlockKey>> lru;
  lru.insert(key(1), 100);
  lru.insert(key(2), 100);
  lru.touch(key(1));
  EXPECT_EQ(lru.evict_to_fit(150), (std::vector<BlockKey>{key(2)}));
}

// Random operations against a plain vector model (front = most recent).
TEST(LruIndex, MatchesAReferenceModel) {
  std::mt19937 rng(42);
  Index lru;
  std::vector<std::pair<std::string, uint64_t>> model;
  auto find = [&](const std::string& k) {
    return std::find_if(model.begin(), model.end(), [&](const auto& e) { return e.first == k; });
  };
  for (int step = 0; step < 5000; ++step) {
    std::string k = "k" + std::to_string(rng() % 40);
    switch (rng() % 4) {
      case 0: {
        uint64_t b = rng() % 100;
        lru.insert(k, b);
        auto it = find(k);
        if (it != model.end()) model.erase(it);
        model.insert(model.begin(), {k, b});
        break;
      }
      case 1: {
        auto it = find(k);
        bool present = it != model.end();
        ASSERT_EQ(lru.touch(k), present);
        if (present) std::rotate(model.begin(), it, it + 1);
        break;
      }
      case 2: {
        auto it = find(k);
        bool present = it != model.end();
        ASSERT_EQ(lru.erase(k), present);
        if (present) model.erase(it);
        break;
      }
      case 3: {
        uint64_t budget = rng() % 2000;
        Keys want;
        auto total = [&] {
          uint64_t t = 0;
          for (auto& e : model) t += e.second;
          return t;
        };
        while (total() > budget) {
          want.push_back(model.back().first);
          model.pop_back();
        }
        ASSERT_EQ(lru.evict_to_fit(budget), want) << "step " << step;
        break;
      }
    }
    uint64_t total = 0;
    Keys order;
    for (auto& e : model) {
      total += e.second;
      order.push_back(e.first);
    }
    ASSERT_EQ(lru.bytes(), total) << "step " << step;
    ASSERT_EQ(lru.size(), model.size()) << "step " << step;
    ASSERT_EQ(lru.keys_mru_first(), order) << "step " << step;
  }
}

}  // namespace
}  // namespace blockattn
