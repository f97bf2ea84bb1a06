#include "tokenizer/pre_tokenizer.h"

#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"

namespace blockattn::tok {
namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parse_behavior(const std::string& name) {
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  throw UnsupportedError("unsupported Split behavior \"" + name + "\"");
}

// HF's NormalizedString::split, streamed: the matches and the gaps between them arrive in order
// and are grouped by behavior, holding back at most one group.
class Splitter {
 public:
  Splitter(const std::string& piece, Behavior behavior, const PieceSink& sink)
      : piece_(piece), behavior_(behavior), sink_(sink) {}

  void segment(size_t b, size_t e, bool is_match) {
    switch (behavior_) {
      case Behavior::kIsolated:
        emit(b, e);
        break;
      case Behavior::kRemoved:
        if (!is_match) emit(b, e);
        break;
      case Behavior::kMergedWithPrevious:  // a match joins the group before it, unless that ended in a match
        if (is_match && !previous_match_ && has_pending_) pending_end_ = e;
        else hold(b, e);
        break;
      case Behavior::kMergedWithNext:  // a match joins the non-match after it
        if (has_pending_ && pending_is_match_ && !is_match) {
          pending_end_ = e;
          pending_is_match_ = false;
        } else {
          hold(b, e);
          pending_is_match_ = is_match;
        }
        break;
      case Behavior::kContiguous:
        if (has_pending_ && is_match == previous_match_) pending_end_ = e;
        else hold(b, e);
        break;
    }
    previous_match_ = is_match;
  }

  void finish() {
    if (has_pending_) emit(pending_begin_, pending_end_);
    has_pending_ = false;
  }

 private:
  void hold(size_t b, size_t e) {
    finish();
    has_pending_ = true;
    pending_begin_ = b;
    pending_end_ = e;
  }
  void emit(size_t b, size_t e) {
    if (e <= b) return;
    std::string sub(piece_, b, e - b);
    sink_(sub);
  }

  const std::string& piece_;
  Behavior behavior_;
  const PieceSink& sink_;
  bool previous_match_ = false;
  bool has_pending_ = false;
  bool pending_is_match_ = false;
  size_t pending_begin_ = 0, pending_end_ = 0;
};

void split_piece(const std::string& piece, const Regex& regex, Behavior behavior, bool invert, const PieceSink& sink) {
  Splitter splitter(piece, behavior, sink);
  size_t prev = 0;
  regex.for_each_match(piece, [&](size_t b, size_t e) {
    if (prev != b) splitter.segment(prev, b, invert);
    splitter.segment(b, e, !invert);
    prev = e;
  });
  if (prev != piece.size()) splitter.segment(prev, piece.size(), invert);
  splitter.finish();
}

class Split : public PreTokenizer {
 public:
  Split(Regex regex, Behavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}

  void pre_tokenize(std::string& piece, const PieceSink& sink) const override {
    split_piece(piece, regex_, behavior_, invert_, sink);
  }

 private:
  Regex regex_;
  Behavior behavior_;
  bool invert_;
};

const Regex& gpt2_regex() {
  static const Regex re(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
  return re;
}

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

  void pre_tokenize(std::string& piece, const PieceSink& sink) const override {
    if (add_prefix_space_ && !piece.empty() && piece[0] != ' ') piece.insert(0, 1, ' ');
    auto map = [&](std::string& p) {
      std::string mapped;
      append_byte_level(p, mapped);
      sink(mapped);
    };
    if (use_regex_) split_piece(piece, gpt2_regex(), Behavior::kIsolated, false, map);
    else if (!piece.empty()) map(piece);
  }

 private:
  bool add_prefix_space_;
  bool use_regex_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> items) : items_(std::move(items)) {}
  void pre_tokenize(std::string& piece, const PieceSink& sink) const override { run(0, piece, sink); }

 private:
  void run(size_t stage, std::string& piece, const PieceSink& sink) const {
    if (stage == items_.size()) return sink(piece);
    items_[stage]->pre_tokenize(piece, [&](std::string& p) { run(stage + 1, p, sink); });
  }

  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  std::string type = type_of(spec, "pre_tokenizer");
  if (type == "Split") {
    const auto& pattern = get_field(spec, "pattern");
    bool literal = pattern.is_object() && pattern.contains("String");
    return std::make_unique<Split>(Regex(pattern_source(pattern), literal),
                                   parse_behavior(get_string(spec, "behavior")), get_bool(spec, "invert", false));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(get_bool(spec, "add_prefix_space", true), get_bool(spec, "use_regex", true));
  if (type == "Digits")
    return std::make_unique<Split>(Regex(get_bool(spec, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)"),
                                   Behavior::kIsolated, false);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> items;
    for (const auto& item : get_array(spec, "pretokenizers"))
      if (auto p = make_pre_tokenizer(item)) items.push_back(std::move(p));
    return std::make_unique<Sequence>(std::move(items));
  }
  throw UnsupportedError("unsupported pre_tokenizer \"" + type + "\"");
}

}  // namespace blockattn::tok
