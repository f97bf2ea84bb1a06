#include "eval/answer_match.h"

#include <map>

namespace blockattn::eval {

std::vector<std::string> answer_tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && word != "a" && word != "an" && word != "the") out.push_back(word);
    word.clear();
  };
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || u >= 0x80)
      word += c;
    else if (u >= 'A' && u <= 'Z')
      word += static_cast<char>(u - 'A' + 'a');
    else
      flush();  // whitespace and ASCII punctuation separate tokens
  }
  flush();
  return out;
}

bool answer_exact_match(std::string_view prediction, std::string_view reference) {
  return answer_tokens(prediction) == answer_tokens(reference);
}

double answer_token_f1(std::string_view prediction, std::string_view reference) {
  const std::vector<std::string> p = answer_tokens(prediction), r = answer_tokens(reference);
  if (p.empty() || r.empty()) return p.empty() && r.empty() ? 1.0 : 0.0;
  std::map<std::string, size_t> counts;
  for (const std::string& t : r) ++counts[t];
  size_t common = 0;
  for (const std::string& t : p) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++common;
    }
  }
  if (common == 0) return 0.0;
  const double precision = static_cast<double>(common) / static_cast<double>(p.size());
  const double recall = static_cast<double>(common) / static_cast<double>(r.size());
  return 2 * precision * recall / (precision + recall);
}

}  // namespace blockattn::eval
