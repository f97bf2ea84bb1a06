// Query spans against the per-token attention rule they stand for (model/attention_spans.h).
#include <gtest/gtest.h>

#include <random>

#include "attention/prompt_layout.h"
#include "blockattn/error.h"
#include "expect_error.h"
#include "model/attention_spans.h"

namespace blockattn {
namespace {

// Rows of sample layouts packed back to back and padded, in pack_rows' per-token form.
struct Rules {
  std::vector<int64_t> group, start, prefix_end;
  int64_t rows = 0, T = 0;
};

Rules pack(const std::vector<std::vector<SampleLayout>>& rows, int64_t T) {
  Rules r;
  r.rows = static_cast<int64_t>(rows.size());
  r.T = T;
  const size_t n = static_cast<size_t>(r.rows * T);
  r.group.assign(n, 0);
  r.start.assign(n, 0);
  r.prefix_end.assign(n, 0);
  for (int64_t row = 0; row < r.rows; ++row) {
    int64_t at = 0, base = 0;
    for (const SampleLayout& l : rows[static_cast<size_t>(row)]) {
      int64_t groups = 0;
      for (size_t t = 0; t < l.ids.size(); ++t) {
        const size_t f = static_cast<size_t>(row * T + at) + t;
        r.group[f] = base + l.group[t];
        r.start[f] = at;
        r.prefix_end[f] = at + l.sees_prefix[t];
        groups = std::max(groups, l.group[t] + 1);
      }
      base += groups;
      at += static_cast<int64_t>(l.ids.size());
    }
    for (int64_t t = at; t < T; ++t) {
      const size_t f = static_cast<size_t>(row * T + t);
      r.group[f] = -1 - t;  // padding
      r.start[f] = r.prefix_end[f] = t;
    }
  }
  return r;
}

bool rule(const Rules& r, int64_t row, int64_t t, int64_t s) {
  const size_t ft = static_cast<size_t>(row * r.T + t), fs = static_cast<size_t>(row * r.T + s);
  return s <= t && s >= r.start[ft] && (r.group[fs] == r.group[ft] || s < r.prefix_end[ft]);
}

BlockSample random_sample(std::mt19937& rng) {
  BlockSample s;
  const int n = 2 + static_cast<int>(rng() % 4);
  for (int b = 0; b < n; ++b) s.blocks.push_back(std::vector<int32_t>(1 + rng() % 6, 7));
  return s;
}

TEST(AttentionSpans, ReproduceThePerTokenRuleOfPackedBlockSamples) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<std::vector<SampleLayout>> rows(2);
    int64_t longest = 0;
    for (auto& row : rows) {
      int64_t len = 0;
      for (int i = 0; i < 1 + trial % 2; ++i) {
        BlockSample s = random_sample(rng);
        LayoutOptions o;
        o.block_mode = rng() % 4 != 0;
        o.sink_tokens = static_cast<int32_t>(rng() % 3);
        if (o.block_mode)
          for (size_t b = 1; b + 1 < s.blocks.size(); ++b)
            if (rng() % 2) o.copies.push_back(b);
        row.push_back(lay_out_sample(s, o));
        len += static_cast<int64_t>(row.back().ids.size());
      }
      longest = std::max(longest, len);
    }
    const Rules r = pack(rows, longest + 3);  // every row padded
    const std::vector<AttentionSpan> spans =
        attention_spans(r.group, r.start, r.prefix_end, r.rows, r.T);
    int64_t next = 0, keys = 0;
    for (const AttentionSpan& sp : spans) {
      ASSERT_EQ(sp.begin, next) << "spans tile the batch in order";
      next += sp.length;
      keys += sp.prefix_length + sp.length;
      const int64_t row = sp.begin / r.T;
      ASSERT_EQ((sp.begin + sp.length - 1) / r.T, row) << "a span stays in its row";
      if (r.group[static_cast<size_t>(sp.begin)] < 0) continue;  // padding: unspecified
      for (int64_t i = 0; i < sp.length; ++i)
        for (int64_t s = 0; s < r.T; ++s) {
          const int64_t fs = row * r.T + s, fq = sp.begin + i;
          const bool in_span = (fs >= sp.prefix_begin && fs < sp.prefix_begin + sp.prefix_length) ||
                               (fs >= sp.begin && fs <= fq);
          ASSERT_EQ(in_span, rule(r, row, fq - row * r.T, s))
              << "trial " << trial << " query " << fq << " key " << fs;
        }
    }
    EXPECT_EQ(next, r.rows * r.T);
    EXPECT_EQ(gathered_keys(spans), keys);
  }
}

TEST(AttentionSpans, PaddingRunsBecomeOneSpan) {
  // Row: group 0 (3 tokens), then 4 padding tokens.
  const std::vector<int64_t> group = {0, 0, 0, -4, -5, -6, -7}, start = {0, 0, 0, 3, 4, 5, 6};
  const auto spans = attention_spans(group, start, start, 1, 7);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0], (AttentionSpan{0, 3, 0, 0}));
  EXPECT_EQ(spans[1], (AttentionSpan{3, 4, 3, 0}));
}

TEST(AttentionSpans, RulesOfAnotherFormAreRefused) {
  const std::vector<int64_t> zeros(4, 0);
  EXPECT_CONTAINS(test::error_of<InputError>([&] {
                    attention_spans({0, 1, 0, 1}, zeros, zeros, 1, 4);
                  }),
                  "not one contiguous run");
  EXPECT_CONTAINS(test::error_of<InputError>([&] {
                    attention_spans({0, 0, 1, 1}, zeros, {0, 0, 4, 4}, 1, 4);
                  }),
                  "does not end before the group");
  EXPECT_CONTAINS(test::error_of<InputError>([&] {
                    attention_spans({0, 0, 1, 1}, zeros, {0, 0, 2, 1}, 1, 4);
                  }),
                  "see different prefixes");
  EXPECT_CONTAINS(test::error_of<InputError>([&] { attention_spans({0}, zeros, zeros, 1, 4); }),
                  "rows * row_length");
}

}  // namespace
}  // namespace blockattn
