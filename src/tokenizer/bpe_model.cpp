#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>
#include <tuple>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/unicode.h"

namespace blockattn::tok {
namespace {

bool non_empty_string(const nlohmann::json& model, const char* key) {
  auto it = model.find(key);
  return it != model.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& model, std::vector<std::pair<std::string, int64_t>> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges) {
  if (non_empty_string(model, "continuing_subword_prefix") ||
      non_empty_string(model, "end_of_word_suffix"))
    throw UnsupportedError("BPE continuing_subword_prefix / end_of_word_suffix are not supported");
  if (auto d = model.find("dropout"); d != model.end() && d->is_number() && d->get<double>() > 0.0)
    throw UnsupportedError("BPE dropout is not supported");
  fuse_unk_ = get_bool(model, "fuse_unk", false);
  byte_fallback_ = get_bool(model, "byte_fallback", false);
  ignore_merges_ = get_bool(model, "ignore_merges", false);

  int64_t max_id = -1;
  size_t aliases = 0;
  for (const auto& [token, id] : vocab) {
    if (id < 0 || id >= INT32_MAX)
      throw FormatError("BPE vocab entry \"" + token + "\" has a bad id");
    max_id = std::max(max_id, id);
  }
  // The id table is dense, so its size comes from the largest id: bound it by the number of
  // entries (holes up to as many again, plus 64 Ki) before allocating, so a corrupt id of 1.5e9
  // is an error naming the token, not a 50 GB allocation.
  const int64_t id_limit = 2 * static_cast<int64_t>(vocab.size()) + (int64_t{1} << 16);
  if (max_id >= id_limit) {
    for (const auto& [token, id] : vocab)
      if (id == max_id)
        throw FormatError("BPE vocab entry \"" + token + "\" has id " + std::to_string(id) +
                          ", implausible for a vocabulary of " + std::to_string(vocab.size()) +
                          " entries (ids must be below " + std::to_string(id_limit) + ")");
  }
  // tokens_ and aliases_ are sized once and never resized, so the views in vocab_ stay valid.
  tokens_.resize(static_cast<size_t>(max_id + 1));
  std::vector<bool> seen(tokens_.size());
  for (const auto& [token, id] : vocab) {
    if (seen[id]) ++aliases;
    seen[id] = true;
  }
  aliases_.reserve(aliases);
  vocab_.reserve(vocab.size());
  seen.assign(tokens_.size(), false);
  for (auto& [token, id] : vocab) {
    std::string& slot = seen[id] ? aliases_.emplace_back() : tokens_[id];
    seen[id] = true;
    slot = std::move(token);
    vocab_.emplace(slot, static_cast<int32_t>(id));
  }

  if (auto u = model.find("unk_token"); u != model.end() && u->is_string()) {
    auto id = token_to_id(u->get<std::string>());
    if (!id)
      throw FormatError("BPE unk_token \"" + u->get<std::string>() + "\" is not in the vocab");
    unk_id_ = id;
  }

  merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    joined.assign(a).append(b);
    auto ia = token_to_id(a), ib = token_to_id(b), inew = token_to_id(joined);
    if (!ia || !ib || !inew)
      throw FormatError("BPE merge \"" + a + " " + b + "\" uses a token that is not in the vocab");
    merges_[pair_key(*ia, *ib)] = Merge{static_cast<int32_t>(rank), *inew};
  }

  small_char_ids_.assign(0x800, -1);
  std::string ch;
  for (char32_t c = 0; c < 0x800; ++c) {
    ch.clear();
    append_utf8(ch, c);
    if (auto it = vocab_.find(ch); it != vocab_.end()) small_char_ids_[c] = it->second;
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= id_limit()) return nullptr;
  const std::string& t = tokens_[id];
  // A hole is empty; a real empty token would be in vocab_ under "".
  if (t.empty() && !(vocab_.count("") && vocab_.at("") == id)) return nullptr;
  return &t;
}

int32_t BpeModel::char_id(std::string_view ch) const {
  size_t pos = 0;
  char32_t c = next_code_point(ch, pos);
  if (c < 0x800) return small_char_ids_[c];
  auto it = vocab_.find(ch);
  return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids) const {
  bool last_was_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(word[pos])), word.size() - pos);
    std::string_view ch = word.substr(pos, n);
    pos += n;
    int32_t id = char_id(ch);
    if (id >= 0) {
      ids.push_back(id);
      last_was_unk = false;
      continue;
    }
    if (byte_fallback_) {
      size_t mark = ids.size();
      char code[8];
      for (unsigned char byte : ch) {
        std::snprintf(code, sizeof code, "<0x%02X>", byte);
        auto b = token_to_id(code);
        if (!b) break;
        ids.push_back(*b);
      }
      if (ids.size() == mark + ch.size()) {
        last_was_unk = false;
        continue;
      }
      ids.resize(mark);
    }
    if (unk_id_) {
      if (!(fuse_unk_ && last_was_unk)) ids.push_back(*unk_id_);
      last_was_unk = true;
    }
    // Without unk_token HF drops the character silently; so do we.
  }
}

void BpeModel::merge(std::vector<int32_t>& ids) const {
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // (rank, position, new id): lowest rank first, then leftmost, as in HF's BinaryHeap.
  using Entry = std::tuple<int32_t, int, int32_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  auto push_pair = [&](int left) {
    int right = next[left];
    if (right < 0) return;
    auto it = merges_.find(pair_key(ids[left], ids[right]));
    if (it != merges_.end()) queue.emplace(it->second.rank, left, it->second.new_id);
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    auto [rank, pos, new_id] = queue.top();
    queue.pop();
    if (ids[pos] < 0 || next[pos] < 0) continue;  // merged away, or now last
    int right = next[pos];
    auto it = merges_.find(pair_key(ids[pos], ids[right]));
    if (it == merges_.end() || it->second.new_id != new_id) continue;  // stale entry
    ids[pos] = new_id;
    ids[right] = -1;
    next[pos] = next[right];
    if (next[pos] >= 0) prev[next[pos]] = pos;
    if (prev[pos] >= 0) push_pair(prev[pos]);
    push_pair(pos);
  }
  size_t w = 0;
  for (int i = 0; i < n; ++i)
    if (ids[i] >= 0) ids[w++] = ids[i];
  ids.resize(w);
}

void BpeModel::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    if (auto id = token_to_id(word)) {
      out.push_back(*id);
      return;
    }
  }
  if (cache_.get(word, out)) return;
  size_t start = out.size();
  std::vector<int32_t> ids;
  initial_symbols(word, ids);
  merge(ids);
  out.insert(out.end(), ids.begin(), ids.end());
  cache_.put(word, out.data() + start, out.size() - start);
}

}  // namespace blockattn::tok
