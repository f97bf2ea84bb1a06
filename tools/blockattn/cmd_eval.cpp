// `blockattn eval`: quality of a model on held-out data — synthetic retrieval (exact match) in
// block or full attention, and per-category language-modelling loss.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include <filesystem>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "adapter_options.h"
#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "commands.h"
#include "core/io.h"
#include "data/synthetic_corpus.h"
#include "eval/final_block_eval.h"
#include "eval/perplexity_eval.h"
#include "eval/retrieval_eval.h"
#include "eval/suite.h"
#include "eval/suite_table.h"
#include "model/lora.h"
#include "model/model.h"
#include "option_checks.h"
#include "segdata/dataset_instance.h"
#include "train/progress.h"

namespace blockattn::cli {

namespace {

struct EvalArgs {
  std::string model_dir, task = "retrieval", mode = "full", corpus, json_out;
  std::vector<std::string> models;  // --suite: name=dir, the first being the full-attention teacher
  std::string segdata, suite_report;
  size_t needle_items = 20;
  int64_t batch_rows = 8;
  std::string device = "auto", dtype = "auto";
  EngineConfig engine;  // --adapter, --adapter-mode (adapter_options.h)
  size_t items = 200, passages = 8, passage_tokens = 200;
  uint64_t seed = 1;
  int64_t window = 0;
  uint64_t max_tokens_per_category = 0;
};

void write_json(const std::string& path, const nlohmann::json& j) {
  if (!path.empty()) write_file_atomic(path, j.dump(2) + "\n");
}

bool is_adapter_dir(const std::string& dir) {
  return std::filesystem::is_regular_file(dir + "/adapter_config.json");
}

// The model the Model-level tasks (perplexity, final-block, --suite) score: with --adapter, the
// base with the adapter merged in and its trained block sinks (as `adapter merge` writes it), in
// both modes.
std::shared_ptr<Model> load_model(const EvalArgs& a) {
  ModelLoadOptions lo;
  lo.device = a.device;
  lo.dtype = a.dtype;
  auto base = Model::load(a.model_dir, lo);
  if (a.engine.adapter_dir.empty()) return base;
  const LoraAdapter adapter =
      load_lora_adapter(a.engine.adapter_dir, base->config(), base->device());
  const auto settings = read_lora_block_settings(a.engine.adapter_dir);
  return base->merged_with(adapter, settings ? &*settings : nullptr);
}

int run_perplexity(const EvalArgs& a) {
  auto model = load_model(a);
  auto tokenizer = Tokenizer::load(a.model_dir);
  auto docs = data::read_jsonl_labeled(data::split_path_list(a.corpus));
  eval::PerplexityOptions po;
  po.window = a.window;
  po.max_tokens_per_category = a.max_tokens_per_category;
  train::ProgressLine bar(stderr, static_cast<int64_t>(docs.size()), 0);
  auto rows = eval::eval_perplexity(*model, *tokenizer, docs, po, [&](size_t done, size_t total) {
    if (done == total || done % 50 == 0)
      bar.message("scored " + std::to_string(done) + "/" + std::to_string(total) + " documents");
  });
  std::printf(
      "| category | documents | tokens | loss (nats) | perplexity |\n| --- | ---: | ---: | ---: | "
      "---: |\n");
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows) {
    std::printf("| %s | %llu | %llu | %.4f | %.2f |\n",
                r.category.empty() ? "(none)" : r.category.c_str(), (unsigned long long)r.documents,
                (unsigned long long)r.tokens, r.loss, r.perplexity);
    j.push_back({{"category", r.category},
                 {"documents", r.documents},
                 {"tokens", r.tokens},
                 {"loss", r.loss},
                 {"perplexity", r.perplexity}});
  }
  write_json(a.json_out, {{"task", "perplexity"}, {"model", a.model_dir}, {"categories", j}});
  return 0;
}

int run_final_block(const EvalArgs& a) {
  auto model = load_model(a);
  auto tokenizer = Tokenizer::load(a.model_dir);
  std::vector<segment::SegInstance> instances;
  for (const std::string& path : data::split_path_list(a.corpus)) {
    auto part = segment::read_instances(path, a.items);
    instances.insert(instances.end(), part.begin(), part.end());
  }
  eval::FinalBlockOptions fo;
  if (a.window > 0) fo.window = a.window;
  train::ProgressLine bar(stderr, static_cast<int64_t>(instances.size()), 0);
  auto r =
      eval::eval_final_block(*model, *tokenizer, instances, fo, [&](size_t done, size_t total) {
        if (done == total || done % 50 == 0)
          bar.message("scored " + std::to_string(done) + "/" + std::to_string(total));
      });
  std::printf(
      "| category | instances | context blocks | final-block tokens | full loss | block loss | "
      "full ppl | block "
      "ppl | block vs full |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  nlohmann::json j = nlohmann::json::array();
  auto row = [&](const std::string& name, const eval::FinalBlockLoss& l) {
    const double pf = std::exp(l.full_loss()), pb = std::exp(l.block_loss());
    std::printf("| %s | %llu | %.1f | %llu | %.4f | %.4f | %.2f | %.2f | %+.1f%% |\n", name.c_str(),
                (unsigned long long)l.instances, static_cast<double>(l.blocks) / l.instances,
                (unsigned long long)l.tokens, l.full_loss(), l.block_loss(), pf, pb,
                100 * (pb / pf - 1));
    j.push_back({{"category", name},
                 {"instances", l.instances},
                 {"tokens", l.tokens},
                 {"full_loss", l.full_loss()},
                 {"block_loss", l.block_loss()},
                 {"full_perplexity", pf},
                 {"block_perplexity", pb}});
  };
  for (const auto& [name, l] : r.by_category) row(name, l);
  row("all", r.all);
  std::fprintf(
      stderr,
      "%llu instances skipped (final block under %zu tokens or no context in %lld tokens)\n",
      (unsigned long long)r.skipped, fo.min_final_tokens, (long long)fo.window);
  write_json(
      a.json_out,
      {{"task", "final-block"}, {"model", a.model_dir}, {"window", fo.window}, {"categories", j}});
  return 0;
}

int run_retrieval(const EvalArgs& a) {
  if (a.mode != "full" && a.mode != "block")
    throw InputError("--mode must be full or block, not \"" + a.mode + "\"");
  eval::RetrievalEvalOptions o;
  o.task = data::parse_task(a.task);
  o.mode = a.mode == "full" ? AttentionMode::kFull : AttentionMode::kBlock;
  o.passages = a.passages;
  o.passage_tokens = a.passage_tokens;
  o.items = a.items;
  o.seed = a.seed;
  if (o.items == 0) throw InputError("--n must be at least 1");
  auto docs = data::read_jsonl_texts(data::split_path_list(a.corpus));
  EngineConfig ec;
  ec.model_dir = a.model_dir;
  ec.device = a.device;
  ec.dtype = a.dtype;
  ec.adapter_dir = a.engine.adapter_dir;
  ec.adapter_mode = a.engine.adapter_mode;
  auto engine = Engine::create(ec);
  const bool tty = ::isatty(::fileno(stderr));
  auto r = eval::eval_retrieval(*engine, a.model_dir, docs, o, [&](size_t done, size_t correct) {
    if (tty || done == o.items || done % 50 == 0) {
      std::fprintf(stderr, "%s%s %zu/%zu  exact match %.1f%%%s", tty ? "\r" : "", a.task.c_str(),
                   done, o.items, 100.0 * correct / done, tty && done < o.items ? "" : "\n");
      std::fflush(stderr);
    }
  });
  for (const auto& f : r.failures)
    std::fprintf(stderr, "  wrong: %s  expected \"%s\", got \"%s\"\n", f.id.c_str(),
                 f.answer.c_str(), f.output.c_str());
  std::printf(
      "task %s | mode %s | %zu passages of ~%zu tokens | %.0f prompt tokens | exact match %zu/%zu "
      "= %.1f%%\n",
      a.task.c_str(), a.mode.c_str(), a.passages, a.passage_tokens, r.mean_prompt_tokens, r.correct,
      r.items, 100 * r.exact_match);
  if (o.task == data::SynthTask::kQa)
    std::printf("token F1 %.1f%% (greedy output against the answer span)\n", 100 * r.token_f1);
  write_json(a.json_out, {{"task", a.task},
                          {"mode", a.mode},
                          {"model", a.model_dir},
                          {"passages", a.passages},
                          {"passage_tokens", a.passage_tokens},
                          {"items", r.items},
                          {"correct", r.correct},
                          {"exact_match", r.exact_match},
                          {"token_f1", r.token_f1},
                          {"mean_prompt_tokens", r.mean_prompt_tokens},
                          {"seed", a.seed}});
  return 0;
}

// `--suite`: every task for every model in both modes, one table (docs/evaluation.md).
int run_suite(const EvalArgs& a) {
  if (a.models.empty())
    throw InputError("--suite needs --models name=DIR[,name=DIR...] (the first is the teacher)");
  std::vector<std::pair<std::string, std::string>> models;
  for (const std::string& m : a.models) {
    const size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size())
      throw InputError("--models entry \"" + m + "\" is not name=DIR");
    models.emplace_back(m.substr(0, eq), m.substr(eq + 1));
  }
  if (!a.engine.adapter_dir.empty())
    throw InputError(
        "--suite takes adapters as --models entries (name=ADAPTER_DIR), not --adapter");
  if (is_adapter_dir(models[0].second))
    throw InputError("the first --models entry (" + models[0].first +
                     ") is the teacher: a model directory, not an adapter");
  auto tokenizer = Tokenizer::load(models[0].second);
  for (const auto& [name, dir] : models)
    if (!is_adapter_dir(dir) && Tokenizer::load(dir)->fingerprint() != tokenizer->fingerprint())
      throw InputError("model " + name + " (" + dir + ") has another tokenizer than " +
                       models[0].first);
  std::vector<segment::SegInstance> instances;
  for (const std::string& path : data::split_path_list(a.segdata)) {
    auto part = segment::read_instances(path, a.items);
    instances.insert(instances.end(), part.begin(), part.end());
  }
  eval::SuiteOptions so;
  so.qa_items = a.items;
  so.needle_items = a.needle_items;
  so.passage_tokens = a.passage_tokens;
  so.seed = a.seed;
  so.batch_rows = a.batch_rows;
  if (a.window > 0) so.window = a.window;
  const eval::EvalSuite suite(*tokenizer, data::read_jsonl_texts(data::split_path_list(a.corpus)),
                              std::move(instances), so);
  const std::vector<std::string> tasks = suite.task_names();

  std::vector<eval::SuiteRow> rows;
  for (size_t m = 0; m < models.size(); ++m) {
    EvalArgs one = a;
    one.model_dir = models[m].second;
    if (is_adapter_dir(models[m].second)) {  // LoRA: the teacher with the adapter merged in
      one.model_dir = models[0].second;
      one.engine.adapter_dir = models[m].second;
    }
    auto model = load_model(one);
    for (const char* mode : {"full", "block"}) {
      std::fprintf(stderr, "eval: %s (%s attention)...\n", models[m].first.c_str(), mode);
      const eval::SuiteScores s = suite.run(*model, *tokenizer, std::string(mode) == "block");
      rows.push_back({models[m].first, mode, s.score, s.needle_cells, s.qa_breakdown});
    }
  }
  std::fputs(eval::suite_table(tasks, rows).c_str(), stdout);
  nlohmann::json j = nlohmann::json::array();
  for (size_t r = 0; r < rows.size(); ++r) {
    const eval::SuiteSummary s = eval::summarize(tasks, rows, r);
    j.push_back({{"model", rows[r].model},
                 {"mode", rows[r].mode},
                 {"scores", rows[r].score},
                 {"needle_cells", rows[r].needle_cells},
                 {"qa_breakdown", rows[r].qa_breakdown},
                 {"worst_vs_teacher_full", s.worst},
                 {"mean_vs_teacher_full", s.mean},
                 {"gap_closed", s.gap_closed},
                 {"gap_tasks", s.gap_tasks}});
  }
  nlohmann::json models_json = nlohmann::json::object();
  for (const auto& [name, dir] : models) models_json[name] = dir;
  write_json(a.json_out, {{"suite", tasks},
                          {"models", models_json},
                          {"items_per_qa_task", a.items},
                          {"needle_items_per_cell", a.needle_items},
                          {"seed", a.seed},
                          {"rows", j}});
  return 0;
}

// `--suite-report A.json,B.json`: one table from suites run separately (e.g. on two GPUs), each
// starting with the same teacher rows; later duplicates of a (model, mode) row are dropped.
int run_suite_report(const EvalArgs& a) {
  std::vector<std::string> tasks;
  std::vector<eval::SuiteRow> rows;
  for (const std::string& path : data::split_path_list(a.suite_report)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(path));
      if (tasks.empty())
        tasks = j.at("suite").get<std::vector<std::string>>();
      else if (tasks != j.at("suite").get<std::vector<std::string>>())
        throw InputError(path + " has other tasks than the first report");
      for (const auto& r : j.at("rows")) {
        eval::SuiteRow row{r.at("model").get<std::string>(), r.at("mode").get<std::string>(),
                           r.at("scores").get<std::map<std::string, double>>(),
                           r.at("needle_cells").get<std::map<std::string, double>>(),
                           r.value("qa_breakdown", std::map<std::string, double>{})};
        bool seen = false;
        for (const auto& old : rows)
          seen = seen || (old.model == row.model && old.mode == row.mode);
        if (!seen) rows.push_back(std::move(row));
      }
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(path + ": not an `eval --suite --json` report (" + e.what() + ")");
    }
  }
  std::fputs(eval::suite_table(tasks, rows).c_str(), stdout);
  return 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval",
                                 "Evaluate a model on held-out data: synthetic retrieval exact "
                                 "match, or per-category perplexity");
  auto a = std::make_shared<EvalArgs>();
  auto* model_opt = cmd->add_option("-m,--model", a->model_dir, "Model directory");
  auto* suite =
      cmd->add_flag("--suite",
                    "Every block-attention task for every --models entry in full and block "
                    "attention: one table with the share of the teacher's gap closed");
  cmd->add_option(
         "--models", a->models,
         "--suite: name=DIR entries, comma-separated; the first is the full-attention teacher.\n"
         "DIR may be a LoRA adapter (adapter_config.json): it is scored merged into the teacher,\n"
         "in both modes")
      ->delimiter(',');
  cmd->add_option(
      "--segdata", a->segdata,
      "--suite: held-out `segdata build` instances for final-block (JSONL; several: a,b)");
  cmd->add_option("--suite-report", a->suite_report,
                  "Print one --suite table from saved --json reports (comma-separated), e.g. "
                  "halves run on two GPUs");
  cmd->add_option("--needle-n", a->needle_items, "--suite: needle items per (length, depth) cell")
      ->capture_default_str();
  cmd->add_option("--batch", a->batch_rows, "--suite: items per forward pass")
      ->capture_default_str();
  cmd->add_option("--task", a->task,
                  "retrieval | two-facts | distractors | far | qa (synthetic QA, exact match; qa "
                  "also token F1) | "
                  "perplexity (per category) | "
                  "final-block (last block of `segdata build` instances given the blocks before, "
                  "full vs block "
                  "attention)")
      ->capture_default_str();
  cmd->add_option("--corpus", a->corpus,
                  "Held-out JSONL documents ({\"text\", \"category\"}; e.g. the corpus's "
                  "test.jsonl): passage "
                  "source for QA tasks, scored documents for perplexity; several: a,b");
  cmd->add_option("--mode", a->mode, "full | block (QA tasks): passages as independent blocks")
      ->capture_default_str();
  cmd->add_option("--n", a->items,
                  "QA items; final-block: at most this many instances per file, evenly spaced")
      ->capture_default_str();
  cmd->add_option("--passages", a->passages, "Passages per QA item")->capture_default_str();
  cmd->add_option("--passage-tokens", a->passage_tokens, "Target tokens per passage")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Evaluation seed (items never seen in training)")
      ->check(unsigned_integer())
      ->capture_default_str();
  cmd->add_option("--window", a->window,
                  "perplexity / final-block: tokens per scored sequence (0: min(context, 2048))")
      ->capture_default_str();
  cmd->add_option("--max-tokens-per-category", a->max_tokens_per_category,
                  "Perplexity: stop adding documents of a category past this many tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "auto | float32 | bfloat16 | float16")
      ->capture_default_str();
  add_adapter_options(cmd, a->engine);
  cmd->footer(
      "--adapter: retrieval and qa tasks serve it as the engine does (--adapter-mode);\n"
      "perplexity and final-block score the base with the adapter merged in, in both modes\n"
      "(the model `adapter merge` writes). --suite takes adapters as --models entries.");
  cmd->add_option("--json", a->json_out, "Also write the results as JSON to this file");
  return [a, suite, model_opt] {
    if (!a->suite_report.empty()) return run_suite_report(*a);
    if (a->corpus.empty()) throw InputError("--corpus is required");
    if (*suite) return run_suite(*a);
    if (model_opt->count() == 0) throw InputError("--model is required (or --suite with --models)");
    if (a->task == "perplexity") return run_perplexity(*a);
    if (a->task == "final-block") return run_final_block(*a);
    return run_retrieval(*a);
  };
}

}  // namespace blockattn::cli
