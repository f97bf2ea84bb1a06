#include "engine/text_stream.h"

#include <algorithm>

#include "core/utf8.h"

namespace blockattn {

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop)
    : tokenizer_(tokenizer), stop_(std::move(stop)) {
  stop_.erase(std::remove(stop_.begin(), stop_.end(), std::string()), stop_.end());
  for (const auto& s : stop_) holdback_ = std::max(holdback_, s.size() - 1);
}

bool TextStream::push(int32_t token) {
  tokens_.push_back(token);
  text_ = tokenizer_.decode(tokens_);
  const size_t from = emitted_ > holdback_ ? emitted_ - holdback_ : 0;
  size_t cut = std::string::npos;
  for (const auto& s : stop_) cut = std::min(cut, text_.find(s, from));
  if (cut != std::string::npos) {
    text_.resize(cut);
    stopped_ = true;
  }
  return stopped_;
}

std::string TextStream::take_ready() {
  size_t end = text_.size();
  if (!stopped_) end = end > holdback_ ? end - holdback_ : 0;
  end = complete_utf8_prefix(std::string_view(text_).substr(0, end));
  if (end <= emitted_) return {};
  std::string out = text_.substr(emitted_, end - emitted_);
  emitted_ = end;
  return out;
}

std::string TextStream::finish() {
  if (emitted_ >= text_.size()) return {};
  std::string out = text_.substr(emitted_);
  emitted_ = text_.size();
  return out;
}

}  // namespace blockattn
