// Token counts for the dataset: exact (a Tokenizer) by default, or a cheap byte-ratio estimate,
// or any function a caller supplies (tests). Counting is the dataset build's main cost, so
// count_many() spreads a batch over threads; every counter must be safe to call concurrently.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace blockattn {
class Tokenizer;
}

namespace blockattn::segment {

class DatasetCounter {
 public:
  using Fn = std::function<size_t(std::string_view)>;

  // Exact: the number of ids `tokenizer` encodes `text` to, without special tokens.
  // Throws IoError / FormatError / UnsupportedError from Tokenizer::from_file.
  static DatasetCounter from_tokenizer_file(const std::string& path);
  // ceil(bytes / bytes_per_token); bytes_per_token must be > 0.
  static DatasetCounter approximate(double bytes_per_token);
  static DatasetCounter custom(Fn fn, std::string description);

  size_t count(std::string_view text) const { return fn_(text); }
  // Counts of every text, in order, on up to `threads` threads.
  std::vector<size_t> count_many(const std::vector<std::string_view>& texts,
                                 unsigned threads) const;
  // "sentencepiece tokenizer <path> (fingerprint ...)", "approximate: 4.0 bytes/token", ...
  const std::string& description() const { return description_; }

 private:
  Fn fn_;
  std::string description_;
  std::shared_ptr<const Tokenizer> tokenizer_;  // keeps the exact counter's tokenizer alive
};

}  // namespace blockattn::segment
