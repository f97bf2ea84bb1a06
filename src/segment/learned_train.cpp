#include "segment/learned_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "blockattn/error.h"
#include "segment/gold_map.h"

namespace blockattn::segment {

namespace {

// splitmix64: a tiny RNG whose sequence is the same on every platform (std::*_distribution
// is not), so a seed gives the same model everywhere.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

// Examples of one or more instances: CSR feature rows plus labels.
struct Examples {
  std::vector<uint32_t> ids;
  std::vector<size_t> row_begin{0};
  std::vector<uint8_t> label;
  size_t rows() const { return label.size(); }
  void clear() {
    ids.clear();
    row_begin.assign(1, 0);
    label.clear();
  }
};

// Appends the instance's examples.
void add_instance(const SegInstance& inst, const LearnedTrainOptions& opts, Examples& ex) {
  const std::vector<Candidate> cands = find_candidates(inst.text);
  const GoldMap map =
      map_gold_to_candidates(inst.text, cands, inst.boundaries, opts.gold_window_bytes);
  std::vector<uint8_t> positive(cands.size(), 0);
  for (size_t c : map.candidate)
    if (c != GoldMap::kNone) positive[c] = 1;
  const CandidateFeatures f = extract_features(inst.text, cands, opts.model.features);
  const size_t base = ex.ids.size();
  ex.ids.insert(ex.ids.end(), f.ids.begin(), f.ids.end());
  for (size_t r = 0; r < f.rows(); ++r) {
    ex.row_begin.push_back(base + f.row_begin[r + 1]);
    ex.label.push_back(positive[f.which[r]]);
  }
}

double bce(double p, bool y) {
  constexpr double kEps = 1e-12;
  return y ? -std::log(std::max(p, kEps)) : -std::log(std::max(1.0 - p, kEps));
}

class Trainer {
 public:
  Trainer(LearnedSegmenter& model, const LearnedTrainOptions& opts)
      : w_(model.weights()), hidden_(model.config().hidden), lr_(opts.lr) {
    constexpr float kInitAccumulator = 0.1f;  // AdaGrad's first steps stay small
    g_embed_.assign(w_.embed.size(), kInitAccumulator);
    g_b1_.assign(hidden_, kInitAccumulator);
    g_w2_.assign(hidden_, kInitAccumulator);
    Rng rng{opts.seed};
    for (float& x : w_.embed) x = static_cast<float>((2 * rng.uniform() - 1) * opts.init_scale);
    const double s = 1.0 / std::sqrt(static_cast<double>(hidden_));
    for (float& x : w_.w2) x = static_cast<float>((2 * rng.uniform() - 1) * s);
  }

  // One AdaGrad step on one example; returns its unweighted loss.
  double step(const uint32_t* ids, size_t n, bool y, double weight) {
    float pre[256], h[256], dpre[256];
    for (size_t j = 0; j < hidden_; ++j) pre[j] = w_.b1[j];
    for (size_t i = 0; i < n; ++i) {
      const float* row = w_.embed.data() + size_t{ids[i]} * hidden_;
      for (size_t j = 0; j < hidden_; ++j) pre[j] += row[j];
    }
    float z = w_.b2;
    for (size_t j = 0; j < hidden_; ++j) {
      h[j] = pre[j] > 0 ? pre[j] : 0;
      z += w_.w2[j] * h[j];
    }
    const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(z)));
    const float dz = static_cast<float>(weight * (p - (y ? 1.0 : 0.0)));
    for (size_t j = 0; j < hidden_; ++j) dpre[j] = pre[j] > 0 ? dz * w_.w2[j] : 0.0f;
    for (size_t j = 0; j < hidden_; ++j) update(w_.w2[j], g_w2_[j], dz * h[j]);
    update(w_.b2, g_b2_, dz);
    for (size_t j = 0; j < hidden_; ++j) update(w_.b1[j], g_b1_[j], dpre[j]);
    for (size_t i = 0; i < n; ++i) {
      float* row = w_.embed.data() + size_t{ids[i]} * hidden_;
      float* acc = g_embed_.data() + size_t{ids[i]} * hidden_;
      for (size_t j = 0; j < hidden_; ++j)
        if (dpre[j] != 0.0f) update(row[j], acc[j], dpre[j]);
    }
    return bce(p, y);
  }

 private:
  void update(float& w, float& acc, float g) {
    acc += g * g;
    w -= lr_ * g / std::sqrt(acc);
  }

  LearnedSegmenter::Weights& w_;
  size_t hidden_;
  float lr_;
  std::vector<float> g_embed_, g_b1_, g_w2_;
  float g_b2_ = 0.1f;
};

struct ClassWeights {
  double pos = 1, neg = 1;
  double of(bool y) const { return y ? pos : neg; }
};

// Raw logits and labels of every validation example.
std::vector<std::pair<float, uint8_t>> validation_logits(const LearnedSegmenter& model,
                                                         const std::vector<SegInstance>& val,
                                                         const LearnedTrainOptions& opts) {
  std::vector<std::pair<float, uint8_t>> out;
  Examples ex;
  for (const SegInstance& inst : val) {
    ex.clear();
    add_instance(inst, opts, ex);
    for (size_t i = 0; i < ex.rows(); ++i)
      out.emplace_back(
          model.logit(ex.ids.data() + ex.row_begin[i], ex.row_begin[i + 1] - ex.row_begin[i]),
          ex.label[i]);
  }
  return out;
}

void evaluate_validation(const LearnedSegmenter& model,
                         const std::vector<std::pair<float, uint8_t>>& logits,
                         const ClassWeights& cw, EpochReport& r) {
  if (logits.empty()) return;
  std::vector<std::pair<double, uint8_t>> scored;
  double loss = 0, weight = 0;
  for (const auto& [z, y] : logits) {
    double p = model.score_of_logit(z);
    loss += cw.of(y) * bce(p, y);
    weight += cw.of(y);
    scored.emplace_back(p, y);
  }
  r.val_loss = loss / weight;
  size_t positives = 0, tp = 0, fp = 0;
  for (const auto& s : scored) {
    positives += s.second;
    if (s.first >= 0.5) (s.second ? tp : fp) += 1;
  }
  auto f1 = [](double p, double rc) { return p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0; };
  r.val_precision = tp + fp > 0 ? static_cast<double>(tp) / (tp + fp) : 0.0;
  r.val_recall = positives > 0 ? static_cast<double>(tp) / positives : 0.0;
  r.val_f1 = f1(r.val_precision, r.val_recall);
  // Best threshold: sweep the scores from the highest down, cutting at each distinct value.
  std::sort(scored.begin(), scored.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  tp = fp = 0;
  r.best_f1 = 0;
  r.best_threshold = 0.5;
  for (size_t i = 0; i < scored.size(); ++i) {
    (scored[i].second ? tp : fp) += 1;
    if (i + 1 < scored.size() && scored[i + 1].first == scored[i].first) continue;
    double prec = static_cast<double>(tp) / (tp + fp);
    double rec = positives > 0 ? static_cast<double>(tp) / positives : 0.0;
    if (f1(prec, rec) > r.best_f1) {
      r.best_f1 = f1(prec, rec);
      r.best_threshold = scored[i].first;
    }
  }
}

// Platt scaling: (a, b) minimising the unweighted cross-entropy of sigmoid(a z + b) on the
// validation examples, with Platt's smoothed targets (so separable data keeps a finite scale).
// Newton's method with step halving.
std::pair<double, double> fit_platt(const std::vector<std::pair<float, uint8_t>>& logits) {
  size_t pos = 0;
  for (const auto& x : logits) pos += x.second;
  const size_t neg = logits.size() - pos;
  if (pos == 0 || neg == 0) return {1.0, 0.0};
  const double t_pos = (pos + 1.0) / (pos + 2.0), t_neg = 1.0 / (neg + 2.0);
  auto loss_at = [&](double a, double b) {
    double l = 0;
    for (const auto& [z, y] : logits) {
      double x = a * z + b, t = y ? t_pos : t_neg;
      // log(1 + e^x) - t x, computed without overflow
      l += (x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x))) - t * x;
    }
    return l;
  };
  double a = 1, b = 0, loss = loss_at(a, b);
  for (int it = 0; it < 50; ++it) {
    double ga = 0, gb = 0, haa = 1e-12, hab = 0, hbb = 1e-12;
    for (const auto& [z, y] : logits) {
      double p = 1.0 / (1.0 + std::exp(-(a * z + b))), t = y ? t_pos : t_neg;
      double d = p - t, w = p * (1 - p);
      ga += d * z;
      gb += d;
      haa += w * z * z;
      hab += w * z;
      hbb += w;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    double step = 1, next = loss;
    for (; step > 1e-6; step /= 2) {
      next = loss_at(a - step * da, b - step * db);
      if (next < loss) break;
    }
    if (!(next < loss)) break;
    a -= step * da;
    b -= step * db;
    const bool converged = loss - next < 1e-10 * std::max(1.0, loss);
    loss = next;
    if (converged) break;
  }
  if (!(a > 0) || !std::isfinite(a) || !std::isfinite(b)) return {1.0, 0.0};
  return {a, b};
}

}  // namespace

LearnedSegmenter train_segmenter(const std::vector<SegInstance>& train,
                                 const std::vector<SegInstance>& validation,
                                 const LearnedTrainOptions& opts, const TrainProgress& progress,
                                 TrainReport* report) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  check_learned_config(opts.model);
  if (train.empty()) throw InputError("segmenter train: no training instances");
  if (opts.epochs == 0) throw InputError("segmenter train: epochs must be at least 1");
  if (!(opts.lr > 0)) throw InputError("segmenter train: lr must be positive");
  if (opts.shuffle_buffer == 0) throw InputError("segmenter train: shuffle_buffer must be >= 1");
  for (const SegInstance& inst : train) check_instance(inst);
  for (const SegInstance& inst : validation) check_instance(inst);

  // Class balance from a label-only pass (candidates and gold mapping, no features).
  TrainReport rep;
  size_t total = 0, positives = 0;
  for (const SegInstance& inst : train) {
    const std::vector<Candidate> cands = find_candidates(inst.text);
    const GoldMap map =
        map_gold_to_candidates(inst.text, cands, inst.boundaries, opts.gold_window_bytes);
    GoldCoverage& c = rep.coverage;
    c.gold += inst.boundaries.size();
    c.exact += map.exact;
    c.snapped += map.snapped;
    c.near += map.near;
    c.dropped += map.dropped;
    std::vector<uint8_t> pos(cands.size(), 0);
    for (size_t k : map.candidate)
      if (k != GoldMap::kNone) {
        if (cands[k].type < opts.model.features.min_type) ++c.weak;
        pos[k] = 1;
      }
    for (size_t k = 0; k < cands.size(); ++k)
      if (cands[k].type >= opts.model.features.min_type) {
        ++total;
        positives += pos[k];
      }
  }
  if (positives == 0 || positives == total)
    throw InputError(
        "segmenter train: the training split needs both boundary and non-boundary "
        "candidates (" +
        std::to_string(positives) + " of " + std::to_string(total) + " are boundaries)");
  ClassWeights cw;
  if (opts.balance_classes) {
    cw.pos = 0.5 * total / positives;
    cw.neg = 0.5 * total / (total - positives);
  }

  LearnedConfig config = opts.model;
  config.threshold = 0.5;
  LearnedSegmenter model(config);
  Trainer trainer(model, opts);
  Rng rng{opts.seed ^ 0x5eed5eed5eedULL};
  std::vector<size_t> order(train.size());
  Examples ex;
  std::vector<size_t> perm;
  for (size_t epoch = 1; epoch <= opts.epochs; ++epoch) {
    const auto te = Clock::now();
    EpochReport r;
    r.epoch = epoch;
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    shuffle(order, rng);
    double loss = 0, weight = 0;
    auto flush = [&] {
      perm.resize(ex.rows());
      for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
      shuffle(perm, rng);
      for (size_t i : perm) {
        bool y = ex.label[i] != 0;
        double w = cw.of(y);
        loss += w * trainer.step(ex.ids.data() + ex.row_begin[i],
                                 ex.row_begin[i + 1] - ex.row_begin[i], y, w);
        weight += w;
        r.positives += y;
      }
      r.examples += ex.rows();
      ex.clear();
    };
    for (size_t k = 0; k < order.size(); ++k) {
      add_instance(train[order[k]], opts, ex);
      if (ex.rows() >= opts.shuffle_buffer) flush();
    }
    flush();
    r.train_loss = weight > 0 ? loss / weight : 0;
    // After the last epoch: round to the stored precision, then calibrate on validation. The
    // losses and F1 at 0.5 are of the uncalibrated scores in every epoch (comparable); the best
    // F1 does not change under calibration (it keeps the order), its threshold does.
    if (epoch == opts.epochs) model.round_to_storage();
    const auto val_logits = validation_logits(model, validation, opts);
    evaluate_validation(model, val_logits, cw, r);
    if (epoch == opts.epochs) {
      const auto [scale, bias] = fit_platt(val_logits);
      model.set_calibration(scale, bias);
      EpochReport calibrated;
      evaluate_validation(model, val_logits, cw, calibrated);
      r.best_threshold = calibrated.best_threshold;
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - te).count();
    if (progress) progress(r);
    rep.epochs.push_back(r);
  }
  if (!validation.empty()) model.set_threshold(rep.epochs.back().best_threshold);
  rep.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (report) *report = rep;
  return model;
}

}  // namespace blockattn::segment
