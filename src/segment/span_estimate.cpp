#include "segment/span_estimate.h"

#include "segment/chars.h"

namespace blockattn::segment {

SpanEstimate::SpanEstimate(std::string_view text, const std::vector<Candidate>& candidates,
                           const TokenCounter& count) {
  pos_.reserve(candidates.size() + 2);
  pos_.push_back(0);
  for (const Candidate& c : candidates) pos_.push_back(c.offset);
  pos_.push_back(text.size());
  prefix_.assign(pos_.size(), 0);
  for (size_t b = 0; b + 1 < pos_.size(); ++b) {
    std::string_view atom = text.substr(pos_[b], pos_[b + 1] - pos_[b]);
    size_t keep = atom.size();
    while (keep > 0 && (atom[keep - 1] == ' ' || atom[keep - 1] == '\t')) --keep;
    if (keep > 0) atom = atom.substr(0, keep);
    prefix_[b + 1] = prefix_[b] + count(atom);
  }
}

}  // namespace blockattn::segment
