// Block-structured samples packed into rows of one forward pass, for training and scoring.
//
// The layout of each sample (which token sits where, which attends to which) is planned once, in
// attention/prompt_layout.h (lay_out_sample, the per-token form of the engine's PromptLayout);
// this file only packs planned samples into torch tensors with their attention mask.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "attention/prompt_layout.h"
#include "model/span_attention.h"

namespace blockattn::train {

// The planner's types and functions, under the names training code has always used.
using blockattn::BlockSample;
using blockattn::content_ids;
using blockattn::lay_out_sample;
using blockattn::LayoutOptions;
using blockattn::SampleLayout;

// Samples packed into rows for one forward pass. Row r holds the samples rows[r] (indices into
// the caller's lists), each attending only within itself; padding tokens attend to themselves.
struct PackedBatch {
  torch::Tensor ids;             // [R, T] int64 student tokens
  torch::Tensor positions;       // [R, T] int64
  torch::Tensor mask;            // [R, T, T] bool, on `device` (MaskForm::kDense only)
  SpanPlan spans;                // the same pattern as query spans (model/span_attention.h)
  torch::Tensor student_flat;    // [N] int64: row * T + t of each supervised prediction
  torch::Tensor content_flat;    // [N] int64: row * Tc + c in the content batch below
  torch::Tensor targets;         // [N] int64: the next content token of each prediction
  torch::Tensor prediction_row;  // [N] int64: row of each prediction (per-row normalisation)
  torch::Tensor content_ids;     // [R, Tc] int64: each row's samples' content tokens
  torch::Tensor content_mask;    // [R, Tc, Tc] bool: causal within each sample (kDense only)
  SpanPlan content_spans;        // the same as query spans
  int64_t predictions = 0;       // N
};

// Which forms of the attention pattern pack_rows builds: query spans always; the dense masks
// (R T² booleans, built on the device) only where asked for.
enum class MaskForm { kDense, kSpansOnly };

// Packs layouts (and their samples' content) into rows; `rows[r]` lists the layouts of row r.
// Everything is built on the CPU and moved to `device`.
// `samples[i]` is the sample layouts[i] was made from.
PackedBatch pack_rows(const std::vector<SampleLayout>& layouts,
                      const std::vector<const BlockSample*>& samples,
                      const std::vector<std::vector<size_t>>& rows, torch::Device device,
                      MaskForm masks = MaskForm::kDense);

}  // namespace blockattn::train
