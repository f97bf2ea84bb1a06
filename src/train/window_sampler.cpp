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

WindowSampler::WindowSampler(std::vector<WindowSource> sources, int64_t seq_len, uint64_t seed, uint64_t stream)
    : window_(seq_len + 1), stream_seed_(splitmix64(seed ^ splitmix64(stream))) {
  if (sources.empty()) throw InputError("no training data sources");
  const uint64_t window = static_cast<uint64_t>(window_);
  double total_weight = 0;
  for (const WindowSource& spec : sources) {
    if (!(spec.weight > 0)) throw InputError("data source weights must be positive");
    Source s{spec, {}, 0};
    uint64_t total = 0;
    for (const TokenShard& shard : spec.data->shards()) {
      if (shard.num_tokens() >= window) total += spec.document_starts ? shard.num_docs() : shard.num_tokens() - window + 1;
      s.cumulative.push_back(total);
    }
    if (total == 0)
      throw InputError("the shards in " + spec.data->dir() + " hold no window of seq_len + 1 = " +
                       std::to_string(window_) + " tokens (largest shard too small)");
    total_weight += spec.weight;
    s.cumulative_weight = total_weight;
    sources_.push_back(std::move(s));
  }
  for (Source& s : sources_) s.cumulative_weight /= total_weight;
  sources_.back().cumulative_weight = 1.0;
}

uint64_t WindowSampler::window_start(const Source& s, size_t shard, uint64_t choice) const {
  if (!s.spec.document_starts) return choice;
  const TokenShard& sh = s.spec.data->shards()[shard];
  return std::min(sh.doc_bounds(choice).first, sh.num_tokens() - static_cast<uint64_t>(window_));
}

void WindowSampler::next(int64_t n, std::vector<int64_t>& out) {
  for (int64_t i = 0; i < n; ++i, ++cursor_) {
    uint64_t r = splitmix64(stream_seed_ + cursor_);
    const Source* src = &sources_[0];
    if (sources_.size() > 1) {
      const double u = static_cast<double>(r >> 11) * 0x1.0p-53;  // [0, 1)
      src = &*std::find_if(sources_.begin(), sources_.end(), [&](const Source& s) { return u < s.cumulative_weight; });
      r = splitmix64(r);
    }
    // Modulo bias is < total / 2^64: irrelevant for sampling windows.
    const uint64_t pick = r % src->cumulative.back();
    const size_t shard = std::upper_bound(src->cumulative.begin(), src->cumulative.end(), pick) - src->cumulative.begin();
    const uint64_t start = window_start(*src, shard, pick - (shard == 0 ? 0 : src->cumulative[shard - 1]));
    const size_t at = out.size();
    out.resize(at + window_);
    src->spec.data->shards()[shard].tokens().copy_to(start, window_, out.data() + at);
  }
}

}  // namespace blockattn::train
