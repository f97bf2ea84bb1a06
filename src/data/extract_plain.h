// Plain-text formats whose structure is in the layout:
//   fortunes   entries separated by lines holding only "%" (the separators are removed);
//   scripture  "Book C:V text" verse lines -> book (level 1) and chapter (level 2) units,
//              each chapter printed as a heading "Book C" followed by "V text" lines;
//   changelog  Debian changelog entries ("pkg (version) dist; urgency=...");
//   plain      licences and READMEs: numbered clauses ("  3. Title."), ALL-CAPS title lines and
//              setext headings (a line underlined with === or ---, the rule removed).
#pragma once

#include <string>
#include <string_view>

#include "data/document.h"

namespace blockattn::data {

// All take clean UTF-8.
Document extract_fortunes(std::string_view src, const std::string& title);
Document extract_scripture(std::string_view src, const std::string& title);
Document extract_changelog(std::string_view src, const std::string& title);
Document extract_plain(std::string_view src, const std::string& title);

}  // namespace blockattn::data
