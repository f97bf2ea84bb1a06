#include "tokenizer/spm_trainer.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"
#ifdef BLOCKATTN_HAVE_SENTENCEPIECE
#include "tokenizer/spm_library.h"
#endif

namespace blockattn::tok {

namespace {

// sentencepiece silently drops sentences longer than max_sentence_length bytes; we cut lines
// below it instead so no text is lost.
constexpr size_t kMaxSentenceBytes = 8192;
constexpr size_t kCutBytes = 8000;

// Cuts a long line at the last space before kCutBytes (else at a UTF-8 character boundary).
void add_line(std::string_view line, std::vector<std::string>* out) {
  while (line.size() > kCutBytes) {
    size_t cut = line.rfind(' ', kCutBytes);
    if (cut == std::string_view::npos || cut == 0) {
      cut = kCutBytes;
      while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    }
    out->emplace_back(line.substr(0, cut));
    line.remove_prefix(cut);
  }
  if (!line.empty()) out->emplace_back(line);
}

// Training sentences are lines: "\n" itself then encodes through byte fallback (<0x0A>), as in
// Llama's tokenizer, and no piece spans a line break.
std::vector<std::string> to_sentences(const std::vector<std::string>& texts) {
  std::vector<std::string> sentences;
  for (const std::string& text : texts) {
    std::string_view rest(text);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      add_line(line, &sentences);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    }
  }
  return sentences;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

const std::vector<std::string>& spm_user_symbols() {
  static const std::vector<std::string> symbols = {"<|block_sink|>", "<|im_start|>", "<|im_end|>"};
  return symbols;
}

SpmTrainResult train_sentencepiece(const std::vector<std::string>& texts, const SpmTrainOptions& options) {
  if (options.vocab_size < kSpmMinVocabSize || options.vocab_size > kSpmMaxVocabSize)
    throw InputError("vocab size " + std::to_string(options.vocab_size) + " out of range (" +
                     std::to_string(kSpmMinVocabSize) + ".." + std::to_string(kSpmMaxVocabSize) + ")");
  if (options.character_coverage <= 0.0 || options.character_coverage > 1.0)
    throw InputError("character coverage must be in (0, 1]");

  SpmTrainResult result;
  std::vector<std::string> sentences = to_sentences(texts);
  if (sentences.empty()) throw InputError("the corpus has no text to train a tokenizer on");
  result.sentences = sentences.size();
  for (const std::string& s : sentences) result.bytes += s.size();

#ifdef BLOCKATTN_HAVE_SENTENCEPIECE
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", std::to_string(options.character_coverage)},
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      // Text must survive encode/decode unchanged: no NFKC, no whitespace folding.
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"pad_id", std::to_string(kSpmPadId)},
      {"bos_id", std::to_string(kSpmBosId)},
      {"eos_id", std::to_string(kSpmEosId)},
      {"unk_id", std::to_string(kSpmUnkId)},
      {"pad_piece", "<pad>"},
      {"bos_piece", "<s>"},
      {"eos_piece", "</s>"},
      {"unk_piece", "<unk>"},
      {"user_defined_symbols", join(spm_user_symbols())},
      // Every sentence, in order: no sampling, no shuffling, so nothing depends on chance.
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", std::to_string(kMaxSentenceBytes)},
      // The thread count is recorded in the model (trainer_spec), so it is fixed to keep the
      // bytes the same everywhere; BPE merging is single-threaded in sentencepiece anyway.
      {"num_threads", "1"},
      // sentencepiece logs to std::cerr; under RTLD_DEEPBIND the shim's std::cerr is
      // libstdc++'s own, never-constructed copy (the executable's copy-relocated one is the live
      // stream), so any log line would crash. Only FATAL, which aborts anyway, stays on.
      {"minloglevel", "3"},
  };
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : flags) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  std::vector<const char*> data;
  std::vector<size_t> sizes;
  data.reserve(sentences.size());
  sizes.reserve(sentences.size());
  for (const std::string& s : sentences) {
    data.push_back(s.data());
    sizes.push_back(s.size());
  }
  auto on_model = [](void* ctx, const char* bytes, size_t size) { static_cast<std::string*>(ctx)->assign(bytes, size); };
  char err[1024] = "";
  int rc = spm_api().train(keys.data(), values.data(), keys.size(), data.data(), sizes.data(), data.size(),
                           options.seed, on_model, &result.model, err, sizeof err);
  if (rc != 0) throw InputError(std::string("sentencepiece training failed: ") + err);
  return result;
#else
  throw UnsupportedError("this build has no SentencePiece support: cannot train a tokenizer");
#endif
}

void write_spm_tokenizer_dir(const std::string& dir, const std::string& model) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !is_directory(dir)) throw IoError(dir + ": cannot create directory" + (ec ? ": " + ec.message() : ""));
  // add_bos_token false: nothing is put before the text implicitly; callers add <s> or the block
  // sink by id where they want one.
  const nlohmann::json config = {
      {"tokenizer_class", "LlamaTokenizer"},
      {"bos_token", "<s>"},
      {"eos_token", "</s>"},
      {"unk_token", "<unk>"},
      {"pad_token", "<pad>"},
      {"add_bos_token", false},
      {"add_eos_token", false},
      {"additional_special_tokens", spm_user_symbols()},
  };
  write_file_atomic(dir + "/tokenizer.model", model);
  write_file_atomic(dir + "/tokenizer_config.json", config.dump(2) + "\n");
}

}  // namespace blockattn::tok
