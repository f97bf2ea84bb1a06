// The attention pattern of a packed training batch as query spans: the form fast attention
// kernels take, instead of a dense [R, T, T] mask. Pure data, torch-free (the ASan suite tests it).
//
// A packed row follows per-token rules (attention/prompt_layout.h, SampleLayout): token t sees
// key s iff  start[t] <= s <= t  and  (group[s] == group[t]  or  s < prefix_end[t]).
// Block attention's groups are contiguous runs of tokens -- a context block with its sinks, the
// final block, a block-dropout copy -- and what a group sees beyond itself is a run of earlier
// keys. So each group is one span: its queries see the span's key prefix in full and the span
// itself causally, which is one varlen causal attention call over gathered keys (causal aligned
// to the bottom right), or one small attention per span.
#pragma once

#include <cstdint>
#include <vector>

namespace blockattn {

// Queries [begin, begin + length) of the flattened batch (index row * T + t; a span never
// crosses rows). Query begin + i sees keys [prefix_begin, prefix_begin + prefix_length) and
// [begin, begin + i]. prefix_begin + prefix_length <= begin.
struct AttentionSpan {
  int64_t begin = 0, length = 0;
  int64_t prefix_begin = 0, prefix_length = 0;
  bool operator==(const AttentionSpan& o) const {
    return begin == o.begin && length == o.length && prefix_begin == o.prefix_begin &&
           prefix_length == o.prefix_length;
  }
};

// The spans of a batch of `rows` rows of `row_length` tokens, from the per-token rules above:
// all three vectors [rows * row_length], with start and prefix_end as indices within the row.
// A negative group marks padding: a run of padding tokens becomes one causal span whose
// outputs are unspecified (nothing reads them; in the masked form each attends to itself).
// Every token lies in exactly one span; spans come in token order.
// InputError where the rules are not of that form: a group split into several runs, a group
// whose start or prefix_end varies, or a prefix reaching into the group itself.
std::vector<AttentionSpan> attention_spans(const std::vector<int64_t>& group,
                                           const std::vector<int64_t>& start,
                                           const std::vector<int64_t>& prefix_end, int64_t rows,
                                           int64_t row_length);

// Σ over spans of prefix_length + length: the number of keys a gathered varlen call reads.
int64_t gathered_keys(const std::vector<AttentionSpan>& spans);

}  // namespace blockattn
