#include "train/block_layout.h"

#include <algorithm>

#include "blockattn/error.h"

namespace blockattn::train {

namespace {

// [R, T, T] mask from per-token rules (see SampleLayout), built on `device`:
// start = first token of the token's sample in the row, prefix_end = start + sees_prefix.
torch::Tensor rule_mask(const std::vector<int64_t>& group, const std::vector<int64_t>& start,
                        const std::vector<int64_t>& prefix_end, int64_t R, int64_t T,
                        torch::Device device) {
  auto to_dev = [&](const std::vector<int64_t>& v) {
    return torch::tensor(v, torch::kInt64).view({R, T}).to(device);  // [R, T]
  };
  torch::Tensor grp = to_dev(group), lo = to_dev(start).unsqueeze(2),
                hi = to_dev(prefix_end).unsqueeze(2);
  torch::Tensor key =
      torch::arange(T, torch::TensorOptions().dtype(torch::kInt64).device(device));  // [T]
  torch::Tensor query = key.view({1, T, 1});                                         // [1, T, 1]
  torch::Tensor k = key.view({1, 1, T});                                             // [1, 1, T]
  torch::Tensor same_group = grp.unsqueeze(2) == grp.unsqueeze(1);                   // [R, T, T]
  return (k <= query) & (k >= lo) & (same_group | (k < hi));                         // [R, T, T]
}

}  // namespace

PackedBatch pack_rows(const std::vector<SampleLayout>& layouts,
                      const std::vector<const BlockSample*>& samples,
                      const std::vector<std::vector<size_t>>& rows, torch::Device device,
                      MaskForm masks) {
  if (layouts.size() != samples.size()) throw InputError("pack_rows: one sample per layout");
  const int64_t R = static_cast<int64_t>(rows.size());
  int64_t T = 1, Tc = 1;
  for (const auto& row : rows) {
    int64_t len = 0, clen = 0;
    for (size_t i : row) {
      len += static_cast<int64_t>(layouts[i].ids.size());
      clen += static_cast<int64_t>(samples[i]->content_tokens());
    }
    T = std::max(T, len);
    Tc = std::max(Tc, clen);
  }
  // Padding tokens: id 0, own group, no prefix, so each attends only to itself.
  std::vector<int64_t> ids(R * T, 0), pos(R * T, 0), grp(R * T), start(R * T), prefix(R * T);
  std::vector<int64_t> cids(R * Tc, 0), cgrp(R * Tc), cstart(R * Tc);
  for (int64_t i = 0; i < R * T; ++i) grp[i] = -1 - i, start[i] = prefix[i] = i % T;
  for (int64_t i = 0; i < R * Tc; ++i) cgrp[i] = -1 - i, cstart[i] = i % Tc;
  std::vector<int64_t> student_flat, content_flat, targets, pred_row;
  for (int64_t r = 0; r < R; ++r) {
    int64_t at = 0, cat = 0, group_base = 0;
    for (size_t i : rows[r]) {
      const SampleLayout& l = layouts[i];
      const std::vector<int64_t> content = content_ids(*samples[i]);
      for (size_t t = 0; t < l.ids.size(); ++t) {
        const int64_t f = r * T + at + static_cast<int64_t>(t);
        ids[f] = l.ids[t];
        pos[f] = l.positions[t];
        grp[f] = group_base + l.group[t];
        start[f] = at;
        prefix[f] = at + l.sees_prefix[t];
      }
      for (size_t c = 0; c < content.size(); ++c) {
        const int64_t f = r * Tc + cat + static_cast<int64_t>(c);
        cids[f] = content[c];
        cgrp[f] = static_cast<int64_t>(i);
        cstart[f] = cat;
      }
      for (size_t p = 0; p < l.student_index.size(); ++p) {
        student_flat.push_back(r * T + at + l.student_index[p]);
        content_flat.push_back(r * Tc + cat + l.content_index[p]);
        targets.push_back(content[l.content_index[p] + 1]);
        pred_row.push_back(r);
      }
      group_base += *std::max_element(l.group.begin(), l.group.end()) + 1;
      at += static_cast<int64_t>(l.ids.size());
      cat += static_cast<int64_t>(content.size());
    }
  }
  PackedBatch b;
  auto dev = [&](const std::vector<int64_t>& v, std::vector<int64_t> shape) {
    return torch::tensor(v, torch::kInt64).view(shape).to(device);
  };
  b.ids = dev(ids, {R, T});
  b.positions = dev(pos, {R, T});
  // Padding groups are negative in both forms (in the mask each pad token is its own group).
  b.spans = plan_span_attention(attention_spans(grp, start, prefix, R, T), R * T, device);
  if (masks == MaskForm::kDense) b.mask = rule_mask(grp, start, prefix, R, T, device);
  b.predictions = static_cast<int64_t>(targets.size());
  b.student_flat = dev(student_flat, {b.predictions});
  b.content_flat = dev(content_flat, {b.predictions});
  b.targets = dev(targets, {b.predictions});
  b.prediction_row = dev(pred_row, {b.predictions});
  b.content_ids = dev(cids, {R, Tc});
  b.content_spans =
      plan_span_attention(attention_spans(cgrp, cstart, cstart, R, Tc), R * Tc, device);
  if (masks == MaskForm::kDense) b.content_mask = rule_mask(cgrp, cstart, cstart, R, Tc, device);
  return b;
}

}  // namespace blockattn::train
