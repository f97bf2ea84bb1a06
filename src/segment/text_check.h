// What segmentation accepts as input.
#pragma once

#include <string>
#include <string_view>

namespace blockattn::segment {

// Throws InputError "<what>: invalid UTF-8 at byte N" or "<what>: NUL byte at byte N (binary
// input?)". Empty text is accepted (it has zero blocks).
void check_text(std::string_view text, const std::string& what = "segment");

// A copy of `text` with each byte that does not start a valid UTF-8 sequence replaced by
// U+FFFD, for callers that prefer replacing to rejecting (byte offsets then refer to the copy).
std::string replace_invalid_utf8(std::string_view text);

}  // namespace blockattn::segment
