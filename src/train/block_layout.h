// How a block-structured sample becomes training (and scoring) sequences.
//
// A sample is blocks of content tokens [B0 … Bn-1][F]; F, the final block, attends to everything
// before it. Its student layout, as the engine lays out a block-mode prompt:
//
//   [s B0][s B1] … [s Bn-1][F][B_i copy][B_j copy] …
//
// `s` = k sink tokens before every context block (the engine adds them in full mode too). Context
// blocks attend causally within themselves (sinks included); F attends to everything before it.
// The copies are block dropout's query blocks (docs/distillation.md): context block i, appended
// again after F at the positions it would have as the final block of the prefix B0..Bi-1 (i.e.
// starting at block i's own offset), attending to blocks 0..i-1 and causally to itself — so one
// pass supervises block i as if it were the question, while the blocks after it still see only
// block-mode KV. Full mode: the same tokens without copies, ordinary causal attention.
//
// The teacher sees only the content tokens, with causal attention; a supervised prediction pairs
// a student position with the content position whose next-token distribution it must match.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace blockattn::train {

// Content of one sample: ≥ 2 non-empty blocks of token ids, the last one being F.
struct BlockSample {
  std::vector<std::vector<int32_t>> blocks;
  std::string category;
  size_t content_tokens() const;
};

struct LayoutOptions {
  bool block_mode = true;   // false: ordinary causal attention (full mode), no copies
  int32_t sink_tokens = 0;  // k ≥ 0 sinks before every context block
  int32_t sink_token_id = 0;
  std::vector<size_t> copies;  // context blocks (1 ≤ i < n) appended as query copies, ascending
};

// One sample laid out. Attention rule for token t of the sample and key s:
//   s ≤ t  and  (group[s] == group[t]  or  s < sees_prefix[t]).
struct SampleLayout {
  std::vector<int64_t> ids;          // [n] student tokens
  std::vector<int64_t> positions;    // [n] RoPE positions
  std::vector<int64_t> group;        // [n] attention group (block) of each token, 0-based
  std::vector<int64_t> sees_prefix;  // [n] tokens [0, sees_prefix) visible beyond the own group
  // Supervised predictions: the student's logits at student_index[i] must predict what the
  // teacher (full attention over the content) predicts at content_index[i], i.e. the next content
  // token content_index[i] + 1 (always < content length).
  std::vector<int64_t> student_index, content_index;
};

// InputError for fewer than 2 blocks, an empty block, a copy index out of [1, n) or unsorted.
SampleLayout lay_out_sample(const BlockSample& sample, const LayoutOptions& options);

// The content tokens of `sample` back to back ([content_tokens()]).
std::vector<int64_t> content_ids(const BlockSample& sample);

// Samples packed into rows for one forward pass. Row r holds the samples rows[r] (indices into
// the caller's lists), each attending only within itself; padding tokens attend to themselves.
struct PackedBatch {
  torch::Tensor ids;             // [R, T] int64 student tokens
  torch::Tensor positions;       // [R, T] int64
  torch::Tensor mask;            // [R, T, T] bool, on `device`
  torch::Tensor student_flat;    // [N] int64: row * T + t of each supervised prediction
  torch::Tensor content_flat;    // [N] int64: row * Tc + c in the content batch below
  torch::Tensor targets;         // [N] int64: the next content token of each prediction
  torch::Tensor prediction_row;  // [N] int64: row of each prediction (per-row normalisation)
  torch::Tensor content_ids;     // [R, Tc] int64: each row's samples' content tokens
  torch::Tensor content_mask;    // [R, Tc, Tc] bool: causal within each sample
  int64_t predictions = 0;       // N
};

// Packs layouts (and their samples' content) into rows; `rows[r]` lists the layouts of row r.
// Everything is built on the CPU and moved to `device`.
// `samples[i]` is the sample layouts[i] was made from.
PackedBatch pack_rows(const std::vector<SampleLayout>& layouts,
                      const std::vector<const BlockSample*>& samples,
                      const std::vector<std::vector<size_t>>& rows, torch::Device device);

}  // namespace blockattn::train
