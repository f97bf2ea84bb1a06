// The segmenter's input path: text validation, then each tokenizer-free method with options
// taken from the first bytes; every block must lie inside the text, in order.
#include <cstdint>
#include <string_view>

#include "blockattn/error.h"
#include "segment/segment.h"
#include "segment/text_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn;
  if (size < 3) return 0;
  segment::SegmentOptions opts;
  const segment::Method methods[] = {segment::Method::kFixed, segment::Method::kRecursive,
                                     segment::Method::kSentence, segment::Method::kParagraph,
                                     segment::Method::kTextTiling};
  opts.method = methods[data[0] % 5];
  opts.max_tokens = 1 + data[1] % 64;
  opts.min_tokens = data[2] % 8;
  opts.overlap_tokens = opts.method == segment::Method::kFixed ? data[2] % opts.max_tokens : 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 3, size - 3);
  try {
    segment::check_text(text, "fuzz");
    for (const segment::TokenCounter& count : {segment::word_counter(), segment::byte_counter(3)}) {
      for (const segment::Block& b : segment::segment(text, opts, count))
        if (b.begin > b.end || b.end > text.size()) __builtin_trap();
    }
  } catch (const Error&) {
  }
  (void)segment::replace_invalid_utf8(text);
  return 0;
}
