// The learned segmenter: features, training, save/load, the scorer under segment()'s cap.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "checkpoint/safetensors.h"
#include "core/io.h"
#include "expect_error.h"
#include "segeval/seg_eval.h"
#include "segment/gold_map.h"
#include "segment/learned_half.h"
#include "segment/learned_model.h"
#include "segment/learned_train.h"
#include "segment/validate.h"
#include "test_util.h"

namespace blockattn::segment {
namespace {

using test::error_of;

// Documents of numbered sections: "3.2 Title Case Heading", a blank line, then paragraphs of
// sentences separated by blank lines. Gold boundaries are the heading lines, so the model must
// tell a heading-led paragraph break from a plain one.
SegInstance synthetic_doc(uint64_t seed, const std::string& split) {
  std::mt19937_64 rng(seed);
  static const char* kWords[] = {"alpha", "beta",   "gamma", "delta", "river", "stone", "light",
                                 "table", "window", "green", "quick", "order", "paper", "metal",
                                 "cloud", "north",  "value", "field", "sound", "motion"};
  auto word = [&] { return std::string(kWords[rng() % 20]); };
  auto cap = [](std::string w) {
    w[0] = static_cast<char>(w[0] - 32);
    return w;
  };
  SegInstance inst;
  inst.category = seed % 2 ? "odd" : "even";
  inst.split = split;
  inst.id = split + "/" + inst.category + "/" + std::to_string(seed);
  const size_t sections = 4 + rng() % 4;
  for (size_t s = 0; s < sections; ++s) {
    if (s > 0) inst.boundaries.push_back(inst.text.size());
    inst.text += std::to_string(s + 1) + "." + std::to_string(rng() % 9 + 1) + " " + cap(word()) +
                 " " + cap(word()) + "\n\n";
    const size_t paragraphs = 1 + rng() % 3;
    for (size_t p = 0; p < paragraphs; ++p) {
      const size_t sentences = 2 + rng() % 4;
      for (size_t k = 0; k < sentences; ++k) {
        std::string sent = cap(word());
        const size_t n = 5 + rng() % 8;
        for (size_t i = 0; i < n; ++i) sent += " " + word();
        inst.text += sent + ". ";
        if (rng() % 3 == 0) inst.text += "\n";  // some wrapped lines
      }
      while (!inst.text.empty() && inst.text.back() == ' ') inst.text.pop_back();
      inst.text += "\n\n";
    }
  }
  while (!inst.text.empty() && (inst.text.back() == '\n' || inst.text.back() == ' '))
    inst.text.pop_back();
  return inst;
}

std::vector<SegInstance> synthetic_split(uint64_t first_seed, size_t n, const std::string& split) {
  std::vector<SegInstance> out;
  for (size_t i = 0; i < n; ++i) out.push_back(synthetic_doc(first_seed + i, split));
  return out;
}

LearnedTrainOptions small_options() {
  LearnedTrainOptions o;
  o.model.features.bucket_bits = 12;
  o.model.hidden = 8;
  o.epochs = 3;
  o.seed = 7;
  return o;
}

TEST(SegmentLearned, HalfRoundTrip) {
  for (float v : {0.0f, 1.0f, -2.5f, 0.333251953125f, 65504.0f, 6.103515625e-05f, 5.9604645e-08f})
    EXPECT_EQ(half_to_float(float_to_half(v)), v) << v;
  EXPECT_EQ(half_to_float(float_to_half(1e6f)), INFINITY);
  EXPECT_EQ(half_to_float(float_to_half(1e-9f)), 0.0f);
  EXPECT_NEAR(half_to_float(float_to_half(0.1f)), 0.1f, 1e-4);
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), float_to_half(1.0f));  // a tie rounds to even
}

TEST(SegmentLearned, FeaturesOnlyForLineLevelCandidates) {
  const std::string text =
      "Intro text. More words here.\n\n2.1 Next Heading\n\nBody of it.\nLine two.";
  const std::vector<Candidate> cands = find_candidates(text);
  FeatureConfig fc;
  CandidateFeatures f = extract_features(text, cands, fc);
  ASSERT_EQ(f.row_begin.size(), f.rows() + 1);
  size_t line_level = 0;
  for (const Candidate& c : cands) line_level += c.type >= CutType::kLine;
  EXPECT_EQ(f.rows(), line_level);
  for (uint32_t id : f.ids) EXPECT_LT(id, 1u << fc.bucket_bits);
  for (size_t r = 0; r < f.rows(); ++r) EXPECT_GT(f.row_begin[r + 1] - f.row_begin[r], 20u);
  // Deterministic, and an untrained model gives 0.5 to line-level candidates, 0 to the rest.
  EXPECT_EQ(extract_features(text, cands, fc).ids, f.ids);
  LearnedSegmenter m(LearnedConfig{});
  std::vector<double> s = m.score(text, cands);
  for (size_t i = 0; i < cands.size(); ++i)
    EXPECT_EQ(s[i], cands[i].type >= CutType::kLine ? 0.5 : 0.0) << i;
  fc.min_type = CutType::kWord;
  EXPECT_EQ(extract_features(text, cands, fc).rows(), cands.size());
}

TEST(SegmentLearned, ConfigErrors) {
  LearnedConfig c;
  c.features.bucket_bits = 30;
  EXPECT_CONTAINS(error_of<InputError>([&] { LearnedSegmenter m(c); }), "bucket_bits 30");
  c = LearnedConfig{};
  c.hidden = 0;
  EXPECT_CONTAINS(error_of<InputError>([&] { LearnedSegmenter m(c); }), "hidden 0");
  c = LearnedConfig{};
  c.features.bigram_words = 50;
  EXPECT_CONTAINS(error_of<InputError>([&] { LearnedSegmenter m(c); }), "bigram_words");
  EXPECT_CONTAINS(error_of<InputError>([] { make_learned_scorer(nullptr); }), "no model");
  LearnedTrainOptions o = small_options();
  EXPECT_CONTAINS(error_of<InputError>([&] { train_segmenter({}, {}, o); }), "no training");
  SegInstance one = synthetic_doc(1, "train");
  one.boundaries.clear();
  EXPECT_CONTAINS(error_of<InputError>([&] { train_segmenter({one}, {}, o); }),
                  "both boundary and non-boundary");
}

TEST(SegmentLearned, GoldMapping) {
  // Offsets: a0 b2 \n3 (indent 4-7) def8 f12 \n13 c14 d16 \n\n17-18 end19; candidates at 2 8
  // 12 14 16 19.
  std::string text = "a b\n    def f\nc d\n\nend";
  std::vector<Candidate> cands = find_candidates(text);
  // 1: the space before "b" (snapped to 2); 4: the line start before the indentation (snapped
  // to 8); 10: inside "def", 2 bytes from 8 and from 12 (near: the later); 14, 19: exact.
  GoldMap m = map_gold_to_candidates(text, cands, {1, 4, 10, 14, 19}, 4);
  ASSERT_EQ(m.candidate.size(), 5u);
  const GoldMatch want[] = {GoldMatch::kSnapped, GoldMatch::kSnapped, GoldMatch::kNear,
                            GoldMatch::kExact, GoldMatch::kExact};
  const size_t at[] = {2, 8, 12, 14, 19};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(m.match[i], want[i]) << i;
    EXPECT_EQ(cands[m.candidate[i]].offset, at[i]) << i;
  }
  EXPECT_EQ(m.exact, 2u);
  EXPECT_EQ(m.snapped, 2u);
  EXPECT_EQ(m.near, 1u);
  GoldMap far = map_gold_to_candidates("abcdefghijklmnopqrstuvwxyz z",
                                       find_candidates("abcdefghijklmnopqrstuvwxyz z"), {3}, 4);
  EXPECT_EQ(far.dropped, 1u);
  EXPECT_EQ(far.candidate[0], GoldMap::kNone);
  EXPECT_EQ(snap_gold_offsets(text, {4, 14, 18}), (std::vector<size_t>{8, 14, 19}));
}

TEST(SegmentLearned, TrainingLearnsHeadings) {
  const auto train = synthetic_split(100, 40, "train");
  const auto val = synthetic_split(500, 10, "validation");
  const auto test = synthetic_split(900, 10, "test");
  std::vector<EpochReport> epochs;
  TrainReport rep;
  LearnedSegmenter m = train_segmenter(
      train, val, small_options(), [&](const EpochReport& r) { epochs.push_back(r); }, &rep);
  ASSERT_EQ(epochs.size(), 3u);
  EXPECT_EQ(rep.epochs.size(), 3u);
  EXPECT_LT(epochs.back().train_loss, epochs.front().train_loss);
  EXPECT_LT(epochs.back().train_loss, 0.2);
  EXPECT_GE(epochs.back().val_f1, 0.95);
  EXPECT_GT(epochs.back().positives, 0u);
  EXPECT_EQ(rep.coverage.dropped, 0u);
  EXPECT_EQ(rep.coverage.gold, rep.coverage.exact + rep.coverage.snapped + rep.coverage.near);
  EXPECT_GT(m.config().threshold, 0.0);

  // Held-out documents through segment(): the blocks are the sections.
  auto model = std::make_shared<const LearnedSegmenter>(std::move(m));
  SegmentOptions o;
  o.method = Method::kLearned;
  o.max_tokens = 100000;
  o.threshold = 0.5;
  o.scorer = make_learned_scorer(model);
  double f1 = 0;
  for (const SegInstance& inst : test) {
    auto blocks = segment(inst.text, o, word_counter());
    f1 += score_instance(inst.text, inst.boundaries, blocks, Unit::kWord, 0).f1;
  }
  EXPECT_GE(f1 / test.size(), 0.95);
}

TEST(SegmentLearned, SaveLoadScoresIdentical) {
  const auto train = synthetic_split(100, 12, "train");
  LearnedTrainOptions opts = small_options();
  opts.epochs = 1;
  LearnedSegmenter m = train_segmenter(train, {}, opts);
  test::TempDir dir;
  const std::string path = dir / "m.safetensors";
  m.save(path);
  LearnedSegmenter back = LearnedSegmenter::load(path);
  EXPECT_EQ(learned_config_json(back.config()), learned_config_json(m.config()));
  EXPECT_EQ(back.parameter_count(), m.parameter_count());
  const SegInstance doc = synthetic_doc(4242, "test");
  const auto cands = find_candidates(doc.text);
  EXPECT_EQ(back.score(doc.text, cands), m.score(doc.text, cands));
  // The file is what the docs say: a safetensors file with our metadata.
  SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.metadata().at("format"), "blockattn-segmenter");
  EXPECT_EQ(f.metadata().at("version"), "1");
  EXPECT_EQ(f.at("embed").dtype, DType::kF16);
}

TEST(SegmentLearned, CorruptFilesAreFormatErrors) {
  LearnedConfig c;
  c.features.bucket_bits = 10;
  c.hidden = 4;
  LearnedSegmenter m(c);
  m.weights().embed[5] = 0.25f;
  test::TempDir dir;
  const std::string path = dir / "m.safetensors";
  m.save(path);
  const std::string good = read_file(path);

  std::string flipped = good;
  flipped[flipped.size() - 100] ^= 0x40;  // a byte of the embedding
  write_file_atomic(path, flipped);
  std::string msg = error_of<FormatError>([&] { LearnedSegmenter::load(path); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "checksum mismatch");

  write_file_atomic(path, good.substr(0, good.size() - 10));
  EXPECT_CONTAINS(error_of<FormatError>([&] { LearnedSegmenter::load(path); }), path);
  write_file_atomic(path, good.substr(0, 20));
  EXPECT_CONTAINS(error_of<FormatError>([&] { LearnedSegmenter::load(path); }), path);
  write_file_atomic(path, "not a model at all");
  EXPECT_CONTAINS(error_of<FormatError>([&] { LearnedSegmenter::load(path); }), path);

  // A valid safetensors file of something else.
  SafetensorsWriter w;
  float x = 1;
  w.add("x", DType::kF32, {1}, &x, 4);
  w.write(path);
  msg = error_of<FormatError>([&] { LearnedSegmenter::load(path); });
  EXPECT_CONTAINS(msg, "not a blockattn segmenter model");

  write_file_atomic(path, good);
  EXPECT_NO_THROW(LearnedSegmenter::load(path));
  std::remove(path.c_str());
  EXPECT_CONTAINS(error_of<IoError>([&] { LearnedSegmenter::load(path); }), path);
}

TEST(SegmentLearned, DeterministicFromSeed) {
  const auto train = synthetic_split(100, 8, "train");
  const auto val = synthetic_split(500, 2, "validation");
  LearnedTrainOptions opts = small_options();
  opts.epochs = 2;
  opts.shuffle_buffer = 500;  // several buffers an epoch
  test::TempDir dir;
  const std::string a = dir / "a", b = dir / "b", c = dir / "c";
  train_segmenter(train, val, opts).save(a);
  train_segmenter(train, val, opts).save(b);
  opts.seed = 8;
  train_segmenter(train, val, opts).save(c);
  EXPECT_EQ(read_file(a), read_file(b));
  EXPECT_NE(read_file(a), read_file(c));
}

TEST(SegmentLearned, ScorerRespectsHardCap) {
  const auto train = synthetic_split(100, 12, "train");
  LearnedTrainOptions opts = small_options();
  opts.epochs = 1;
  auto model = std::make_shared<const LearnedSegmenter>(train_segmenter(train, {}, opts));
  SegmentOptions o;
  o.method = Method::kLearned;
  o.scorer = make_learned_scorer(model);
  o.threshold = 0.5;
  std::vector<std::string> texts;
  for (uint64_t s = 0; s < 4; ++s) texts.push_back(synthetic_doc(7000 + s, "test").text);
  texts.push_back(std::string(200000, 'x'));                 // one line, no separator
  texts.push_back("a" + std::string(5000, ' ') + "b\n\nc");  // a long run of whitespace
  std::string minified;
  for (int i = 0; i < 3000; ++i) minified += "f(" + std::to_string(i) + ");";
  texts.push_back(minified);
  for (size_t max_tokens : {5, 17, 64}) {
    for (size_t min_tokens : {size_t{0}, size_t{3}}) {
      o.max_tokens = max_tokens;
      o.min_tokens = min_tokens;
      for (const TokenCounter& count : {word_counter(), byte_counter(4)}) {
        for (const std::string& t : texts) {
          auto blocks = segment(t, o, count);
          EXPECT_EQ(blocks_problem(t, blocks, o.max_tokens, count), "") << max_tokens;
        }
      }
    }
  }
}

}  // namespace
}  // namespace blockattn::segment
