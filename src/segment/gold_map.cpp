#include "segment/gold_map.h"

#include <algorithm>
#include <map>

#include "segment/chars.h"

namespace blockattn::segment {

GoldMap map_gold_to_candidates(std::string_view text, const std::vector<Candidate>& candidates,
                               const std::vector<size_t>& gold, size_t window_bytes) {
  GoldMap m;
  auto offset_less = [](const Candidate& c, size_t o) { return c.offset < o; };
  for (size_t g : gold) {
    size_t idx = std::lower_bound(candidates.begin(), candidates.end(), g, offset_less) -
                 candidates.begin();
    size_t found = GoldMap::kNone;
    GoldMatch how = GoldMatch::kDropped;
    if (idx < candidates.size() && candidates[idx].offset == g) {
      found = idx;
      how = GoldMatch::kExact;
    } else {
      size_t p = g;
      while (p < text.size() && is_space(text[p])) ++p;
      if (p > g && idx < candidates.size() && candidates[idx].offset == p) {
        found = idx;
        how = GoldMatch::kSnapped;
      } else {
        size_t best_dist = window_bytes + 1;
        if (idx < candidates.size() && candidates[idx].offset - g <= window_bytes) {
          best_dist = candidates[idx].offset - g;
          found = idx;
        }
        if (idx > 0 && g - candidates[idx - 1].offset < best_dist) found = idx - 1;
        if (found != GoldMap::kNone) how = GoldMatch::kNear;
      }
    }
    m.candidate.push_back(found);
    m.match.push_back(how);
    switch (how) {
      case GoldMatch::kExact: ++m.exact; break;
      case GoldMatch::kSnapped: ++m.snapped; break;
      case GoldMatch::kNear: ++m.near; break;
      case GoldMatch::kDropped: ++m.dropped; break;
    }
  }
  return m;
}

std::vector<size_t> snap_gold_offsets(std::string_view text, const std::vector<size_t>& gold) {
  std::vector<size_t> out;
  out.reserve(gold.size());
  for (size_t g : gold) {
    while (g < text.size() && is_space(text[g])) ++g;
    if (g == 0 || g >= text.size()) continue;
    if (out.empty() || out.back() != g) out.push_back(g);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<CoverageRow> candidate_coverage(const std::vector<SegInstance>& instances,
                                            size_t window_bytes) {
  std::map<std::string, CoverageRow> rows;
  CoverageRow all;
  all.category = "overall";
  for (const SegInstance& inst : instances) {
    const GoldMap m =
        map_gold_to_candidates(inst.text, find_candidates(inst.text), inst.boundaries, window_bytes);
    CoverageRow& r = rows[inst.category];
    r.category = inst.category;
    for (CoverageRow* x : {&r, &all}) {
      x->instances += 1;
      x->gold += inst.boundaries.size();
      x->exact += m.exact;
      x->snapped += m.snapped;
      x->near += m.near;
      x->dropped += m.dropped;
    }
  }
  std::vector<CoverageRow> out;
  for (auto& kv : rows) out.push_back(kv.second);
  out.push_back(all);
  return out;
}

}  // namespace blockattn::segment
