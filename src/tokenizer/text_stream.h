// Turns generated tokens into text as it becomes safe to show: whole UTF-8 characters only,
// never text that may still change, and never text that may turn out to be the start of a
// stop string.
//
// Contract:
//   - The text is what decoding all tokens at once gives (Tokenizer::decode, special tokens
//     kept), except that invalid UTF-8 is replaced by U+FFFD, one per maximal ill-formed
//     subsequence (Unicode's recommended practice; Python's errors="replace"): a byte that can no
//     longer become part of a character is replaced as soon as that is certain (a lone
//     continuation byte, a truncated sequence followed by ASCII), and finish() replaces a
//     truncated sequence left at the end. take_ready() and finish() therefore only ever return
//     valid UTF-8, and their concatenation is text() after finish(). (SentencePiece's decode
//     already replaces ill-formed bytes itself, one U+FFFD per byte; its text is kept as is.)
//   - Cost per token: one decode of a window of recent tokens (tens of tokens), whatever the
//     length of the output so far. Exactness relies on the tokenizer's decoding being local, as
//     every supported decoder is: a token's text depends only on nearby tokens (SentencePiece's
//     leading-space rule at the start of a decode, byte-fallback runs, UTF-8 split across
//     byte-level BPE tokens).
//   - Stop strings are searched in the text as it stands after each push(), as if all tokens
//     were decoded at once; the text is cut just before the first stop string found.
//   - One stream per generation; not thread-safe (the Tokenizer may be shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "blockattn/tokenizer.h"

namespace blockattn {

// `s` with each maximal ill-formed UTF-8 subsequence replaced by U+FFFD (valid input unchanged).
std::string replace_invalid_utf8(std::string_view s);

class TextStream {
 public:
  // `tokenizer` must outlive the stream. Empty stop strings are ignored; a stop string that is
  // not valid UTF-8 throws InputError (it could never match the text, which is).
  TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop);

  // Adds a token. True if a stop string now appears: the text is cut just before it, and later
  // pushes are ignored (they return true). Throws InputError after finish().
  bool push(int32_t token);

  // Text that became safe since the last call (possibly empty): final text, less its longest
  // end that a stop string begins with (the next tokens may complete the stop string).
  std::string take_ready();

  // Ends the stream: all text not returned yet, a truncated UTF-8 sequence at the end replaced
  // by U+FFFD. Later calls return "".
  std::string finish();

  // All text so far: after a stop or finish(), the final text; before, the final text followed
  // by the current decoding of the last tokens, which may still change (e.g. SentencePiece byte
  // tokens of a character not complete yet), without a trailing incomplete UTF-8 character.
  const std::string& text() const { return text_; }

  // Tokens pushed (those ignored after a stop not included).
  size_t tokens() const { return tokens_.size(); }

 private:
  std::string decode_range(size_t begin, size_t end) const;
  int byte_value(int32_t token) const;
  size_t settled_end() const;
  void maybe_reanchor();
  size_t find_stop(size_t from) const;
  size_t hold_back_from(size_t end) const;

  const Tokenizer& tokenizer_;
  std::vector<std::string> stop_;
  size_t max_stop_ = 0;  // longest stop string, bytes

  std::vector<int32_t> tokens_;
  std::vector<int16_t> byte_;  // per token: its byte for a byte-fallback token "<0xHH>", else < 0
  // Tokens are decoded from anchor_ on. Tokens before commit_ have final text; window_final_ is
  // the decoding of [anchor_, commit_) (in that window: its first characters may differ from the
  // full decoding's, which is why it is kept, not recomputed from text_).
  size_t anchor_ = 0;
  size_t commit_ = 0;
  std::string window_final_;
  std::vector<size_t> boundaries_;  // earlier values of commit_ after anchor_: window starts
  size_t next_reanchor_ = 0;        // no new anchor is tried before this many tokens
  std::string pending_;             // decoding of [commit_, end): may still change
  std::string utf8_tail_;           // final bytes that may begin a character (at most 3)

  std::string text_;       // final text, then the pending text as it stands
  size_t final_size_ = 0;  // text_[0, final_size_) is final
  size_t emitted_ = 0;     // text_[0, emitted_) was returned
  bool stopped_ = false;
  bool finished_ = false;
};

}  // namespace blockattn
