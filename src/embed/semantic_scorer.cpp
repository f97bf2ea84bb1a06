#include "embed/semantic_scorer.h"

#include <algorithm>
#include <numeric>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "model/model.h"

namespace blockattn::embed {

namespace {

bool eligible(const segment::Candidate& c) { return c.type >= segment::CutType::kSentence; }

// Mean final hidden state of each unit: [n_units, hidden]; zero rows for units without tokens.
torch::Tensor unit_embeddings(const Model& model, const Tokenizer& tok, std::string_view text,
                              const std::vector<size_t>& cuts, int64_t window) {
  std::vector<int64_t> ids;
  std::vector<int64_t> unit_of_token;
  for (size_t u = 0; u + 1 < cuts.size(); ++u) {
    for (int32_t id : tok.encode(text.substr(cuts[u], cuts[u + 1] - cuts[u]))) {
      ids.push_back(id);
      unit_of_token.push_back(static_cast<int64_t>(u));
    }
  }
  const int64_t n_units = static_cast<int64_t>(cuts.size()) - 1;
  const int64_t hidden = model.config().hidden_size;
  torch::Tensor sums = torch::zeros({n_units, hidden}, torch::kFloat32);  // [n_units, hidden]
  torch::Tensor counts = torch::zeros({n_units, 1}, torch::kFloat32);     // [n_units, 1]
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(ids.size());
  for (int64_t begin = 0; begin < n; begin += window) {
    const int64_t len = std::min(window, n - begin);
    torch::Tensor chunk =
        torch::from_blob(ids.data() + begin, {1, len}, torch::kInt64);  // [1, len]
    torch::Tensor h = model.hidden_states(chunk)[0].to(torch::kCPU);    // [len, hidden]
    torch::Tensor units =
        torch::from_blob(unit_of_token.data() + begin, {len}, torch::kInt64);  // [len]
    sums.index_add_(0, units, h);
    counts.index_add_(0, units, torch::ones({len, 1}, torch::kFloat32));
  }
  return sums / counts.clamp_min(1);
}

}  // namespace

segment::Scorer make_semantic_scorer(std::shared_ptr<const Model> model,
                                     std::shared_ptr<const Tokenizer> tokenizer,
                                     const SemanticOptions& o) {
  if (!model || !tokenizer) throw InputError("the semantic scorer needs a model and its tokenizer");
  if (o.window_tokens < 8 || o.window_tokens > model->config().max_position_embeddings)
    throw InputError("semantic window of " + std::to_string(o.window_tokens) +
                     " tokens: need 8..context (" +
                     std::to_string(model->config().max_position_embeddings) + ")");
  if (o.buffer < 1) throw InputError("semantic buffer must be at least 1 unit");
  return [model, tokenizer, o](std::string_view text,
                               const std::vector<segment::Candidate>& candidates) {
    std::vector<double> scores(candidates.size(), 0.0);
    std::vector<size_t> cuts{0}, which;  // unit boundaries; candidate index of each inner boundary
    for (size_t i = 0; i < candidates.size(); ++i)
      if (eligible(candidates[i])) {
        cuts.push_back(candidates[i].offset);
        which.push_back(i);
      }
    cuts.push_back(text.size());
    if (which.empty()) return scores;
    torch::Tensor units =
        unit_embeddings(*model, *tokenizer, text, cuts, o.window_tokens);  // [n_units, hidden]
    // Token-count weighting is dropped on purpose: each unit counts once, like a sentence
    // embedding per sentence in the usual chunkers.
    const int64_t n_units = units.size(0);
    torch::Tensor prefix =
        torch::cat({torch::zeros({1, units.size(1)}), units.cumsum(0)});  // [n_units+1, hidden]
    // Boundary j (1..n_units-1) lies between unit j-1 and unit j: left = units [j-buffer, j),
    // right = units [j, j+buffer), both clipped to the text.
    torch::Tensor cut = torch::arange(1, n_units, torch::kInt64);  // [n_cuts]
    torch::Tensor lo = (cut - o.buffer).clamp_min(0),
                  hi = (cut + o.buffer).clamp_max(n_units);  // [n_cuts]
    torch::Tensor left = (prefix.index_select(0, cut) - prefix.index_select(0, lo)) /
                         (cut - lo).unsqueeze(1).to(torch::kFloat32);  // [n_cuts, hidden]
    torch::Tensor right = (prefix.index_select(0, hi) - prefix.index_select(0, cut)) /
                          (hi - cut).unsqueeze(1).to(torch::kFloat32);  // [n_cuts, hidden]
    torch::Tensor cosine = torch::nn::functional::cosine_similarity(
        left, right,
        torch::nn::functional::CosineSimilarityFuncOptions().dim(1).eps(1e-8));  // [n_cuts]
    torch::Tensor distance = (1.0 - cosine).contiguous();                        // [n_cuts]
    std::vector<double> dist(distance.data_ptr<float>(),
                             distance.data_ptr<float>() + distance.numel());
    // Percentile rank among this text's eligible cuts (ties share their mean rank).
    std::vector<size_t> order(which.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return dist[a] < dist[b]; });
    const double denom = which.size() > 1 ? static_cast<double>(which.size() - 1) : 1.0;
    for (size_t r = 0; r < order.size();) {
      size_t e = r;
      while (e + 1 < order.size() && dist[order[e + 1]] == dist[order[r]]) ++e;
      const double rank = (static_cast<double>(r + e) / 2.0) / denom;
      for (size_t k = r; k <= e; ++k) scores[which[order[k]]] = which.size() > 1 ? rank : 1.0;
      r = e + 1;
    }
    return scores;
  };
}

}  // namespace blockattn::embed
