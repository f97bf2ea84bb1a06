// Program source -> a document whose text is the file verbatim and whose structure marks the
// top-level units: Python def/class (methods as level 2), C struct/union/enum/typedef/function,
// Go func/type/var/const, TypeScript interface/class/function/namespace/type/enum/declare.
// A unit starts at the comments and decorators directly above it, so a cut there keeps a
// function with its documentation.
#pragma once

#include <string>
#include <string_view>

#include "data/document.h"

namespace blockattn::data {

enum class CodeLanguage { kPython, kC, kGo, kTypeScript };

// Language of a path by extension (.py .h .c .go .ts); false when none applies.
bool code_language_for(const std::string& path, CodeLanguage& lang);

// `src` must be clean UTF-8; `title` is usually the path.
Document extract_code(std::string_view src, CodeLanguage lang, const std::string& title);

}  // namespace blockattn::data
