// Training the learned segmenter (learned_model.h) on dataset instances. Plain C++, one thread,
// deterministic: the same instances, options and seed give a bit-identical model.
//
// Examples: every candidate of type >= min_type; positive when a gold boundary maps to it
// (gold_map.h: exact, across indentation, or the nearest candidate within
// `gold_window_bytes`; gold boundaries that map nowhere, or to a weaker candidate, are dropped
// and counted). Loss: binary cross-entropy, class-balanced (each class carries half the weight).
// Optimiser: AdaGrad, one example at a time (sparse rows of the embedding are updated lazily),
// over a buffer of up to `shuffle_buffer` examples from consecutive instances, shuffled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "segdata/dataset_instance.h"
#include "segment/learned_model.h"

namespace blockattn::segment {

struct LearnedTrainOptions {
  LearnedConfig model;  // features, hidden size (the threshold is set by training)
  size_t epochs = 3;
  double lr = 0.05;          // AdaGrad step size
  double init_scale = 0.05;  // embedding init: uniform(-s, s)
  bool balance_classes = true;
  size_t gold_window_bytes = 16;
  size_t shuffle_buffer = 1 << 18;  // examples
  uint64_t seed = 1;
};

struct GoldCoverage {  // over the training split
  size_t gold = 0, exact = 0, snapped = 0, near = 0, dropped = 0;
  size_t weak = 0;  // mapped to a candidate below min_type (not trainable)
};

struct EpochReport {
  size_t epoch = 0;  // 1-based
  size_t examples = 0, positives = 0;
  double train_loss = 0;  // weighted mean BCE over the epoch, as trained
  // On the validation split (0 when it is empty): weighted BCE, and candidate-level precision,
  // recall and F1 of "score >= 0.5", all of the uncalibrated model; the best F1 over thresholds
  // and that threshold (in the last epoch: on the calibrated scores, i.e. the model's threshold).
  double val_loss = 0, val_precision = 0, val_recall = 0, val_f1 = 0;
  double best_threshold = 0.5, best_f1 = 0;
  double seconds = 0;
};

struct TrainReport {
  GoldCoverage coverage;
  std::vector<EpochReport> epochs;
  double seconds = 0;
};

using TrainProgress = std::function<void(const EpochReport&)>;

// InputError if `train` is empty or has no positive example, or the options are invalid; the
// instances are checked with check_instance(). With validation instances the returned model is
// Platt-calibrated on them (LearnedConfig::calib_*) and its threshold is the calibrated score
// that maximises candidate-level F1 there; without, scale 1, bias 0, threshold 0.5.
LearnedSegmenter train_segmenter(const std::vector<SegInstance>& train,
                                 const std::vector<SegInstance>& validation,
                                 const LearnedTrainOptions& opts,
                                 const TrainProgress& progress = {}, TrainReport* report = nullptr);

}  // namespace blockattn::segment
