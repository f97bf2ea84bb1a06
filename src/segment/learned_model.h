// The learned segmenter: a small MLP over hashed sparse features (learned_features.h).
//
//   h = ReLU(b1 + sum over the candidate's feature ids f of E[f])     E: [2^bucket_bits, hidden]
//   p = sigmoid(w2 . h + b2)                                           the cut probability
//
// Candidates weaker than config.features.min_type score 0. The weights are held at float16
// precision (what the file stores), so a model scores the same before save() and after load().
//
//   auto model = std::make_shared<const LearnedSegmenter>(LearnedSegmenter::load(path));
//   SegmentOptions o;
//   o.method = Method::kLearned;
//   o.scorer = make_learned_scorer(model);
//   o.threshold = model->config().threshold;   // or a value of the caller's
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "segment/candidates.h"
#include "segment/learned_features.h"
#include "segment/segment.h"

namespace blockattn::segment {

struct LearnedConfig {
  FeatureConfig features;
  uint32_t hidden = 24;  // 1..256
  // Suggested cut threshold: the one that maximised candidate-level F1 on the validation split
  // after calibration (0.5 without validation). The evaluation tunes its own.
  double threshold = 0.5;
  // Platt calibration fitted on the validation split: score = sigmoid(scale * logit + bias).
  // Class-balanced training inflates logits and skews their offset; calibrated scores keep
  // their order but spread over (0, 1) instead of piling up at 1.0, which a threshold needs.
  double calib_scale = 1.0, calib_bias = 0.0;
};

// InputError naming the field.
void check_learned_config(const LearnedConfig& c);

class LearnedSegmenter {
 public:
  // All weights zero (every candidate scores 0.5 until trained).
  explicit LearnedSegmenter(const LearnedConfig& config);

  const LearnedConfig& config() const { return config_; }
  void set_threshold(double t) { config_.threshold = t; }
  void set_calibration(double scale, double bias) {
    config_.calib_scale = scale;
    config_.calib_bias = bias;
  }

  // One score in [0, 1] per candidate (0 for candidates below min_type).
  std::vector<double> score(std::string_view text, const std::vector<Candidate>& candidates) const;
  // The raw (uncalibrated) logit of one feature row (ids < 2^bucket_bits), and its score.
  float logit(const uint32_t* ids, size_t n) const;
  double score_of_logit(float z) const;

  // Writes a safetensors file (tensors embed [B, H] F16, b1 [H], w2 [H], b2 [1] F32) with
  // __metadata__ {format: "blockattn-segmenter", version: "1", config: JSON, checksum: XXH3-64
  // of the config and every tensor's bytes}. Atomic; IoError on failure.
  void save(const std::string& path) const;
  // IoError if unreadable; FormatError naming the file for anything malformed (truncated,
  // another format or version, a shape that disagrees with the config, checksum mismatch).
  static LearnedSegmenter load(const std::string& path);

  size_t parameter_count() const;

  // The weights, for the trainer. embed is row-major [2^bucket_bits, hidden].
  struct Weights {
    std::vector<float> embed, b1, w2;
    float b2 = 0;
  };
  Weights& weights() { return w_; }
  const Weights& weights() const { return w_; }
  // Rounds every weight to the nearest float16 (what save() stores); the trainer calls it last.
  void round_to_storage();

 private:
  LearnedConfig config_;
  Weights w_;
};

// A Scorer (segment.h) for SegmentOptions::scorer with method kLearned. Thread-safe: the model is
// read-only.
Scorer make_learned_scorer(std::shared_ptr<const LearnedSegmenter> model);

// LearnedConfig <-> the JSON object stored in the file (also for reports).
std::string learned_config_json(const LearnedConfig& c);
// FormatError "<what>: ..." on a malformed object.
LearnedConfig learned_config_from_json(const std::string& json, const std::string& what);

}  // namespace blockattn::segment
