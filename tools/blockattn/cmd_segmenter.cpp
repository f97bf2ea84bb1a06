// `blockattn segmenter train|eval`: the learned segmenter on the segmentation dataset
// (`blockattn segdata build`), and the evaluation of every method at matched granularity.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "commands.h"
#include "core/io.h"
#include "data/synthetic_corpus.h"
#include "embed/semantic_scorer.h"
#include "model/model.h"
#include "segdata/dataset_instance.h"
#include "segeval/seg_eval.h"
#include "segment/learned_model.h"
#include "segment/learned_train.h"
#include "segment_methods.h"

namespace blockattn::cli {

namespace {

std::vector<segment::SegInstance> read_instances(const std::string& dir, const std::string& split,
                                                 size_t limit = 0) {
  const std::string path = dir + "/" + split + ".jsonl";
  if (!file_exists(path))
    throw IoError(path + " does not exist (make it with `blockattn segdata build`)");
  return segment::read_instances(path, limit);
}

struct TrainArgs {
  std::string data, out;
  bool no_content = false;
  segment::LearnedTrainOptions options;
};

int run_train(TrainArgs& a) {
  if (!a.no_content) a.options.model.features.content_windows = segment::default_content_windows();
  auto train = read_instances(a.data, "train");
  auto validation = read_instances(a.data, "validation");
  std::fprintf(stderr, "segmenter: %zu training and %zu validation instances\n", train.size(),
               validation.size());
  segment::TrainReport report;
  segment::LearnedSegmenter model = segment::train_segmenter(
      train, validation, a.options,
      [](const segment::EpochReport& e) {
        std::fprintf(stderr,
                     "epoch %zu: %zu examples (%zu cuts), train loss %.4f | validation loss %.4f, "
                     "P %.3f R %.3f F1 "
                     "%.3f, best F1 %.3f at %.3f | %.1f s\n",
                     e.epoch, e.examples, e.positives, e.train_loss, e.val_loss, e.val_precision,
                     e.val_recall, e.val_f1, e.best_f1, e.best_threshold, e.seconds);
      },
      &report);
  model.save(a.out);
  const auto& c = report.coverage;
  std::printf(
      "saved %s: %zu parameters, threshold %.3f; gold boundaries %zu: %zu exact, %zu snapped, %zu "
      "near, "
      "%zu on weak candidates, %zu dropped; %.1f s\n",
      a.out.c_str(), model.parameter_count(), model.config().threshold, c.gold, c.exact, c.snapped,
      c.near, c.weak, c.dropped, report.seconds);
  return 0;
}

struct EvalArgs {
  std::string data,
      methods = "fixed,recursive,sentence,paragraph,texttiling,texttiling-lines,c99,learned",
      json_out, md_out;
  MethodArgs method;  // tokenizer, segmenter, embedding model, cap
  size_t max_test = 0, max_validation = 0;
  bool true_count = false;
};

int run_eval(const EvalArgs& a) {
  std::shared_ptr<Tokenizer> tok = load_tokenizer_any(a.method.tokenizer);
  const segment::TokenCounter count = segment::tokenizer_counter(*tok);
  std::vector<segment::EvalMethod> methods;
  std::vector<std::shared_ptr<const void>> keep_alive;
  const std::vector<segment::EvalMethod> baselines = segment::baseline_methods();
  for (const std::string& name : data::split_path_list(a.methods)) {
    // NAME=FILE: a learned segmenter from FILE in a row of its own (to compare models).
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      MethodArgs ma = a.method;
      ma.method = "learned";
      ma.segmenter = name.substr(eq + 1);
      SegmenterSetup s = make_segmenter(ma);
      methods.push_back(
          segment::scorer_method(name.substr(0, eq), segment::Method::kLearned, s.options.scorer));
      keep_alive.push_back(s.keep_alive);
      continue;
    }
    auto baseline = std::find_if(baselines.begin(), baselines.end(),
                                 [&](const segment::EvalMethod& b) { return b.name == name; });
    const segment::Method m =
        baseline != baselines.end() ? baseline->method : segment::parse_method(name);
    if (m == segment::Method::kLearned || m == segment::Method::kSemantic) {
      MethodArgs ma = a.method;
      ma.method = name;
      SegmenterSetup s = make_segmenter(ma);
      methods.push_back(segment::scorer_method(name, m, s.options.scorer));
      keep_alive.push_back(s.keep_alive);
    } else if (baseline != baselines.end()) {
      methods.push_back(*baseline);
    }
  }
  auto validation = read_instances(a.data, "validation", a.max_validation);
  auto test = read_instances(a.data, "test", a.max_test);
  segment::EvalOptions o;
  o.max_tokens = a.method.max_tokens;
  o.min_tokens = a.method.min_tokens;
  o.true_count = a.true_count;
  o.progress = [](const std::string& line) { std::fprintf(stderr, "eval: %s\n", line.c_str()); };
  const segment::EvalResult r = segment::evaluate_segmenters(validation, test, methods, count, o);
  const std::string md = segment::eval_markdown(r);
  std::fwrite(md.data(), 1, md.size(), stdout);
  if (!a.md_out.empty()) write_file_atomic(a.md_out, md);
  if (!a.json_out.empty()) write_file_atomic(a.json_out, segment::eval_json(r));
  return 0;
}

}  // namespace

Runner add_segmenter(CLI::App& app) {
  auto* cmd = app.add_subcommand("segmenter", "Train and evaluate the learned segmenter");
  cmd->require_subcommand(1);

  auto* train =
      cmd->add_subcommand("train", "Train the learned segmenter on a `segdata build` directory");
  auto t = std::make_shared<TrainArgs>();
  train->add_option("--data", t->data, "Dataset directory (train.jsonl, validation.jsonl)")
      ->required();
  train->add_option("--out", t->out, "Output file (.safetensors)")->required();
  train->add_option("--epochs", t->options.epochs, "Passes over the training split")
      ->capture_default_str();
  train->add_option("--lr", t->options.lr, "AdaGrad step size")->capture_default_str();
  train->add_option("--hidden", t->options.model.hidden, "Hidden units")->capture_default_str();
  train
      ->add_option("--bucket-bits", t->options.model.features.bucket_bits,
                   "Feature hash space 2^bits")
      ->capture_default_str();
  train->add_option("--seed", t->options.seed, "Seed (same seed and data: identical model)")
      ->capture_default_str();
  train->add_flag("--no-content", t->no_content,
                  "Layout features only: no lexical-cohesion content signals (TF-IDF cosine at "
                  "10/30/100 content words, depth, local rank; a version 1 model file)");

  auto* eval = cmd->add_subcommand("eval",
                                   "Every method at matched granularity on the test split: Pk, "
                                   "WindowDiff, boundary P/R/F1 per category");
  auto e = std::make_shared<EvalArgs>();
  eval->add_option("--data", e->data,
                   "Dataset directory (validation.jsonl tunes, test.jsonl scores)")
      ->required();
  eval->add_option("--methods", e->methods,
                   "Comma-separated methods (semantic needs --embed-model); NAME=FILE adds a row "
                   "NAME for the learned segmenter in FILE")
      ->capture_default_str();
  eval->add_flag("--true-count", e->true_count,
                 "Also cut every test instance into exactly its gold number of blocks with each "
                 "scoring method (c99, learned, semantic): a second per-category table");
  eval->add_option("--max-tokens", e->method.max_tokens, "Every method's hard cap")
      ->capture_default_str();
  eval->add_option("--min-tokens", e->method.min_tokens, "Every method's minimum block size")
      ->capture_default_str();
  eval->add_option("--tokenizer", e->method.tokenizer, "Tokenizer (file or model directory)")
      ->capture_default_str();
  eval->add_option("--segmenter", e->method.segmenter, "learned: the segmenter file")
      ->capture_default_str();
  eval->add_option("--embed-model", e->method.model, "semantic: the embedding model")
      ->capture_default_str();
  eval->add_option("--device", e->method.device, "semantic: cpu | cuda | auto")
      ->capture_default_str();
  eval->add_option("--max-test", e->max_test,
                   "Use at most this many test instances, evenly spaced (0: all)")
      ->capture_default_str();
  eval->add_option("--max-validation", e->max_validation,
                   "At most this many validation instances for tuning")
      ->capture_default_str();
  eval->add_option("--json", e->json_out, "Write the whole result as JSON");
  eval->add_option("--markdown", e->md_out, "Write the tables to this file too");

  return [cmd, train, t, e] { return cmd->got_subcommand(train) ? run_train(*t) : run_eval(*e); };
}

}  // namespace blockattn::cli
