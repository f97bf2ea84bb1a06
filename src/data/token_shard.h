// Pre-tokenized training data: memory-mapped token shards with document boundaries (torch-free).
//
// Shard file `shard-NNNNN.bats`, little-endian:
//   64-byte header: "BATOKSH1" | u32 version (1) | u32 token width (2: uint16, 4: uint32)
//                   | u64 n_tokens | u64 n_docs | 16-byte tokenizer fingerprint (XXH3-128)
//                   | u64 reserved (0) | u64 XXH3-64 of the preceding 56 bytes
//   u64 doc start offsets [n_docs + 1], in tokens (first 0, last n_tokens, non-decreasing)
//   tokens [n_tokens] of the given width
//
// A dataset directory (written by build_token_dataset / `blockattn shard`):
//   DIR/train/shard-*.bats, DIR/validation/shard-*.bats, DIR/tokenizer.json (a copy of the
//   tokenizer file, same extension as the source) and DIR/dataset.json (metadata, see below).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace blockattn {

class Tokenizer;

// 16 raw bytes <-> 32 lowercase hex digits (Tokenizer::fingerprint()). FormatError on bad hex.
std::string fingerprint_bytes(const std::string& hex);
std::string fingerprint_hex(const std::string& bytes);

// A read-only view of a shard's tokens (2- or 4-byte little-endian unsigned ids).
struct TokenSpan {
  const void* data = nullptr;
  uint64_t size = 0;
  uint32_t width = 4;
  uint32_t operator[](uint64_t i) const {
    return width == 2 ? static_cast<const uint16_t*>(data)[i] : static_cast<const uint32_t*>(data)[i];
  }
  // Copies ids [begin, begin + n) into out (widened to int64, the dtype torch indexes with).
  void copy_to(uint64_t begin, uint64_t n, int64_t* out) const;
};

// Appends documents and writes `shard-NNNNN.bats` files, rolling to a new shard once the current
// one holds `tokens_per_shard` tokens (a document is never split across shards). Each file is
// written atomically (temp + fsync + rename).
class TokenShardWriter {
 public:
  // `vocab_size` picks the token width; `tokenizer_fingerprint_hex` is Tokenizer::fingerprint().
  // The directory is created (if missing) when the first shard is written.
  TokenShardWriter(std::string dir, int64_t vocab_size, const std::string& tokenizer_fingerprint_hex,
                   uint64_t tokens_per_shard = 100'000'000);
  ~TokenShardWriter();  // does not flush: call finish()

  // InputError for an id outside [0, vocab_size). Empty documents are skipped.
  void add_document(const std::vector<int32_t>& ids);
  // Writes the pending shard (if any); returns every path written.
  std::vector<std::string> finish();

  uint64_t total_tokens() const { return total_tokens_; }
  uint64_t total_docs() const { return total_docs_; }

 private:
  void flush();

  std::string dir_;
  int64_t vocab_size_;
  uint32_t width_;
  std::string fingerprint_;  // 16 raw bytes
  uint64_t tokens_per_shard_;
  std::vector<uint32_t> tokens_;
  std::vector<uint64_t> offsets_{0};
  std::vector<std::string> written_;
  uint64_t total_tokens_ = 0, total_docs_ = 0;
};

// One memory-mapped, validated shard. Movable, not copyable.
class TokenShard {
 public:
  // IoError if unreadable; FormatError naming the file for a bad magic/version/width/checksum,
  // a size that disagrees with the header, or inconsistent document offsets.
  static TokenShard open(const std::string& path);

  TokenShard(TokenShard&& o) noexcept;
  TokenShard& operator=(TokenShard&& o) noexcept;
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;
  ~TokenShard();

  const std::string& path() const { return path_; }
  TokenSpan tokens() const { return tokens_; }
  uint64_t num_tokens() const { return tokens_.size; }
  uint64_t num_docs() const { return n_docs_; }
  // [begin, end) token offsets of document i (InputError if i >= num_docs()).
  std::pair<uint64_t, uint64_t> doc_bounds(uint64_t i) const;
  const std::string& tokenizer_fingerprint() const { return fingerprint_hex_; }

 private:
  TokenShard() = default;
  void unmap() noexcept;

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint64_t* offsets_ = nullptr;
  uint64_t n_docs_ = 0;
  TokenSpan tokens_;
  std::string fingerprint_hex_;
};

// Every `*.bats` shard of one directory (sorted by name), all from one tokenizer.
class TokenDataset {
 public:
  // IoError if `dir` does not exist; InputError if it holds no shard; FormatError
  // "shard X was made with tokenizer A, not B" when a shard's fingerprint differs from
  // `expected_tokenizer_fingerprint` (hex; empty: the first shard's, so all must agree).
  static TokenDataset open(const std::string& dir, const std::string& expected_tokenizer_fingerprint = "");

  const std::vector<TokenShard>& shards() const { return shards_; }
  uint64_t num_tokens() const { return n_tokens_; }
  const std::string& dir() const { return dir_; }
  const std::string& tokenizer_fingerprint() const { return fingerprint_; }

 private:
  std::string dir_;
  std::string fingerprint_;
  std::vector<TokenShard> shards_;
  uint64_t n_tokens_ = 0;
};

// DIR/dataset.json: what `blockattn pretrain` needs to know about a dataset directory.
struct DatasetInfo {
  std::string tokenizer_file;         // file name inside the dataset dir, e.g. "tokenizer.json"
  std::string tokenizer_fingerprint;  // hex
  int64_t tokenizer_vocab_size = 0;
  int32_t eos_id = -1;                // -1: none
  uint64_t train_tokens = 0, validation_tokens = 0, documents = 0;

  // Reads DIR/dataset.json. IoError naming the directory if it (or the file) is missing;
  // FormatError naming the file for malformed content.
  static DatasetInfo load(const std::string& dir);
  void save(const std::string& dir) const;
};

struct ShardBuildOptions {
  uint64_t tokens_per_shard = 100'000'000;
  // Every `validation_every`-th document (1-based: documents N, 2N, ...) goes to validation/;
  // 0 disables the split.
  uint64_t validation_every = 100;
  // Tokenizer threads; the output is the same for any count.
  size_t threads = 1;
  // Called with a one-line progress message (documents, tokens, MB read) now and then.
  std::function<void(const std::string&)> progress;
};

// Tokenizes JSONL files (one object per line with a string "text"; other fields ignored; blank
// lines skipped) with the tokenizer at `tokenizer_path`, appending EOS after every document when
// the tokenizer has one, and writes a dataset directory (see the top of this file).
// IoError for unreadable inputs; FormatError naming file:line for bad JSON or a missing "text".
DatasetInfo build_token_dataset(const std::string& tokenizer_path, const std::vector<std::string>& inputs,
                                const std::string& out_dir, const ShardBuildOptions& options = {});

}  // namespace blockattn
