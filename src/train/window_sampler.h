// Random training windows of seq_len + 1 tokens from one or several TokenDatasets (torch-free).
//
// Window i of a stream is a pure function of (seed, stream, i): the sampler's whole state is
// the count of windows drawn so far (the "data cursor"), which checkpoints store, so a resumed
// run reads exactly the windows an uninterrupted one would have. With several sources, window i
// first draws its source by weight, then its start inside that source.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/token_shard.h"

namespace blockattn::train {

struct WindowSource {
  const TokenDataset* data = nullptr;  // borrowed
  double weight = 1;
  // true: windows start at a document start (a document near a shard's end starts the last
  // window of that shard instead); false: at any token.
  bool document_starts = false;
};

class WindowSampler {
 public:
  // InputError if a source holds no window of seq_len + 1 tokens, or weights are not positive.
  WindowSampler(std::vector<WindowSource> sources, int64_t seq_len, uint64_t seed, uint64_t stream);
  // One source, windows anywhere.
  WindowSampler(const TokenDataset& data, int64_t seq_len, uint64_t seed, uint64_t stream)
      : WindowSampler({WindowSource{&data, 1, false}}, seq_len, seed, stream) {}

  // Appends `n` windows ([n, seq_len + 1] row-major) to `out` and advances the cursor by n.
  void next(int64_t n, std::vector<int64_t>& out);

  uint64_t cursor() const { return cursor_; }
  void set_cursor(uint64_t c) { cursor_ = c; }

 private:
  struct Source {
    WindowSource spec;
    // [n_shards]: choices (window starts or documents) in shards 0..i, cumulated
    std::vector<uint64_t> cumulative;
    double cumulative_weight = 0;  // of sources 0..this, normalised to end at 1
  };
  uint64_t window_start(const Source& s, size_t shard, uint64_t choice) const;

  int64_t window_;
  uint64_t stream_seed_;
  std::vector<Source> sources_;
  uint64_t cursor_ = 0;
};

}  // namespace blockattn::train
