#include "eval/suite.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "data/synthetic_tasks.h"
#include "eval/answer_match.h"
#include "eval/final_block_eval.h"
#include "model/model.h"

namespace blockattn::eval {

namespace {

QaItem to_qa(const data::SynthItem& item) {
  return {item.id, item.blocks(), item.question, item.answer};
}

std::vector<QaItem> make_items(const std::vector<std::string>& documents, data::SynthOptions so,
                               size_t n, const Tokenizer& tokenizer) {
  data::SynthGenerator gen(documents, so,
                           [&](std::string_view s) { return tokenizer.encode(s).size(); });
  std::vector<QaItem> items;
  for (size_t i = 0; i < n; ++i) items.push_back(to_qa(gen.make(i)));
  return items;
}

// The qa-varied figures (SuiteScores::qa_breakdown) of one run.
std::map<std::string, double> qa_breakdown(const SuiteTask& t, const std::vector<bool>& ok,
                                           const std::vector<std::string>& argmax) {
  std::map<std::string, std::pair<double, size_t>> sums;  // key -> (sum, items)
  auto add = [&](const std::string& key, double v) {
    sums[key].first += v;
    ++sums[key].second;
  };
  for (size_t i = 0; i < ok.size(); ++i) {
    if (t.cells[i] == "abstain") {
      add("abstain", ok[i] ? 1 : 0);
      continue;
    }
    // Exact under greedy decoding means the argmax answer is the answer: F1 1.
    const double f1 = ok[i] ? 1.0 : answer_token_f1(argmax[i], t.items[i].answer);
    for (const std::string& suffix : {std::string(), ":" + t.cells[i]}) {
      add("em" + suffix, ok[i] ? 1 : 0);
      add("f1" + suffix, f1);
    }
  }
  std::map<std::string, double> out;
  for (const auto& [key, v] : sums) out[key] = v.first / static_cast<double>(v.second);
  return out;
}

}  // namespace

EvalSuite::EvalSuite(const Tokenizer& tokenizer, const std::vector<std::string>& documents,
                     std::vector<segment::SegInstance> instances, const SuiteOptions& o)
    : options_(o), instances_(std::move(instances)) {
  if (o.qa_items == 0 && o.needle_items == 0 && instances_.empty())
    throw InputError("the suite has no task");
  data::SynthOptions base;
  base.split = data::Split::kEval;
  base.passage_tokens = o.passage_tokens;
  base.seed = o.seed;
  struct Spec {
    const char* name;
    data::SynthTask task;
    size_t passages;
  };
  if (o.qa_items > 0)
    for (const Spec& spec : {Spec{"qa8", data::SynthTask::kRetrieval, 8},
                             Spec{"qa16", data::SynthTask::kRetrieval, 16},
                             Spec{"two-facts", data::SynthTask::kTwoFacts, 8},
                             Spec{"distractors", data::SynthTask::kDistractors, 8}}) {
      data::SynthOptions so = base;
      so.task = spec.task;
      so.passages = spec.passages;
      qa_.push_back({spec.name, make_items(documents, so, o.qa_items, tokenizer), {}});
    }
  if (o.qa_items > 0) {
    data::SynthOptions so = base;
    so.task = data::SynthTask::kQa;
    so.passages = 8;
    SuiteTask varied{"qa-varied", {}, {}};
    data::SynthGenerator gen(documents, so,
                             [&](std::string_view s) { return tokenizer.encode(s).size(); });
    for (size_t i = 0; i < o.qa_items; ++i) {
      const data::SynthItem item = gen.make(i);
      varied.items.push_back(to_qa(item));
      varied.cells.push_back(item.answerable ? item.fact_type : "abstain");
    }
    qa_.push_back(std::move(varied));
  }
  if (o.needle_items > 0) {
    SuiteTask needle{"needle", {}, {}};
    for (size_t passages : o.needle_passages)
      for (double depth : o.needle_depths) {
        data::SynthOptions so = base;
        so.passages = passages;
        so.fact_depth = depth;
        so.seed = base.seed * 1000 + passages;  // other items than qa8/qa16
        char cell[48];
        std::snprintf(cell, sizeof cell, "%zu@%.2f", passages * o.passage_tokens, depth);
        for (QaItem& item : make_items(documents, so, o.needle_items, tokenizer)) {
          needle.items.push_back(std::move(item));
          needle.cells.push_back(cell);
        }
      }
    qa_.push_back(std::move(needle));
  }
}

std::vector<std::string> EvalSuite::task_names() const {
  std::vector<std::string> names;
  if (!instances_.empty()) names.push_back("final-block");
  for (const SuiteTask& t : qa_) names.push_back(t.name);
  return names;
}

SuiteScores EvalSuite::run(const Model& model, const Tokenizer& tokenizer, bool block_mode,
                           const std::function<void(const std::string&)>& progress) const {
  SuiteScores s;
  if (!instances_.empty()) {
    FinalBlockOptions fo;
    fo.window = options_.window;
    const FinalBlockResult r = eval_final_block(model, tokenizer, instances_, fo);
    s.score["final-block"] = std::exp(block_mode ? r.all.block_loss() : r.all.full_loss());
  }
  const ChatFormat format = ChatFormat::detect(tokenizer, /*chat_template=*/true);
  QaScoreOptions qo = sink_options_of(model, tokenizer, block_mode);
  qo.batch_rows = options_.batch_rows;
  for (const SuiteTask& t : qa_) {
    const bool varied = t.name == "qa-varied";
    std::vector<std::string> argmax;
    const std::vector<bool> ok =
        score_qa(model, tokenizer, format, t.items, qo, {}, varied ? &argmax : nullptr);
    if (varied) {
      s.qa_breakdown = qa_breakdown(t, ok, argmax);
      s.score[t.name] = static_cast<double>(std::count(ok.begin(), ok.end(), true)) /
                        static_cast<double>(ok.size());
      if (progress) progress(t.name);
      continue;
    }
    size_t correct = 0;
    std::map<std::string, std::pair<size_t, size_t>> cells;  // cell -> (correct, items)
    for (size_t i = 0; i < ok.size(); ++i) {
      correct += ok[i];
      if (!t.cells.empty()) {
        cells[t.cells[i]].first += ok[i];
        ++cells[t.cells[i]].second;
      }
    }
    s.score[t.name] = static_cast<double>(correct) / static_cast<double>(ok.size());
    for (const auto& [cell, c] : cells)
      s.needle_cells[cell] = static_cast<double>(c.first) / static_cast<double>(c.second);
    if (progress) progress(t.name);
  }
  return s;
}

}  // namespace blockattn::eval
