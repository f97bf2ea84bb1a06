// Random training windows of seq_len + 1 tokens from a TokenDataset (torch-free).
//
// Window i of a stream is a pure function of (seed, stream, i): the sampler's whole state is
// the count of windows drawn so far (the "data cursor"), which checkpoints store, so a resumed
// run reads exactly the windows an uninterrupted one would have.
#pragma once

#include <cstdint>
#include <vector>

#include "data/token_shard.h"

namespace blockattn::train {

class WindowSampler {
 public:
  // InputError if no shard holds seq_len + 1 tokens. Borrows `data`.
  WindowSampler(const TokenDataset& data, int64_t seq_len, uint64_t seed, uint64_t stream);

  // Appends `n` windows ([n, seq_len + 1] row-major) to `out` and advances the cursor by n.
  void next(int64_t n, std::vector<int64_t>& out);

  uint64_t cursor() const { return cursor_; }
  void set_cursor(uint64_t c) { cursor_ = c; }

 private:
  const TokenDataset& data_;
  int64_t window_;
  uint64_t seed_, stream_;
  std::vector<uint64_t> cumulative_starts_;  // [n_shards]: valid window starts in shards 0..i
  uint64_t cursor_ = 0;
};

}  // namespace blockattn::train
