#include "tokenizer/text_stream.h"

#include <algorithm>

#include "blockattn/error.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace blockattn {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// A window is moved forward once it holds this many tokens of final text, to a window start
// at least kContextTokens before the first token whose text is not final: that context absorbs
// what a decode does differently at its start (SentencePiece drops the leading space of the
// first piece, or all leading whitespace pieces with remove_extra_whitespaces).
constexpr size_t kReanchorTokens = 32;
constexpr size_t kContextTokens = 8;

// TextStream::byte_ values that are not a byte.
constexpr int kOrdinary = -1;  // a token that is not a byte token
constexpr int kNoToken = -2;   // an id with no token: decodes to nothing, as if absent

// The UTF-8 sequence a lead byte starts: its length and the range its second byte must be in
// (Unicode Table 3-7, which excludes overlong forms, surrogates and code points > U+10FFFF).
// Length 0 for a byte that starts nothing (continuation bytes, C0, C1, F5..FF).
struct Lead {
  size_t len;
  unsigned char lo, hi;
};

Lead lead_of(unsigned char c) {
  if (c < 0x80) return {1, 0, 0};
  if (c >= 0xC2 && c <= 0xDF) return {2, 0x80, 0xBF};
  if (c == 0xE0) return {3, 0xA0, 0xBF};
  if (c == 0xED) return {3, 0x80, 0x9F};
  if (c >= 0xE1 && c <= 0xEF) return {3, 0x80, 0xBF};
  if (c == 0xF0) return {4, 0x90, 0xBF};
  if (c >= 0xF1 && c <= 0xF3) return {4, 0x80, 0xBF};
  if (c == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// How many bytes at `s[i]` belong to a well-formed prefix of the sequence its lead byte starts
// (1 for ASCII or a byte that starts nothing; `lead.len` when the character is complete).
template <class ByteAt>
size_t matched(ByteAt byte_at, size_t n, size_t i, const Lead& lead) {
  size_t j = 1;
  while (j < lead.len && i + j < n) {
    const unsigned char d = byte_at(i + j);
    if (d < (j == 1 ? lead.lo : 0x80) || d > (j == 1 ? lead.hi : 0xBF)) break;
    ++j;
  }
  return j;
}

// Appends `in` to `out`, each maximal ill-formed subsequence replaced by U+FFFD. Unless
// `at_end`, a truncated sequence at the very end (more bytes may complete it) is left out;
// returns how many bytes of `in` were consumed.
size_t append_replacing(std::string_view in, bool at_end, std::string& out) {
  auto byte_at = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  size_t i = 0;
  while (i < in.size()) {
    const unsigned char c = byte_at(i);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const Lead lead = lead_of(c);
    if (lead.len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    const size_t j = matched(byte_at, in.size(), i, lead);
    if (j == lead.len) {
      out.append(in, i, j);
    } else if (i + j == in.size() && !at_end) {
      return i;
    } else {
      out += kReplacement;
    }
    i += j;
  }
  return in.size();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string replace_invalid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_replacing(s, true, out);
  return out;
}

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop)
    : tokenizer_(tokenizer), stop_(std::move(stop)) {
  stop_.erase(std::remove(stop_.begin(), stop_.end(), std::string()), stop_.end());
  for (const auto& s : stop_) {
    if (find_invalid_utf8(s) != std::string::npos)
      throw InputError("stop string is not valid UTF-8: " + replace_invalid_utf8(s));
    max_stop_ = std::max(max_stop_, s.size());
  }
}

std::string TextStream::decode_range(size_t begin, size_t end) const {
  return tokenizer_.decode(std::vector<int32_t>(tokens_.begin() + begin, tokens_.begin() + end));
}

// Byte-fallback tokens ("<0xE2>", SentencePiece and HF ByteFallback) are joined with their
// neighbours into characters, so text ending in them may change; elsewhere this only delays
// final text by a token, so the spelling alone is enough to recognise them.
int TextStream::byte_value(int32_t token) const {
  if (token < 0 || token >= tokenizer_.vocab_size()) return kNoToken;
  std::string piece;
  try {
    piece = tokenizer_.id_to_token(token);
  } catch (const InputError&) {
    return kNoToken;
  }
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return kOrdinary;
  const int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
  return hi < 0 || lo < 0 ? kOrdinary : hi * 16 + lo;
}

// The last token index up to which the text is final: all tokens, unless they end in byte
// tokens, whose run SentencePiece decodes greedily from its start, replacing each byte of an
// ill-formed sequence by U+FFFD: text is final up to the first byte of the run whose character
// more bytes may still complete. Ids with no token are dropped before decoding, so they do not
// end a run.
size_t TextStream::settled_end() const {
  const size_t n = tokens_.size();
  size_t i = n;
  while (i > commit_ && byte_[i - 1] != kOrdinary) --i;  // commit_ is itself a settled boundary
  std::vector<unsigned char> bytes;
  std::vector<size_t> after;  // after[k]: the token index just past bytes[k]
  for (size_t t = i; t < n; ++t)
    if (byte_[t] >= 0) {
      bytes.push_back(static_cast<unsigned char>(byte_[t]));
      after.push_back(t + 1);
    }
  auto byte_at = [&](size_t k) { return bytes[k]; };
  size_t k = 0;
  while (k < bytes.size()) {
    const Lead lead = lead_of(bytes[k]);
    if (lead.len <= 1) {
      ++k;  // ASCII, or a byte that starts nothing: one character (or one U+FFFD) either way
      continue;
    }
    const size_t j = matched(byte_at, bytes.size(), k, lead);
    if (j == lead.len)
      k += j;
    else if (k + j == bytes.size())
      break;  // may still be completed
    else
      ++k;  // SentencePiece replaces one byte and rescans the next
  }
  if (k == bytes.size()) return n;
  return k == 0 ? i : after[k - 1];
}

bool TextStream::push(int32_t token) {
  if (finished_) throw InputError("TextStream::push() after finish()");
  if (stopped_) return true;
  tokens_.push_back(token);
  byte_.push_back(static_cast<int16_t>(byte_value(token)));
  const size_t n = tokens_.size();

  std::string window = decode_range(anchor_, n);
  if (!starts_with(window, window_final_)) {
    // A decoder rewrote text that was taken as final: not one that is supported. Decoding from
    // the first token is exact for any decoder that only ever appends; if even that differs,
    // continue from the length already final (best effort).
    anchor_ = 0;
    boundaries_.clear();
    window_final_ = decode_range(0, commit_);
    window = decode_range(0, n);
    if (!starts_with(window, window_final_))
      window_final_ = window.substr(0, std::min(window.size(), window_final_.size()));
  }
  std::string_view fresh = std::string_view(window).substr(window_final_.size());

  // Which of the fresh bytes are final.
  size_t settled = settled_end();
  size_t final_bytes = fresh.size();
  if (settled == commit_) {
    final_bytes = 0;
  } else if (settled < n) {
    const std::string part = decode_range(anchor_, settled);
    if (part.size() >= window_final_.size() && starts_with(window, part)) {
      final_bytes = part.size() - window_final_.size();
    } else {
      settled = commit_;
      final_bytes = 0;
    }
  }

  const size_t old_final = final_size_;
  text_.resize(final_size_);
  if (final_bytes > 0) {
    const std::string bytes = utf8_tail_ + std::string(fresh.substr(0, final_bytes));
    utf8_tail_ = bytes.substr(append_replacing(bytes, false, text_));
    final_size_ = text_.size();
    window_final_.append(fresh.substr(0, final_bytes));
  }
  if (settled > commit_) {
    commit_ = settled;
    boundaries_.push_back(commit_);
  }
  pending_ = std::string(fresh.substr(final_bytes));
  // The text as it stands, for text() and the stop strings; an incomplete character at its
  // end is left out (it cannot be part of a match: stop strings are valid UTF-8).
  append_replacing(utf8_tail_ + pending_, false, text_);

  // A match ending inside the text that was already final would have been found before.
  const size_t cut = find_stop(old_final + 1 > max_stop_ ? old_final + 1 - max_stop_ : 0);
  if (cut != std::string::npos) {
    text_.resize(cut);
    final_size_ = cut;
    utf8_tail_.clear();
    pending_.clear();
    stopped_ = true;
  }
  maybe_reanchor();
  return stopped_;
}

// Moves the window start forward to an earlier commit point, once the new window's decoding of
// the final tokens agrees with the old one's (the new text must be a non-empty suffix of the old:
// non-empty so that the start-of-decode effects are over before the tokens that follow).
void TextStream::maybe_reanchor() {
  if (stopped_ || commit_ - anchor_ < kReanchorTokens || tokens_.size() < next_reanchor_) return;
  auto it = std::upper_bound(boundaries_.begin(), boundaries_.end(), commit_ - kContextTokens);
  if (it == boundaries_.begin()) return;
  const size_t start = *--it;
  std::string head = decode_range(start, commit_);
  if (head.empty() || !ends_with(window_final_, head)) {
    next_reanchor_ = tokens_.size() + kContextTokens;  // retry later, not on every token
    return;
  }
  anchor_ = start;
  window_final_ = std::move(head);
  boundaries_.erase(boundaries_.begin(), it + 1);
}

size_t TextStream::find_stop(size_t from) const {
  size_t cut = std::string::npos;
  for (const auto& s : stop_) cut = std::min(cut, text_.find(s, from));
  return cut;
}

// Where the final text must stop being shown: at the first position whose remainder up to
// `end` is a proper prefix of a stop string (the next tokens may complete it), else at `end`.
size_t TextStream::hold_back_from(size_t end) const {
  const size_t begin = std::max(emitted_, end + 1 > max_stop_ ? end + 1 - max_stop_ : 0);
  for (size_t p = begin; p < end; ++p) {
    const std::string_view tail(text_.data() + p, end - p);
    for (const auto& s : stop_)
      if (s.size() > tail.size() && s.compare(0, tail.size(), tail) == 0) return p;
  }
  return end;
}

std::string TextStream::take_ready() {
  const size_t end = stopped_ || finished_ ? final_size_ : hold_back_from(final_size_);
  if (end <= emitted_) return {};
  std::string out = text_.substr(emitted_, end - emitted_);
  emitted_ = end;
  return out;
}

std::string TextStream::finish() {
  if (!finished_ && !stopped_) {
    const size_t old_final = final_size_;
    text_.resize(final_size_);
    append_replacing(utf8_tail_ + pending_, true, text_);
    utf8_tail_.clear();
    pending_.clear();
    final_size_ = text_.size();
    // The U+FFFD that just replaced an incomplete tail may complete a stop string.
    const size_t cut = find_stop(old_final + 1 > max_stop_ ? old_final + 1 - max_stop_ : 0);
    if (cut != std::string::npos) {
      text_.resize(cut);
      final_size_ = cut;
    }
  }
  finished_ = true;
  return take_ready();
}

}  // namespace blockattn
