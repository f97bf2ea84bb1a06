// Random block-attention samples and layouts for the training-layout tests.
#pragma once

#include <cstdint>
#include <random>

#include "attention/prompt_layout.h"
#include "engine_test_util.h"

namespace blockattn::test {

// 2 .. max_blocks blocks of 1 .. max_len tokens (ids below 500).
inline BlockSample random_sample(std::mt19937& rng, int max_blocks, int max_len) {
  BlockSample s;
  const int n = 2 + static_cast<int>(rng() % (max_blocks - 1));
  for (int b = 0; b < n; ++b)
    s.blocks.push_back(ids_range(static_cast<int32_t>(rng() % 400), 1 + rng() % max_len, 500));
  return s;
}

// Block mode three times in four, 0-2 sinks (token 3), each eligible block copied with p = 1/2.
inline LayoutOptions random_options(std::mt19937& rng, const BlockSample& s) {
  LayoutOptions o;
  o.block_mode = rng() % 4 != 0;
  o.sink_tokens = static_cast<int32_t>(rng() % 3);
  o.sink_token_id = 3;
  if (o.block_mode)
    for (size_t i = 1; i + 1 < s.blocks.size(); ++i)
      if (rng() % 2) o.copies.push_back(i);
  return o;
}

}  // namespace blockattn::test
