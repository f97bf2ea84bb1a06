// Cuts a stream of gold blocks into instances: consecutive blocks (across documents of the same
// category when one document is too short) up to a length drawn per instance, each block used
// at most once. Shared by the corpus categories and multi-document.
#pragma once

#include <cstddef>
#include <vector>

#include "data/synthetic_rng.h"
#include "segdata/dataset_instance.h"

namespace blockattn::segment {

struct WindowStats {
  size_t available_tokens = 0;  // sum of the pieces' own counts
  size_t dropped_pieces = 0;  // blocks that ended in no instance (too long alone, or a short tail)
  size_t dropped_tokens = 0;
};

// A length target for the next instance: log-uniform in [min_tokens, max_tokens], so every
// octave of the range (2k-4k, 4k-8k, ...) gets about the same number of instances.
size_t draw_target(data::SynthRng& rng, size_t min_tokens, size_t max_tokens);

// Greedy: pieces are appended until their estimated sum reaches the target, then the instance
// is counted exactly (finalize_instance); pieces cut off at the maximum start the next
// instance. A piece that alone reaches max_tokens is skipped (it cannot share an instance).
// Instances come back without id, category and split.
std::vector<SegInstance> assemble_windows(std::vector<InstancePiece> pieces,
                                          const DatasetCounter& counter, size_t min_tokens,
                                          size_t max_tokens, data::SynthRng& rng,
                                          WindowStats& stats);

}  // namespace blockattn::segment
