// eval_markdown / eval_json: the evaluation's tables and its machine-readable record.
#include <algorithm>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "segeval/seg_eval.h"

namespace blockattn::segment {

namespace {

std::string fmt(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Categories (of the test split) where method `mi` is strictly best among all methods.
size_t categories_best(const EvalResult& r, size_t mi, bool by_pk) {
  size_t n = 0;
  for (const std::string& c : r.categories) {
    auto value = [&](size_t j) {
      const EvalMetrics& m = r.methods[j].by_category.at(c);
      return by_pk ? -m.pk : m.f1;  // larger is better
    };
    bool best = true;
    for (size_t j = 0; j < r.methods.size() && best; ++j)
      if (j != mi && value(j) >= value(mi)) best = false;
    n += best;
  }
  return n;
}

nlohmann::ordered_json metrics_json(const EvalMetrics& m) {
  nlohmann::ordered_json j;
  j["instances"] = m.instances;
  j["pk"] = m.pk;
  j["windowdiff"] = m.windowdiff;
  j["precision"] = m.precision;
  j["recall"] = m.recall;
  j["f1"] = m.f1;
  j["precision_tol"] = m.precision_tol;
  j["recall_tol"] = m.recall_tol;
  j["f1_tol"] = m.f1_tol;
  j["blocks"] = m.blocks;
  j["tokens"] = m.tokens;
  j["mean_block_tokens"] = m.mean_block_tokens();
  return j;
}

}  // namespace

std::string eval_markdown(const EvalResult& r) {
  std::string s;
  s += "Test split: " + std::to_string(r.gold.instances) + " instances, " +
       std::to_string(r.gold.blocks) + " gold blocks, mean " + fmt(r.gold.mean_block_tokens(), 1) +
       " tokens; max_tokens " + std::to_string(r.max_tokens) + ", min_tokens " +
       std::to_string(r.min_tokens) + "; tuning target (validation gold mean) " +
       fmt(r.target_mean_tokens, 1) + " tokens; units: " + r.unit + "; F1@" +
       std::to_string(r.tolerance_words) + " matches boundaries up to " +
       std::to_string(r.tolerance_words) + " " + r.unit + "(s) apart.\n\n";

  s += "| method | knob | value | val mean tok | test mean tok | Pk | WindowDiff | P | R | F1 | F1@" +
       std::to_string(r.tolerance_words) + " | best Pk in | best F1 in | largest block | MB/s |\n";
  s += "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  const std::string ncat = std::to_string(r.categories.size());
  for (size_t i = 0; i < r.methods.size(); ++i) {
    const MethodResult& m = r.methods[i];
    const EvalMetrics& o = m.overall;
    s += "| " + m.name + " | " + m.knob + " | " +
         (m.knob == "threshold" ? fmt(m.knob_value, 4) : fmt(m.knob_value, 0)) + " | " +
         fmt(m.validation_mean_tokens, 1) + " | " + fmt(o.mean_block_tokens(), 1) + " | " +
         fmt(o.pk) + " | " + fmt(o.windowdiff) + " | " + fmt(o.precision) + " | " +
         fmt(o.recall) + " | " + fmt(o.f1) + " | " + fmt(o.f1_tol) + " | " +
         std::to_string(categories_best(r, i, true)) + "/" + ncat + " | " +
         std::to_string(categories_best(r, i, false)) + "/" + ncat + " | " +
         std::to_string(m.max_block_tokens) + " | " + fmt(m.mb_per_s, 2) +
         " |\n";
  }

  // Per category: "Pk / F1", the best Pk (lowest) and F1 (highest) of each column in bold.
  s += "\nPk / F1 per category (instances in brackets; best of each column in bold):\n\n| method |";
  std::string rule = "| --- |";
  for (const std::string& c : r.categories) {
    s += " " + c + " (" + std::to_string(r.gold_by_category.at(c).instances) + ") |";
    rule += " ---: |";
  }
  s += " overall |\n" + rule + " ---: |\n";
  auto cell = [&](const EvalMetrics& m, double best_pk, double best_f1) {
    std::string pk = fmt(m.pk), f1 = fmt(m.f1);
    if (m.pk == best_pk) pk = "**" + pk + "**";
    if (m.f1 == best_f1) f1 = "**" + f1 + "**";
    return " " + pk + " / " + f1 + " |";
  };
  for (const MethodResult& m : r.methods) {
    s += "| " + m.name + " |";
    for (const std::string& c : r.categories) {
      double best_pk = 1e300, best_f1 = -1;
      for (const MethodResult& x : r.methods) {
        best_pk = std::min(best_pk, x.by_category.at(c).pk);
        best_f1 = std::max(best_f1, x.by_category.at(c).f1);
      }
      s += cell(m.by_category.at(c), best_pk, best_f1);
    }
    double best_pk = 1e300, best_f1 = -1;
    for (const MethodResult& x : r.methods) {
      best_pk = std::min(best_pk, x.overall.pk);
      best_f1 = std::max(best_f1, x.overall.f1);
    }
    s += cell(m.overall, best_pk, best_f1) + "\n";
  }

  // At the true count: the scoring methods with exactly the gold number of blocks per instance.
  bool any_true = false;
  for (const MethodResult& m : r.methods) any_true = any_true || m.has_true_count;
  if (any_true) {
    s += "\nPk / F1 per category at the true count (each test instance cut into exactly its gold "
         "number of blocks: the highest-scored candidates; the cap can add blocks):\n\n| method |";
    for (const std::string& c : r.categories)
      s += " " + c + " (" + std::to_string(r.gold_by_category.at(c).instances) + ") |";
    s += " overall |\n" + rule + " ---: |\n";
    for (const MethodResult& m : r.methods) {
      if (!m.has_true_count) continue;
      s += "| " + m.name + " |";
      for (const std::string& c : r.categories) {
        double best_pk = 1e300, best_f1 = -1;
        for (const MethodResult& x : r.methods)
          if (x.has_true_count) {
            best_pk = std::min(best_pk, x.true_count_by_category.at(c).pk);
            best_f1 = std::max(best_f1, x.true_count_by_category.at(c).f1);
          }
        s += cell(m.true_count_by_category.at(c), best_pk, best_f1);
      }
      double best_pk = 1e300, best_f1 = -1;
      for (const MethodResult& x : r.methods)
        if (x.has_true_count) {
          best_pk = std::min(best_pk, x.true_count.pk);
          best_f1 = std::max(best_f1, x.true_count.f1);
        }
      s += cell(m.true_count, best_pk, best_f1) + "\n";
    }
  }

  s += "\nCandidate coverage of the test split's gold boundaries (exact: on a candidate offset; "
       "+indent: on one after skipping the line's indentation):\n\n"
       "| category | gold | exact | +indent | near | dropped |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const CoverageRow& c : r.coverage)
    s += "| " + c.category + " | " + std::to_string(c.gold) + " | " +
         fmt(100 * c.exact_share(), 1) + "% | " + fmt(100 * c.covered_share(), 1) + "% | " +
         std::to_string(c.near) + " | " + std::to_string(c.dropped) + " |\n";
  return s;
}

std::string eval_json(const EvalResult& r) {
  nlohmann::ordered_json j;
  j["max_tokens"] = r.max_tokens;
  j["min_tokens"] = r.min_tokens;
  j["unit"] = r.unit;
  j["tolerance"] = r.tolerance_words;
  j["target_mean_tokens"] = r.target_mean_tokens;
  j["test_bytes"] = r.test_bytes;
  j["categories"] = r.categories;
  nlohmann::ordered_json gold = metrics_json(r.gold);
  nlohmann::ordered_json gold_cat = nlohmann::ordered_json::object();
  for (const auto& kv : r.gold_by_category) gold_cat[kv.first] = metrics_json(kv.second);
  j["gold"] = {{"overall", gold}, {"by_category", gold_cat}};
  nlohmann::ordered_json methods = nlohmann::ordered_json::array();
  for (size_t i = 0; i < r.methods.size(); ++i) {
    const MethodResult& m = r.methods[i];
    nlohmann::ordered_json x;
    x["name"] = m.name;
    x["method"] = method_name(m.method);
    x["knob"] = m.knob;
    x["knob_value"] = m.knob_value;
    x["validation_mean_tokens"] = m.validation_mean_tokens;
    x["tune_steps"] = m.tune_steps;
    x["seconds"] = m.seconds;
    x["mb_per_s"] = m.mb_per_s;
    x["max_block_tokens"] = m.max_block_tokens;
    x["categories_best_pk"] = categories_best(r, i, true);
    x["categories_best_f1"] = categories_best(r, i, false);
    x["overall"] = metrics_json(m.overall);
    nlohmann::ordered_json cat = nlohmann::ordered_json::object();
    for (const auto& kv : m.by_category) cat[kv.first] = metrics_json(kv.second);
    x["by_category"] = cat;
    if (m.has_true_count) {
      nlohmann::ordered_json tc = nlohmann::ordered_json::object();
      for (const auto& kv : m.true_count_by_category) tc[kv.first] = metrics_json(kv.second);
      x["true_count"] = {{"overall", metrics_json(m.true_count)}, {"by_category", tc}};
    }
    methods.push_back(x);
  }
  j["methods"] = methods;
  nlohmann::ordered_json cov = nlohmann::ordered_json::array();
  for (const CoverageRow& c : r.coverage)
    cov.push_back({{"category", c.category}, {"instances", c.instances}, {"gold", c.gold},
                   {"exact", c.exact}, {"snapped", c.snapped}, {"near", c.near},
                   {"dropped", c.dropped}, {"exact_share", c.exact_share()},
                   {"covered_share", c.covered_share()}});
  j["coverage"] = cov;
  return j.dump(2) + "\n";
}

}  // namespace blockattn::segment
