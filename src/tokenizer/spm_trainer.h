// Trains the SentencePiece tokenizer of our own models (`blockattn tokenizer train`).
//
// Recipe: BPE, byte fallback (no <unk> in practice), digits split one per piece, identity
// normalization with whitespace kept as is and no dummy "▁" prefix (so text round-trips
// exactly and blocks tokenized one by one concatenate like the whole text), and the special
// pieces listed below at fixed ids. libsentencepiece_train is reached through the dlopen()ed
// shim (spm_shim/spm_api.h), like the rest of sentencepiece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace blockattn::tok {

// Fixed ids: <pad> 0, <s> 1, </s> 2, <unk> 3 (SentencePiece control / unknown pieces).
inline constexpr int kSpmPadId = 0;
inline constexpr int kSpmBosId = 1;
inline constexpr int kSpmEosId = 2;
inline constexpr int kSpmUnkId = 3;
// User-defined pieces, ids 4, 5, 6: SentencePiece matches user-defined pieces literally when
// encoding, so "<|im_start|>" in a prompt is one id (control pieces would be spelled out
// character by character). The block sink is inserted by id; chat markers come from text.
const std::vector<std::string>& spm_user_symbols();  // {"<|block_sink|>", "<|im_start|>", "<|im_end|>"}

// Hard limits of train_sentencepiece(); the CLI holds the recipe to 8000..16384.
inline constexpr int kSpmMinVocabSize = 300;  // 7 special + 256 byte pieces + characters
inline constexpr int kSpmMaxVocabSize = 65536;

struct SpmTrainOptions {
  int vocab_size = 12000;
  // Seeds sentencepiece's random generator. The recipe samples and shuffles nothing, so today
  // the model does not depend on it; it pins the result should sampling ever be turned on.
  uint32_t seed = 1;
  double character_coverage = 0.9995;
};

struct SpmTrainResult {
  std::string model;     // the serialized tokenizer.model
  size_t sentences = 0;  // lines handed to the trainer
  size_t bytes = 0;      // their total size
};

// Trains on the documents' text, split into lines (a line longer than sentencepiece's sentence
// limit is cut at spaces). Deterministic: the same texts and options give the same bytes.
// Throws InputError (vocab_size out of range, no text, or sentencepiece refusing the input, e.g.
// a vocabulary larger than the corpus supports) and UnsupportedError (no SentencePiece support).
SpmTrainResult train_sentencepiece(const std::vector<std::string>& texts, const SpmTrainOptions& options);

// Writes DIR/tokenizer.model and DIR/tokenizer_config.json (bos <s>, eos </s>,
// add_bos_token false), creating DIR, so that Tokenizer::load(DIR) works. Throws IoError.
void write_spm_tokenizer_dir(const std::string& dir, const std::string& model);

}  // namespace blockattn::tok
