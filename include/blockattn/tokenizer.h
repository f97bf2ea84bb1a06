// Text <-> token ids, without libtorch.
//
// Two back ends sit behind one interface:
//   - Hugging Face `tokenizer.json` with a BPE model (GPT-2, Llama-3, Qwen2/3 byte-level files),
//     encoding exactly as HF `tokenizers` does for the components it supports;
//   - SentencePiece `tokenizer.model` (when built with libsentencepiece).
// All methods are const and safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace blockattn {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads the tokenizer of a model directory: `tokenizer.json` (or `tokenizer.json.zst`), else
  // `tokenizer.model`. A `tokenizer_config.json` beside it supplies bos/eos (see bos_id()).
  // Throws IoError (neither file, naming the directory), FormatError (malformed file, naming it),
  // UnsupportedError (a model type, normalizer, pre-tokenizer... that is not implemented).
  static std::unique_ptr<Tokenizer> load(const std::string& model_dir);

  // One file: `*.json`, `*.json.zst` or `*.model`; same errors as load().
  static std::unique_ptr<Tokenizer> from_file(const std::string& path);

  // Text -> ids. Invalid UTF-8 throws InputError. Added and special tokens written literally in
  // the text (e.g. "<|im_start|>") are recognised as HF does. `add_special_tokens` applies the
  // post-processor template (e.g. a leading BOS), like HF's flag of the same name.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const = 0;

  // Ids -> text. Ids with no token are skipped (as HF does). Bytes that do not form valid UTF-8
  // (a character split across a partial sequence of tokens) are returned unchanged.
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const = 0;

  // Number of ids including added tokens: the largest id + 1.
  virtual int32_t vocab_size() const = 0;

  // The id of a raw vocabulary string (byte-level form, e.g. "Ġthe"), or of an added token.
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;

  // The raw vocabulary string of `id`; throws InputError when no token has that id.
  virtual std::string id_to_token(int32_t id) const = 0;

  // Special tokens are those skip_special_tokens removes (HF "special": true; SentencePiece
  // control and unknown pieces).
  virtual bool is_special(int32_t id) const = 0;

  // "tokenizer.json (BPE)" or "sentencepiece".
  virtual std::string kind() const = 0;

  // From tokenizer_config.json's bos_token / eos_token when present (null clears; a name not in
  // the vocabulary is ignored). Without one, eos falls back
  // to the first of <|endoftext|>, </s>, <|eot_id|> that exists (SentencePiece: the model's own
  // ids), and bos to the special token a post-processor template puts first.
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }

  // Hex XXH3-128 of the tokenizer file's content (decompressed when the file is .zst), so the
  // same tokenizer has the same fingerprint however it is stored.
  const std::string& fingerprint() const { return fingerprint_; }

 protected:
  Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
  // tokenizer_config.json's add_bos_token (default: false for tokenizer.json, true for
  // SentencePiece, as in transformers): encode(add_special_tokens=true) then puts bos_id_ first
  // unless the post-processor already adds a leading special token.
  bool add_bos_token_ = false;
  std::string fingerprint_;
};

}  // namespace blockattn
