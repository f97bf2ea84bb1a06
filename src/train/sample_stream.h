// Block samples for block distillation / fine-tuning: JSONL files of
// {"blocks": ["text", …], "category": "…"} (`blockattn blockdata`, `blockattn synth --format
// blocks`), tokenized block by block as the engine does, and served as a deterministic, resumable
// stream packed into rows of at most seq_len content tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/block_layout.h"

namespace blockattn {
class Tokenizer;
}

namespace blockattn::train {

struct SampleLoadOptions {
  int64_t max_content_tokens =
      2048;  // leading blocks are dropped until a sample fits (≥ 2 blocks left)
  int64_t max_layout_tokens = 4096;  // content + sinks must fit the model's context
  int32_t sink_tokens = 0;
  size_t threads = 1;  // tokenizer threads; the result does not depend on it
  std::function<void(const std::string&)> progress;
};

struct SampleSet {
  std::vector<BlockSample> samples;
  uint64_t trimmed = 0;  // samples that lost leading blocks to fit
  uint64_t dropped = 0;  // samples that could not fit with 2 blocks, or had an empty block
  uint64_t content_tokens = 0;
};

// Every *.jsonl file of `dir` (sorted by name), blank lines skipped. IoError if `dir` is missing
// or holds no .jsonl file; FormatError "file:line: …" for a bad line (not JSON, no "blocks" array
// of ≥ 2 strings); InputError if no sample survives.
SampleSet load_samples(const std::string& dir, const Tokenizer& tokenizer,
                       const SampleLoadOptions& options);

// An endless stream over a sample set: epoch e visits the samples in a permutation seeded by
// (seed, e). Position i of the stream is the same whatever was read before, so a cursor resumes it.
class SampleStream {
 public:
  SampleStream(const SampleSet& set, uint64_t seed);

  // Sample index (into set.samples) at stream position i.
  size_t at(uint64_t i) const;
  // Rows of consecutive stream samples from `cursor` (advanced), each holding as many as fit in
  // `row_tokens` content tokens (at least one).
  std::vector<std::vector<uint64_t>> next_rows(uint64_t& cursor, int64_t n_rows,
                                               int64_t row_tokens) const;

 private:
  const SampleSet& set_;
  uint64_t seed_;
  mutable uint64_t cached_epoch_ = UINT64_MAX;
  mutable std::vector<size_t> perm_;
};

// A 64-bit mix of (seed, a, b) for per-sample decisions that must not depend on history.
uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0);

}  // namespace blockattn::train
