// How segmentation measures text in tokens.
//
// Segmentation works on the bytes of a UTF-8 text, but block sizes are in tokens, so every
// function takes a counter. Callers pass a real tokenizer's count; tests and tokenizer-less tools
// can use the word or byte counters below.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace blockattn {
class Tokenizer;
}

namespace blockattn::segment {

// Number of tokens in a piece of text. Only ever called on valid UTF-8 cut at character
// boundaries. Must be deterministic; it need not be additive over concatenation (real tokenizers
// are not), which is why the hard cap is checked with an exact count of each final block.
using TokenCounter = std::function<size_t(std::string_view)>;

// tokenizer.encode(text).size() without special tokens. `tok` must outlive the counter.
TokenCounter tokenizer_counter(const Tokenizer& tok);

// Maximal runs of non-whitespace (ASCII whitespace): a tokenizer-free stand-in.
TokenCounter word_counter();

// ceil(bytes / bytes_per_token): a stand-in whose count grows with every byte, so that no
// text (not even a run of spaces) is free. bytes_per_token 0 is treated as 1.
TokenCounter byte_counter(size_t bytes_per_token = 1);

}  // namespace blockattn::segment
