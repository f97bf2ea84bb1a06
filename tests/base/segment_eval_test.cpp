// The evaluation harness: per-instance metrics, matched-granularity tuning, the report.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "expect_error.h"
#include "segeval/metrics.h"
#include "segeval/seg_eval.h"

namespace blockattn::segment {
namespace {

using test::error_of;

// Sections of paragraphs; a section starts with a short heading line. Some sections are
// indented by two spaces (gold at the line start, candidates after the indentation).
SegInstance make_instance(uint64_t seed, const std::string& category, const std::string& split) {
  std::mt19937_64 rng(seed);
  SegInstance inst;
  inst.category = category;
  inst.split = split;
  inst.id = split + "/" + category + "/" + std::to_string(seed);
  const size_t sections = 3 + rng() % 5;
  for (size_t s = 0; s < sections; ++s) {
    if (s > 0) inst.boundaries.push_back(inst.text.size());
    const bool indent = rng() % 4 == 0;
    inst.text += (indent ? "  Heading " : "Heading ") + std::to_string(s) + "\n";
    const size_t paragraphs = 1 + rng() % 3;
    for (size_t p = 0; p < paragraphs; ++p) {
      const size_t words = 10 + rng() % 30;
      for (size_t w = 0; w < words; ++w) inst.text += "w" + std::to_string(rng() % 50) + " ";
      inst.text.back() = '.';
      inst.text += "\n\n";
    }
  }
  while (inst.text.back() == '\n') inst.text.pop_back();
  return inst;
}

std::vector<SegInstance> make_split(const std::string& split, uint64_t seed, size_t per_category) {
  std::vector<SegInstance> out;
  for (const char* cat : {"alpha", "beta", "gamma"})
    for (size_t i = 0; i < per_category; ++i) out.push_back(make_instance(seed++, cat, split));
  return out;
}

// 1 at the candidates where a gold block starts (after its indentation), 0 elsewhere.
Scorer oracle(const std::vector<SegInstance>& instances) {
  auto gold = std::make_shared<std::map<std::string, std::set<size_t>>>();
  for (const SegInstance& inst : instances) {
    auto snapped = snap_gold_offsets(inst.text, inst.boundaries);
    (*gold)[inst.text] = std::set<size_t>(snapped.begin(), snapped.end());
  }
  return [gold](std::string_view text, const std::vector<Candidate>& cands) {
    std::vector<double> s(cands.size(), 0.0);
    auto it = gold->find(std::string(text));
    if (it == gold->end()) return s;
    for (size_t i = 0; i < cands.size(); ++i) s[i] = it->second.count(cands[i].offset) ? 1.0 : 0.0;
    return s;
  };
}

// A deterministic pseudo-random score per line-level candidate: a scorer whose granularity
// the threshold controls smoothly.
Scorer noise_scorer() {
  return [](std::string_view, const std::vector<Candidate>& cands) {
    std::vector<double> s(cands.size(), 0.0);
    for (size_t i = 0; i < cands.size(); ++i)
      if (cands[i].type >= CutType::kLine)
        s[i] = static_cast<double>((cands[i].offset * 2654435761u) % 1000) / 1000.0;
    return s;
  };
}

EvalMethod fixed_knob(EvalMethod m, double knob) {
  m.tune = false;
  m.knob = knob;
  return m;
}

TEST(SegmentEval, ScoreInstanceMatchesMetrics) {
  const std::string text = "a b c\nd e f\n\ng h i j";
  //                        0 2 4 6 8 10  13    19
  std::vector<Block> blocks{{0, 6, 3, 1, CutType::kStart}, {6, 20, 7, 1, CutType::kLine}};
  EvalMetrics m = score_instance(text, {13}, blocks, Unit::kWord, 1);
  const std::string ref = "0000010000", hyp = "0010000000";
  EXPECT_EQ(m.pk, pk(ref, hyp, pk_default_k(ref)));
  EXPECT_EQ(m.windowdiff, windowdiff(ref, hyp, pk_default_k(ref)));
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_EQ(m.f1_tol, 0.0);  // 3 words apart
  EXPECT_EQ(m.blocks, 2u);
  EXPECT_EQ(m.tokens, 10u);
  blocks = {{0, 13, 6, 1, CutType::kStart}, {13, 20, 4, 1, CutType::kParagraph}};
  m = score_instance(text, {12}, blocks, Unit::kWord, 1);
  EXPECT_EQ(m.pk, 0.0);  // gold 12 is snapped over the blank line to 13, where methods cut
  EXPECT_EQ(m.f1, 1.0);
  blocks = {{0, 8, 4, 1, CutType::kStart}, {8, 20, 6, 1, CutType::kWord}};
  m = score_instance(text, {13}, blocks, Unit::kWord, 1);
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_EQ(m.f1_tol, 0.0);  // 2 words early
  EXPECT_EQ(score_instance(text, {13}, blocks, Unit::kWord, 2).f1_tol, 1.0);
}

TEST(SegmentEval, OracleIsPerfectAndNoBoundaryScoresZero) {
  const auto val = make_split("validation", 10, 2);
  const auto test = make_split("test", 100, 3);
  std::vector<SegInstance> all = val;
  all.insert(all.end(), test.begin(), test.end());
  std::vector<EvalMethod> methods{
      fixed_knob(scorer_method("oracle", Method::kLearned, oracle(all)), 0.5),
      fixed_knob(scorer_method("none", Method::kSemantic,
                               [](std::string_view, const std::vector<Candidate>& c) {
                                 return std::vector<double>(c.size(), 0.0);
                               }),
                 0.5)};
  EvalOptions o;
  o.max_tokens = 100000;
  EvalResult r = evaluate_segmenters(val, test, methods, word_counter(), o);
  ASSERT_EQ(r.methods.size(), 2u);
  const MethodResult& orc = r.methods[0];
  EXPECT_EQ(orc.overall.instances, test.size());
  EXPECT_EQ(orc.overall.pk, 0.0);
  EXPECT_EQ(orc.overall.windowdiff, 0.0);
  EXPECT_EQ(orc.overall.f1, 1.0);
  EXPECT_EQ(orc.overall.f1_tol, 1.0);
  EXPECT_EQ(orc.overall.blocks, r.gold.blocks);
  EXPECT_EQ(orc.knob_value, 0.5);
  for (const auto& kv : orc.by_category) EXPECT_EQ(kv.second.f1, 1.0) << kv.first;
  const MethodResult& none = r.methods[1];
  EXPECT_EQ(none.overall.f1, 0.0);
  EXPECT_EQ(none.overall.recall, 0.0);
  EXPECT_EQ(none.overall.blocks, test.size());
  EXPECT_GT(none.overall.pk, 0.0);
  EXPECT_EQ(r.categories, (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(r.gold.instances, test.size());
}

TEST(SegmentEval, TuningMatchesGoldMeanLength) {
  const auto val = make_split("validation", 10, 4);
  const auto test = make_split("test", 100, 2);
  std::vector<EvalMethod> methods = baseline_methods();
  methods.push_back(scorer_method("noise", Method::kSemantic, noise_scorer()));
  EvalOptions o;
  o.max_tokens = 400;
  std::vector<std::string> log;
  o.progress = [&](const std::string& s) { log.push_back(s); };
  EvalResult r = evaluate_segmenters(val, test, methods, word_counter(), o);
  EXPECT_GT(r.target_mean_tokens, 20.0);
  EXPECT_FALSE(log.empty());
  for (const MethodResult& m : r.methods) {
    if (m.method == Method::kTextTiling) continue;  // too coarse on texts this short
    const double tolerance = m.method == Method::kFixed ? 0.05 : 0.2;
    EXPECT_NEAR(m.validation_mean_tokens, r.target_mean_tokens, tolerance * r.target_mean_tokens)
        << m.name << " " << m.knob << "=" << m.knob_value;
    EXPECT_GT(m.tune_steps, 0u);
    EXPECT_LE(m.tune_steps, o.max_tune_steps);
  }
  EXPECT_STREQ(knob_name(Method::kFixed), "target_tokens");
  EXPECT_STREQ(knob_name(Method::kTextTiling), "w");
  EXPECT_STREQ(knob_name(Method::kLearned), "threshold");
  EXPECT_EQ(r.methods[1].knob, "target_tokens");
  EXPECT_EQ(r.methods.back().knob, "threshold");
  EXPECT_GT(r.methods.back().knob_value, 0.0);
  EXPECT_LT(r.methods.back().knob_value, 1.0);
}

TEST(SegmentEval, RenderingHasEveryMethodAndCategory) {
  const auto val = make_split("validation", 10, 1);
  const auto test = make_split("test", 100, 1);
  std::vector<SegInstance> all = val;
  all.insert(all.end(), test.begin(), test.end());
  std::vector<EvalMethod> methods = baseline_methods();
  methods.push_back(scorer_method("learned", Method::kLearned, oracle(all)));  // tuned to 1
  EvalOptions o;
  o.max_tokens = 200;
  EvalResult r = evaluate_segmenters(val, test, methods, word_counter(), o);
  const std::string md = eval_markdown(r);
  for (const char* name : {"fixed", "recursive", "sentence", "paragraph", "texttiling", "learned"})
    EXPECT_CONTAINS(md, std::string("| ") + name + " |");
  for (const char* cat : {"alpha", "beta", "gamma", "overall"}) EXPECT_CONTAINS(md, cat);
  EXPECT_CONTAINS(md, "| learned | threshold |");
  EXPECT_CONTAINS(md, "**0.000** / **1.000**");  // the oracle is best in its columns

  const auto j = nlohmann::json::parse(eval_json(r));
  ASSERT_EQ(j.at("methods").size(), methods.size());
  for (size_t i = 0; i < methods.size(); ++i) {
    EXPECT_EQ(j["methods"][i]["name"], methods[i].name);
    for (const char* cat : {"alpha", "beta", "gamma"})
      EXPECT_TRUE(j["methods"][i]["by_category"].contains(cat)) << cat;
    EXPECT_TRUE(j["methods"][i]["overall"].contains("pk"));
  }
  const size_t learned = methods.size() - 1;  // after the baselines
  EXPECT_EQ(j["methods"][learned]["overall"]["f1"], 1.0);
  EXPECT_EQ(j["methods"][learned]["knob_value"], 1.0);
  EXPECT_EQ(j["methods"][learned]["categories_best_f1"], 3);
  EXPECT_EQ(j["categories"].size(), 3u);
  EXPECT_EQ(j["coverage"].back()["category"], "overall");
}

TEST(SegmentEval, CandidateCoverage) {
  SegInstance a;
  a.category = "x";
  a.split = "test";
  a.text = "one\n  two\nthree\n\nfour";
  a.boundaries = {4, 10, 17};  // before the indentation (snapped), exact, exact
  SegInstance b = a;
  b.category = "y";
  b.boundaries = {10};
  auto rows = candidate_coverage({a, b});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].category, "x");
  EXPECT_EQ(rows[0].gold, 3u);
  EXPECT_EQ(rows[0].exact, 2u);
  EXPECT_EQ(rows[0].snapped, 1u);
  EXPECT_DOUBLE_EQ(rows[0].exact_share(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(rows[0].covered_share(), 1.0);
  EXPECT_EQ(rows[2].category, "overall");
  EXPECT_EQ(rows[2].gold, 4u);
  EXPECT_EQ(rows[2].instances, 2u);
}

TEST(SegmentEval, Errors) {
  const auto val = make_split("validation", 10, 1);
  const auto test = make_split("test", 100, 1);
  auto count = word_counter();
  EvalOptions o;
  auto run = [&](std::vector<SegInstance> v, std::vector<SegInstance> t,
                 std::vector<EvalMethod> m) {
    return [=, &count] { evaluate_segmenters(v, t, m, count, o); };
  };
  EXPECT_CONTAINS(error_of<InputError>(run(val, {}, baseline_methods())), "no test instances");
  EXPECT_CONTAINS(error_of<InputError>(run(val, test, {})), "no methods");
  auto twice = baseline_methods();
  twice.push_back(twice[0]);
  EXPECT_CONTAINS(error_of<InputError>(run(val, test, twice)), "unique");
  EXPECT_CONTAINS(error_of<InputError>(run(val, test, {scorer_method("s", Method::kSemantic, {})})),
                  "'s' needs a scorer");
  EXPECT_CONTAINS(error_of<InputError>(run({}, test, baseline_methods())), "needs validation");
  o.min_tokens = 1000;
  o.max_tokens = 10;
  EXPECT_CONTAINS(error_of<InputError>(run(val, test, baseline_methods())), "min_tokens");
}

}  // namespace
}  // namespace blockattn::segment
