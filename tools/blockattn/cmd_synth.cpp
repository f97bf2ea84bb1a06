// `blockattn synth`: synthetic long-context tasks from corpus text (src/data/synthetic_tasks.h,
// docs/data.md), one JSON item per line.
#include <cstdio>
#include <fstream>
#include <memory>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "blockdata/block_samples.h"
#include "commands.h"
#include "core/io.h"
#include "data/synthetic_corpus.h"
#include "data/synthetic_tasks.h"

namespace blockattn::cli {

namespace {

struct SynthArgs {
  std::string corpus;
  std::string out;
  std::string task = "retrieval";
  std::string split = "train";
  std::string tokenizer_dir;
  size_t n = 1000;
  size_t passages = 8;
  size_t passage_tokens = 200;
  uint64_t seed = 1;
  double abstain_rate = 0.2;
  std::string format = "chatml";
  std::string chat = "chatml";  // --format blocks: layout of the final block
};

int run_synth(const SynthArgs& a) {
  data::SynthOptions options;
  options.task = data::parse_task(a.task);
  options.split = data::parse_split(a.split);
  options.passages = a.passages;
  options.passage_tokens = a.passage_tokens;
  options.seed = a.seed;
  options.abstain_rate = a.abstain_rate;
  if (a.abstain_rate < 0 || a.abstain_rate > 1)
    throw InputError("--abstain-rate must be between 0 and 1");
  if (a.n == 0) throw InputError("--n must be at least 1");
  const bool as_blocks = a.format == "blocks";
  if (as_blocks && a.chat != "chatml" && a.chat != "plain")
    throw InputError("--chat must be chatml or plain, not \"" + a.chat + "\"");
  const ChatFormat format = ChatFormat::named(as_blocks ? a.chat : a.format);

  std::vector<std::string> docs = data::read_jsonl_texts(data::split_path_list(a.corpus));
  std::unique_ptr<Tokenizer> tokenizer;
  data::TokenCounter counter;  // empty: bytes / 4
  if (!a.tokenizer_dir.empty()) {
    tokenizer = Tokenizer::load(a.tokenizer_dir);
    counter = [t = tokenizer.get()](std::string_view s) { return t->encode(s).size(); };
  }
  data::SynthGenerator gen(docs, options, counter);

  // Written beside the target and renamed at the end: a failed run leaves no partial file.
  const std::string tmp = a.out + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(errno_message(tmp));
  size_t text_tokens = 0;
  for (size_t i = 0; i < a.n; ++i) {
    data::SynthItem item = gen.make(i);
    text_tokens += gen.sampler().tokens(item.text(format));
    out << (as_blocks ? data::to_json_line(data::block_sample(item, format))
                      : item.to_json_line(format))
        << '\n';
  }
  out.close();
  if (!out || std::rename(tmp.c_str(), a.out.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(errno_message(a.out));
  }
  std::printf("wrote %zu %s items (%s split, seed %llu) to %s\n", a.n, a.task.c_str(),
              a.split.c_str(), static_cast<unsigned long long>(a.seed), a.out.c_str());
  std::printf("%zu passages of ~%zu tokens from %zu documents; %.0f %s per item on average\n",
              a.passages, a.passage_tokens, gen.sampler().documents(),
              static_cast<double>(text_tokens) / a.n,
              tokenizer ? "tokens" : "tokens (bytes/4 estimate)");
  return 0;
}

}  // namespace

Runner add_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "synth", "Generate synthetic long-context tasks (JSONL) from corpus documents");
  auto args = std::make_shared<SynthArgs>();
  cmd->add_option("--corpus", args->corpus, "JSONL documents with a \"text\" field; several: a,b,c")
      ->required();
  cmd->add_option("--out", args->out, "Output JSONL file")->required();
  cmd->add_option("--task", args->task,
                  "retrieval | two-facts | distractors | far | qa (varied extractive QA with "
                  "abstention; --split picks the template and entity pools)")
      ->capture_default_str();
  cmd->add_option("--n", args->n, "Number of items")->capture_default_str();
  cmd->add_option(
         "--format", args->format,
         "Prompt layout of the \"text\" field: chatml (the engine's layout for models whose "
         "tokenizer has "
         "<|im_start|>, e.g. ours) | plain (\"Question: ...\\nAnswer:\") | raw | blocks (each line "
         "a block "
         "sample: {id, category, blocks}, the last block question + answer in --chat's layout)")
      ->capture_default_str();
  cmd->add_option("--chat", args->chat, "--format blocks: chatml | plain, the final block's layout")
      ->capture_default_str();
  cmd->add_option("--passages", args->passages, "Passages per item (1..256)")
      ->capture_default_str();
  cmd->add_option("--passage-tokens", args->passage_tokens, "Target tokens per passage (16..8192)")
      ->capture_default_str();
  cmd->add_option("--split", args->split,
                  "train | eval (disjoint names, values, documents and qa templates)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed; item i depends only on (seed, split, task, i)")
      ->capture_default_str();
  cmd->add_option(
         "--abstain-rate", args->abstain_rate,
         "--task qa: fraction of unanswerable items (answer \"The context does not say.\")")
      ->capture_default_str();
  cmd->add_option("--tokenizer", args->tokenizer_dir,
                  "Tokenizer directory to count passage tokens exactly");
  return [args] { return run_synth(*args); };
}

}  // namespace blockattn::cli
