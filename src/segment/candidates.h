// Candidate cut points: every place where a block may end.
//
// Convention: a cut at byte offset o ends the block [prev, o) and starts the next at o. Cuts
// are placed AFTER the separating whitespace, so every block but the first starts with a
// visible character and the whitespace (newlines, indentation) stays at the end of the block
// before. Offsets are always on UTF-8 character boundaries and strictly inside (0, size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace blockattn::segment {

// Ordered by strength: a larger value is a stronger separator. kStart and kForced never come
// out of find_candidates(); they label the first block and cuts made without a candidate.
enum class CutType : uint8_t {
  kForced = 0,     // no candidate: a cut at a character boundary to honour max_tokens
  kWord = 1,       // a run of spaces/tabs
  kSentence = 2,   // after . ! ? … (and closing quotes/brackets), or after 。！？
  kLine = 3,       // one line break
  kCode = 4,       // a line break before a top-level definition or after a column-0 `}`/`end`
  kParagraph = 5,  // a blank line (two or more line breaks; a form feed counts as one)
  kStart = 6,      // the start of the text (first block only)
};

const char* cut_type_name(CutType t);  // "word", "sentence", ...

inline uint8_t cut_bit(CutType t) { return static_cast<uint8_t>(1u << static_cast<unsigned>(t)); }

struct Candidate {
  size_t offset = 0;
  CutType type = CutType::kWord;  // the strongest of `kinds`
  // Every kind this cut is (cut_bit of each): a blank line after "end." is a paragraph, a line
  // and a sentence end. The sentence and paragraph splitters select on these bits.
  uint8_t kinds = 0;
  bool is(CutType t) const { return (kinds & cut_bit(t)) != 0; }
};

// All candidates of `text` (valid UTF-8), in increasing offset order. Linear time.
std::vector<Candidate> find_candidates(std::string_view text);

}  // namespace blockattn::segment
