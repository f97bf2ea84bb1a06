// HTML -> text with headings (h1..h6) as structure. Tags, scripts, styles, comments and
// navigation chrome (Sphinx/DocBook headers, footers, sidebars, header links) are removed;
// entities are decoded; <pre> keeps its layout, everything else is filled like a browser would.
#pragma once

#include <string_view>

#include "data/document.h"

namespace blockattn::data {

// `html` must already be clean UTF-8 (clean_text). The title is <title>, else the first heading.
// Heading levels are renumbered so the outermost heading in the page is level 1.
Document extract_html(std::string_view html);

// Decodes one entity name as written between '&' and ';' ("amp", "#233", "#x2014");
// appends it to `out` and returns false when it is not known.
bool decode_html_entity(std::string_view name, std::string& out);

}  // namespace blockattn::data
