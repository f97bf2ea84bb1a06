#include "segment/learned_model.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "segment/learned_half.h"

namespace blockattn::segment {

namespace {

constexpr CutType kTypes[] = {CutType::kWord, CutType::kSentence, CutType::kLine, CutType::kCode,
                              CutType::kParagraph};

}  // namespace

void check_learned_config(const LearnedConfig& c) {
  check_feature_config(c.features);
  if (c.hidden < 1 || c.hidden > 256)
    throw InputError("segmenter: hidden " + std::to_string(c.hidden) + " is outside 1..256");
  if (!(c.threshold >= 0.0 && c.threshold <= 1.0))
    throw InputError("segmenter: threshold " + std::to_string(c.threshold) + " is outside [0, 1]");
  if (!std::isfinite(c.calib_scale) || !(c.calib_scale > 0) || !std::isfinite(c.calib_bias))
    throw InputError("segmenter: calibration must be finite with a positive scale");
}

LearnedSegmenter::LearnedSegmenter(const LearnedConfig& config) : config_(config) {
  check_learned_config(config);
  const size_t buckets = size_t{1} << config.features.bucket_bits;
  w_.embed.assign(buckets * config.hidden, 0.0f);
  w_.b1.assign(config.hidden, 0.0f);
  w_.w2.assign(config.hidden, 0.0f);
}

size_t LearnedSegmenter::parameter_count() const {
  return w_.embed.size() + w_.b1.size() + w_.w2.size() + 1;
}

float LearnedSegmenter::logit(const uint32_t* ids, size_t n) const {
  const size_t hidden = config_.hidden;
  float h[256];
  for (size_t j = 0; j < hidden; ++j) h[j] = w_.b1[j];
  for (size_t i = 0; i < n; ++i) {
    const float* row = w_.embed.data() + size_t{ids[i]} * hidden;
    for (size_t j = 0; j < hidden; ++j) h[j] += row[j];
  }
  float z = w_.b2;
  for (size_t j = 0; j < hidden; ++j) z += w_.w2[j] * (h[j] > 0.0f ? h[j] : 0.0f);
  return z;
}

std::vector<double> LearnedSegmenter::score(std::string_view text,
                                            const std::vector<Candidate>& candidates) const {
  std::vector<double> out(candidates.size(), 0.0);
  const CandidateFeatures f = extract_features(text, candidates, config_.features);
  for (size_t r = 0; r < f.rows(); ++r) {
    float z = logit(f.ids.data() + f.row_begin[r], f.row_begin[r + 1] - f.row_begin[r]);
    out[f.which[r]] = score_of_logit(z);
  }
  return out;
}

double LearnedSegmenter::score_of_logit(float z) const {
  const double x = config_.calib_scale * static_cast<double>(z) + config_.calib_bias;
  return 1.0 / (1.0 + std::exp(-x));
}

void LearnedSegmenter::round_to_storage() {
  for (float& x : w_.embed) x = half_to_float(float_to_half(x));
}

Scorer make_learned_scorer(std::shared_ptr<const LearnedSegmenter> model) {
  if (!model) throw InputError("segmenter: no model given to make_learned_scorer");
  return [model](std::string_view text, const std::vector<Candidate>& candidates) {
    return model->score(text, candidates);
  };
}

std::string learned_config_json(const LearnedConfig& c) {
  nlohmann::ordered_json j;
  j["bucket_bits"] = c.features.bucket_bits;
  j["window_words"] = c.features.window_words;
  j["bigram_words"] = c.features.bigram_words;
  j["cohesion_words"] = c.features.cohesion_words;
  j["min_type"] = cut_type_name(c.features.min_type);
  if (!c.features.content_windows.empty()) {
    j["content_windows"] = c.features.content_windows;
    j["rank_radius"] = c.features.rank_radius;
  }
  j["hidden"] = c.hidden;
  j["threshold"] = c.threshold;
  j["calib_scale"] = c.calib_scale;
  j["calib_bias"] = c.calib_bias;
  return j.dump();
}

LearnedConfig learned_config_from_json(const std::string& json, const std::string& what) {
  LearnedConfig c;
  try {
    const auto j = nlohmann::json::parse(json);
    c.features.bucket_bits = j.at("bucket_bits").get<uint32_t>();
    c.features.window_words = j.at("window_words").get<uint32_t>();
    c.features.bigram_words = j.at("bigram_words").get<uint32_t>();
    c.features.cohesion_words = j.at("cohesion_words").get<uint32_t>();
    const std::string type = j.at("min_type").get<std::string>();
    bool found = false;
    for (CutType t : kTypes)
      if (type == cut_type_name(t)) {
        c.features.min_type = t;
        found = true;
      }
    if (!found) throw FormatError(what + ": unknown min_type '" + type + "'");
    // Absent in models trained before the content signals: they have none.
    if (j.contains("content_windows")) {
      c.features.content_windows = j.at("content_windows").get<std::vector<uint32_t>>();
      c.features.rank_radius = j.at("rank_radius").get<uint32_t>();
    }
    c.hidden = j.at("hidden").get<uint32_t>();
    c.threshold = j.at("threshold").get<double>();
    c.calib_scale = j.at("calib_scale").get<double>();
    c.calib_bias = j.at("calib_bias").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": bad segmenter config: " + e.what());
  }
  try {
    check_learned_config(c);
  } catch (const InputError& e) {
    throw FormatError(what + ": " + e.what());
  }
  return c;
}

}  // namespace blockattn::segment
