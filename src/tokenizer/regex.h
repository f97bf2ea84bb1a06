// PCRE2 regular expressions, made to behave like the Oniguruma ones HF `tokenizers` uses.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blockattn::tok {

class Regex {
 public:
  // Compiles once (JIT when available). `literal` matches the text as is. Throws FormatError
  // quoting the pattern when it does not compile.
  explicit Regex(const std::string& pattern, bool literal = false);

  // Calls fn(begin, end) with the byte ranges of successive non-overlapping matches in `text`
  // (valid UTF-8). Safe to call from several threads.
  void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& fn) const;

  // for_each_match, collected.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
    for_each_match(text, [&](size_t b, size_t e) { out.emplace_back(b, e); });
  }

 private:
  std::shared_ptr<void> code_;  // pcre2_code*
};

// Rewrites `\s` / `\S` into Oniguruma's set (Unicode White_Space, which includes U+0085 that
// PCRE2's \s lacks). Exposed for tests.
std::string onig_compatible_pattern(const std::string& pattern);

}  // namespace blockattn::tok
