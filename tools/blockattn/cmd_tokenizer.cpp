// `blockattn tokenizer train`: a SentencePiece BPE tokenizer for our own models, trained on JSONL
// documents (recipe: src/tokenizer/spm_trainer.h, docs/data.md).
#include <chrono>
#include <cstdio>
#include <memory>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "commands.h"
#include "data/synthetic_corpus.h"
#include "tokenizer/spm_trainer.h"

namespace blockattn::cli {

namespace {

// The recipe's range; train_sentencepiece() itself accepts smaller vocabularies (tests).
constexpr int kMinVocab = 8000;
constexpr int kMaxVocab = 16384;

struct TrainArgs {
  std::string inputs;
  std::string out_dir;
  int vocab_size = 12000;
  uint32_t seed = 1;
};

int run_train(const TrainArgs& a) {
  if (a.vocab_size < kMinVocab || a.vocab_size > kMaxVocab)
    throw InputError("--vocab-size " + std::to_string(a.vocab_size) + " out of range (" + std::to_string(kMinVocab) +
                     ".." + std::to_string(kMaxVocab) + ")");
  std::vector<std::string> paths = data::split_path_list(a.inputs);
  if (paths.empty()) throw InputError("--in names no file");
  std::vector<std::string> texts = data::read_jsonl_texts(paths);
  if (texts.empty()) throw InputError(a.inputs + ": no documents with text");

  tok::SpmTrainOptions options;
  options.vocab_size = a.vocab_size;
  options.seed = a.seed;
  std::fprintf(stderr, "training on %zu documents ...\n", texts.size());
  auto start = std::chrono::steady_clock::now();
  tok::SpmTrainResult result = tok::train_sentencepiece(texts, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tok::write_spm_tokenizer_dir(a.out_dir, result.model);

  // Load it back the way the engine will, and check what the rest of the project relies on.
  auto tokenizer = Tokenizer::load(a.out_dir);
  for (const std::string& s : tok::spm_user_symbols())
    if (tokenizer->encode(s).size() != 1) throw FormatError(a.out_dir + ": " + s + " does not encode to one id");
  std::printf("tokenizer      %s/tokenizer.model (+ tokenizer_config.json)\n", a.out_dir.c_str());
  std::printf("corpus         %zu documents, %zu lines, %.1f MB\n", texts.size(), result.sentences, result.bytes / 1e6);
  std::printf("vocabulary     %d (pad 0, <s> 1, </s> 2, <unk> 3, <|block_sink|> %d, <|im_start|> %d, <|im_end|> %d)\n",
              tokenizer->vocab_size(), *tokenizer->token_to_id("<|block_sink|>"),
              *tokenizer->token_to_id("<|im_start|>"), *tokenizer->token_to_id("<|im_end|>"));
  std::printf("training time  %.1f s\n", seconds);
  std::printf("fingerprint    %s\n", tokenizer->fingerprint().c_str());
  return 0;
}

}  // namespace

Runner add_tokenizer(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Tokenizer tools");
  cmd->require_subcommand(1);
  auto* train = cmd->add_subcommand(
      "train", "Train a SentencePiece BPE tokenizer (byte fallback, split digits, chat and block-sink tokens)");
  auto args = std::make_shared<TrainArgs>();
  train->add_option("--in", args->inputs, "JSONL documents with a \"text\" field; several: a,b,c")->required();
  train->add_option("--out", args->out_dir, "Output directory (tokenizer.model, tokenizer_config.json)")->required();
  train->add_option("--vocab-size", args->vocab_size, "Vocabulary size, 8000..16384")->capture_default_str();
  train->add_option("--seed", args->seed, "Seed of sentencepiece's random generator")->capture_default_str();
  return [train, args] { return train->parsed() ? run_train(*args) : 1; };
}

}  // namespace blockattn::cli
