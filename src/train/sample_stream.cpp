#include "train/sample_stream.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/parallel.h"

namespace blockattn::train {

uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b) {
  auto splitmix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  };
  return splitmix(splitmix(splitmix(seed) ^ a) ^ b);
}

namespace {

struct RawSample {
  std::vector<std::string> blocks;
  std::string category;
};

std::vector<RawSample> read_file_samples(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read " + path);
  std::vector<RawSample> out;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(n) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw FormatError(where + "not a JSON object");
    }
    if (!j.is_object() || !j.contains("blocks") || !j["blocks"].is_array() ||
        j["blocks"].size() < 2)
      throw FormatError(where + "expected {\"blocks\": [at least 2 strings], …}");
    RawSample s;
    for (const auto& b : j["blocks"]) {
      if (!b.is_string()) throw FormatError(where + "every block must be a string");
      s.blocks.push_back(b.get<std::string>());
    }
    if (j.contains("category") && j["category"].is_string())
      s.category = j["category"].get<std::string>();
    out.push_back(std::move(s));
  }
  return out;
}

// Drops leading blocks until content ≤ max_content and content + sinks ≤ max_layout.
bool fit(BlockSample& s, const SampleLoadOptions& o, bool& trimmed) {
  auto sizes_ok = [&] {
    int64_t content = 0;
    for (const auto& b : s.blocks) content += static_cast<int64_t>(b.size());
    const int64_t sinks = static_cast<int64_t>(s.blocks.size() - 1) * o.sink_tokens;
    return content <= o.max_content_tokens && content + sinks <= o.max_layout_tokens;
  };
  trimmed = false;
  for (const auto& b : s.blocks)
    if (b.empty()) return false;
  while (s.blocks.size() >= 2 && !sizes_ok()) {
    s.blocks.erase(s.blocks.begin());
    trimmed = true;
  }
  return s.blocks.size() >= 2;
}

}  // namespace

SampleSet load_samples(const std::string& dir, const Tokenizer& tokenizer,
                       const SampleLoadOptions& o) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw IoError("sample directory " + dir + " does not exist");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".jsonl") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw IoError(dir + " holds no .jsonl file of block samples");
  std::vector<RawSample> raw;
  for (const std::string& f : files) {
    auto part = read_file_samples(f);
    raw.insert(raw.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  if (o.progress) o.progress("tokenizing " + std::to_string(raw.size()) + " samples from " + dir);

  std::vector<BlockSample> tokenized(raw.size());
  const size_t threads = std::max<size_t>(1, std::min<size_t>(o.threads, raw.size()));
  run_workers(threads, [&](size_t w) {
    for (size_t i = w; i < raw.size(); i += threads) {
      tokenized[i].category = raw[i].category;
      for (const std::string& b : raw[i].blocks) tokenized[i].blocks.push_back(tokenizer.encode(b));
    }
  });

  SampleSet set;
  for (BlockSample& s : tokenized) {
    bool trimmed = false;
    if (!fit(s, o, trimmed)) {
      ++set.dropped;
      continue;
    }
    set.trimmed += trimmed;
    set.content_tokens += s.content_tokens();
    set.samples.push_back(std::move(s));
  }
  if (set.samples.empty())
    throw InputError(dir + ": no sample has 2 non-empty blocks within " +
                     std::to_string(o.max_content_tokens) + " tokens");
  return set;
}

SampleStream::SampleStream(const SampleSet& set, uint64_t seed) : set_(set), seed_(seed) {}

size_t SampleStream::at(uint64_t i) const {
  const uint64_t n = set_.samples.size();
  const uint64_t epoch = i / n;
  if (epoch != cached_epoch_) {
    perm_.resize(n);
    for (size_t k = 0; k < n; ++k) perm_[k] = k;
    for (uint64_t k = n - 1; k > 0; --k)
      std::swap(perm_[k], perm_[mix_seed(seed_, epoch, k) % (k + 1)]);
    cached_epoch_ = epoch;
  }
  return perm_[i % n];
}

std::vector<std::vector<uint64_t>> SampleStream::next_rows(uint64_t& cursor, int64_t n_rows,
                                                           int64_t row_tokens) const {
  std::vector<std::vector<uint64_t>> rows(n_rows);
  for (auto& row : rows) {
    int64_t used = 0;
    while (true) {
      const int64_t len = static_cast<int64_t>(set_.samples[at(cursor)].content_tokens());
      if (!row.empty() && used + len > row_tokens) break;
      row.push_back(cursor++);
      used += len;
    }
  }
  return rows;
}

}  // namespace blockattn::train
