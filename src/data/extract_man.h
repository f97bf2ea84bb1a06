// groff man(7) source -> text. Requests and font escapes are removed; .SH and .SS become
// level-1 and level-2 sections; fill mode is filled, .nf/.EX blocks keep their lines.
#pragma once

#include <string_view>

#include "data/document.h"

namespace blockattn::data {

// `src` must be clean UTF-8. The title is "name(section)" from .TH. A page that is only a
// `.so` link to another page yields an empty text (the builder drops it).
Document extract_man(std::string_view src);

// The text of one groff line with escapes (\fB, \-, \(em, \*(lq, \[...] ...) resolved.
std::string groff_unescape(std::string_view line);

}  // namespace blockattn::data
