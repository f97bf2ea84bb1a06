#include "train/window_sampler.h"

#include <algorithm>

#include "blockattn/error.h"

namespace blockattn::train {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

WindowSampler::WindowSampler(const TokenDataset& data, int64_t seq_len, uint64_t seed, uint64_t stream)
    : data_(data), window_(seq_len + 1), seed_(seed), stream_(stream) {
  uint64_t total = 0;
  for (const auto& s : data.shards()) {
    if (s.num_tokens() >= static_cast<uint64_t>(window_)) total += s.num_tokens() - window_ + 1;
    cumulative_starts_.push_back(total);
  }
  if (total == 0)
    throw InputError("the shards in " + data.dir() + " hold no window of seq_len + 1 = " + std::to_string(window_) +
                     " tokens (largest shard too small)");
}

void WindowSampler::next(int64_t n, std::vector<int64_t>& out) {
  const uint64_t total = cumulative_starts_.back();
  for (int64_t i = 0; i < n; ++i, ++cursor_) {
    // Modulo bias is < total / 2^64: irrelevant for sampling windows.
    const uint64_t r = splitmix64(splitmix64(seed_ ^ splitmix64(stream_)) + cursor_) % total;
    const size_t shard =
        std::upper_bound(cumulative_starts_.begin(), cumulative_starts_.end(), r) - cumulative_starts_.begin();
    const uint64_t start = r - (shard == 0 ? 0 : cumulative_starts_[shard - 1]);
    const size_t at = out.size();
    out.resize(at + window_);
    data_.shards()[shard].tokens().copy_to(start, window_, out.data() + at);
  }
}

}  // namespace blockattn::train
