#include "segdata/dataset_windows.h"

#include <cmath>

namespace blockattn::segment {

size_t draw_target(data::SynthRng& rng, size_t min_tokens, size_t max_tokens) {
  if (max_tokens <= min_tokens) return min_tokens;
  const double u = static_cast<double>(rng.below(1u << 30)) / static_cast<double>(1u << 30);
  const double t =
      static_cast<double>(min_tokens) *
      std::exp(u * std::log(static_cast<double>(max_tokens) / static_cast<double>(min_tokens)));
  return static_cast<size_t>(t);
}

std::vector<SegInstance> assemble_windows(std::vector<InstancePiece> pieces,
                                          const DatasetCounter& counter, size_t min_tokens,
                                          size_t max_tokens, data::SynthRng& rng,
                                          WindowStats& stats) {
  std::vector<SegInstance> out;
  std::vector<InstancePiece> cur;
  size_t est = 0;
  size_t target = draw_target(rng, min_tokens, max_tokens);

  auto drop = [&](std::vector<InstancePiece>& ps) {
    for (const InstancePiece& p : ps) {
      ++stats.dropped_pieces;
      stats.dropped_tokens += p.tokens;
    }
    ps.clear();
  };
  auto restart = [&](std::vector<InstancePiece> carry) {
    cur = std::move(carry);
    est = 0;
    for (const InstancePiece& p : cur) est += p.tokens;
    target = draw_target(rng, min_tokens, max_tokens);
  };
  // Tries to make an instance of `cur` as it is. On success, pieces cut off at the maximum
  // carry over; otherwise `cur` is given up.
  auto close = [&] {
    SegInstance inst;
    std::vector<InstancePiece> cut;
    const PieceFit fit = finalize_instance(cur, counter, min_tokens, max_tokens, inst, &cut);
    if (fit == PieceFit::kOk)
      out.push_back(std::move(inst));
    else
      drop(cur);
    restart(std::move(cut));
  };

  for (InstancePiece& p : pieces) stats.available_tokens += p.tokens;
  for (InstancePiece& p : pieces) {
    if (p.tokens >= max_tokens) {
      close();
      ++stats.dropped_pieces;
      stats.dropped_tokens += p.tokens;
      continue;
    }
    if (est + p.tokens > max_tokens) close();
    est += p.tokens;
    cur.push_back(std::move(p));
    if (est < target || cur.size() < 2) continue;
    SegInstance inst;
    std::vector<InstancePiece> cut;
    const PieceFit fit = finalize_instance(cur, counter, min_tokens, max_tokens, inst, &cut);
    if (fit == PieceFit::kTooShort && cut.empty()) {
      // The pieces counted alone over-estimated the joined text: ask for what is missing.
      target = est + (min_tokens - inst.tokens);
      continue;
    }
    if (fit == PieceFit::kOk)
      out.push_back(std::move(inst));
    else
      drop(cur);  // too long with one more piece, too short without it
    restart(std::move(cut));
  }
  while (!cur.empty()) close();
  return out;
}

}  // namespace blockattn::segment
