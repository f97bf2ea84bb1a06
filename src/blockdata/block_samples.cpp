#include "blockdata/block_samples.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/parallel.h"
#include "data/synthetic_tasks.h"
#include "tokenizer/chat_format.h"

namespace blockattn::data {

void check_block_sample_options(const BlockSampleOptions& o) {
  auto fail = [](const std::string& msg) { throw InputError(msg); };
  if (o.max_block_tokens == 0) fail("--max-block-tokens must be at least 1");
  if (o.min_block_tokens > o.max_block_tokens)
    fail("--min-block-tokens " + std::to_string(o.min_block_tokens) +
         " is larger than --max-block-tokens " + std::to_string(o.max_block_tokens));
  if (o.min_blocks < 2) fail("min_blocks must be at least 2 (context blocks and a final block)");
  if (o.max_blocks < o.min_blocks)
    fail("max_blocks " + std::to_string(o.max_blocks) + " is below min_blocks " +
         std::to_string(o.min_blocks));
  if (o.sample_tokens < o.max_block_tokens || o.sample_tokens < o.min_blocks * o.min_block_tokens)
    fail("--sample-tokens " + std::to_string(o.sample_tokens) +
         " cannot hold a sample: it must be at least --max-block-tokens (" +
         std::to_string(o.max_block_tokens) + ") and " + std::to_string(o.min_blocks) +
         " x --min-block-tokens (" + std::to_string(o.min_blocks * o.min_block_tokens) + ")");
}

std::vector<BlockSample> make_block_samples(std::string_view text, const std::string& id,
                                            const std::string& category,
                                            const segment::SegmentOptions& seg,
                                            const segment::TokenCounter& count,
                                            const BlockSampleOptions& opts) {
  check_block_sample_options(opts);
  segment::SegmentOptions s = seg;
  s.max_tokens = opts.max_block_tokens;
  s.min_tokens = opts.min_block_tokens;
  if (s.target_tokens > s.max_tokens) s.target_tokens = 0;
  const std::vector<segment::Block> blocks = segment::segment(text, s, count);

  std::vector<BlockSample> out;
  auto emit = [&](size_t first, size_t last, size_t tokens) {
    BlockSample& sample = out.emplace_back();
    sample.id = id + "#" + std::to_string(out.size() - 1);
    sample.category = category;
    sample.begin = blocks[first].begin;
    sample.end = blocks[last - 1].end;
    sample.tokens = tokens;
    for (size_t i = first; i < last; ++i)
      sample.blocks.emplace_back(text.substr(blocks[i].begin, blocks[i].end - blocks[i].begin));
  };
  // The run [start, i) is the sample being filled; `tokens` is its total.
  size_t start = 0, tokens = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const size_t t = blocks[i].tokens;
    if (i - start == opts.max_blocks || tokens + t > opts.sample_tokens) {
      if (i - start >= opts.min_blocks) {
        emit(start, i, tokens);
        start = i;
        tokens = 0;
      }
      // Too few blocks to be a sample: slide its start forward until block i fits.
      while (start < i && tokens + t > opts.sample_tokens) tokens -= blocks[start++].tokens;
      if (t > opts.sample_tokens) {  // only a counter that disagrees with the cap gets here
        start = i + 1;
        continue;
      }
    }
    tokens += t;
  }
  if (blocks.size() - start >= opts.min_blocks) emit(start, blocks.size(), tokens);
  return out;
}

std::string to_json_line(const BlockSample& sample) {
  // ordered_json: keys in the documented order, which is also easier to read.
  return nlohmann::ordered_json{
      {"id", sample.id}, {"category", sample.category}, {"blocks", sample.blocks}}
      .dump();
}

BlockSample block_sample(const SynthItem& item, const ChatFormat& chat) {
  BlockSample s;
  s.id = item.id;
  s.category = std::string(task_name(item.task));
  s.blocks = item.blocks();
  s.blocks.push_back(chat.final_text(item.question) + chat.answer_text(item.answer));
  for (const std::string& b : s.blocks) s.end += b.size();
  return s;
}

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

// Calls f(line) for every line of `text` (split at '\n').
template <typename F>
void for_each_line(std::string_view text, F f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    f(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

// The distinct hashes of a text's normalised lines.
std::unordered_set<uint64_t> line_hashes(std::string_view text) {
  std::unordered_set<uint64_t> out;
  for_each_line(text, [&](std::string_view line) {
    const std::string norm = normalise_line(line);
    if (!norm.empty()) out.insert(hash64(norm.data(), norm.size()));
  });
  return out;
}

}  // namespace

std::string normalise_line(std::string_view line) {
  std::string out;
  size_t non_space = 0;
  bool pending_space = false;
  for (char c : line) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
    ++non_space;
  }
  if (non_space < LineExclusion::kMinLineBytes) out.clear();
  return out;
}

void LineExclusion::add(std::string_view held_out_text) {
  for (uint64_t h : line_hashes(held_out_text)) ++texts_per_line_[h];
}

size_t LineExclusion::boilerplate_lines() const {
  size_t n = 0;
  for (const auto& [hash, texts] : texts_per_line_) n += !counts(texts);
  return n;
}

size_t LineExclusion::shared_lines(std::string_view text) const {
  if (texts_per_line_.empty()) return 0;
  // Distinct lines: a document repeating one held-out line is not more of a copy.
  size_t shared = 0;
  for (uint64_t h : line_hashes(text)) {
    const auto it = texts_per_line_.find(h);
    shared += it != texts_per_line_.end() && counts(it->second);
  }
  return shared;
}

namespace {

// Written under a temporary name, renamed by commit(); removed if never committed. Streams, so
// the output need not fit in memory (write_file_atomic takes the whole file).
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    tmp_ =
        path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(std::random_device{}());
    f_ = std::fopen(tmp_.c_str(), "wbx");
    if (!f_) throw IoError("cannot create " + errno_message(path));
  }
  ~AtomicFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view s) {
    if (std::fwrite(s.data(), 1, s.size(), f_) != s.size())
      throw IoError("cannot write " + errno_message(tmp_));
  }
  void commit() {
    std::FILE* f = f_;
    f_ = nullptr;
    if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) {
      const std::string msg = "cannot flush " + errno_message(tmp_);
      std::fclose(f);
      throw IoError(msg);
    }
    if (std::fclose(f) != 0) throw IoError("cannot close " + errno_message(tmp_));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      throw IoError("cannot rename into " + errno_message(path_));
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

struct InputLine {
  std::string text, where,
      name;  // where: "path:line" for errors; name: "file:line", the default id
};

struct Processed {
  bool excluded = false;
  std::vector<std::string> lines;  // one JSON line per sample
  std::vector<size_t> blocks, tokens;
  std::exception_ptr error;
};

Processed process(const InputLine& in, const segment::SegmentOptions& seg,
                  const segment::TokenCounter& count, const BlockDataOptions& opts) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in.text);  // rejects invalid UTF-8 in strings
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(in.where + ": malformed JSON: " + e.what());
  }
  const auto text = j.is_object() ? j.find("text") : j.end();
  if (!j.is_object() || text == j.end() || !text->is_string())
    throw FormatError(in.where + ": expected an object with a string \"text\" field");
  const std::string& t = text->get_ref<const std::string&>();
  std::string id = in.name, category;
  if (auto it = j.find("id"); it != j.end() && (it->is_string() || it->is_number()))
    id = it->is_string() ? it->get<std::string>() : it->dump();
  if (auto it = j.find("category"); it != j.end() && it->is_string()) category = *it;

  Processed p;
  if (opts.exclude && opts.exclude->excluded(t)) {
    p.excluded = true;
    return p;
  }
  std::vector<BlockSample> samples;
  try {
    samples = make_block_samples(t, id, category, seg, count, opts.samples);
  } catch (const InputError& e) {
    throw InputError(in.where + ": " + e.what());
  }
  for (const BlockSample& s : samples) {
    p.lines.push_back(to_json_line(s));
    p.blocks.push_back(s.blocks.size());
    p.tokens.push_back(s.tokens);
  }
  return p;
}

}  // namespace

BlockDataReport write_block_samples(const std::vector<std::string>& inputs,
                                    const std::string& out_path, const segment::SegmentOptions& seg,
                                    const segment::TokenCounter& count,
                                    const BlockDataOptions& opts) {
  check_block_sample_options(opts.samples);
  if (inputs.empty()) throw InputError("no input JSONL files given");
  for (const std::string& path : inputs)  // before a long run, not after it
    if (!file_exists(path))
      throw IoError(is_directory(path) ? path + ": is a directory, expected a .jsonl file"
                                       : "cannot open " + errno_message(path));
  const size_t threads = std::max<size_t>(1, opts.threads);
  BlockDataReport r;
  AtomicFile out(out_path);
  auto last_progress = std::chrono::steady_clock::now();
  bool full = false;
  std::vector<InputLine> batch;
  size_t batch_bytes = 0;

  // The batch is processed in parallel into per-document slots, then written in input order, so
  // the output does not depend on the thread count.
  auto flush = [&] {
    std::vector<Processed> done(batch.size());
    // Longest first, so that one long document does not leave the other threads idle at the end.
    std::vector<size_t> order(batch.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return batch[x].text.size() > batch[y].text.size();
    });
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t k; (k = next++) < order.size();) {
        const size_t i = order[k];
        try {
          done[i] = process(batch[i], seg, count, opts);
        } catch (...) {
          done[i].error = std::current_exception();
        }
      }
    };
    run_workers(std::min(threads, batch.size()), [&](size_t) { work(); });
    for (size_t i = 0; i < done.size() && !full; ++i) {
      const Processed& p = done[i];
      if (p.error) std::rethrow_exception(p.error);  // the first bad line in input order
      ++r.documents;
      r.excluded += p.excluded;
      r.without_sample += !p.excluded && p.lines.empty();
      for (size_t k = 0; k < p.lines.size() && !full; ++k) {
        out.write(p.lines[k]);
        out.write("\n");
        ++r.samples;
        r.blocks += p.blocks[k];
        r.tokens += p.tokens[k];
        full = opts.max_samples > 0 && r.samples >= opts.max_samples;
      }
    }
    batch.clear();
    batch_bytes = 0;
    const auto now = std::chrono::steady_clock::now();
    if (opts.progress &&
        std::chrono::duration<double>(now - last_progress).count() >= opts.progress_seconds) {
      opts.progress(r);
      last_progress = now;
    }
  };

  for (const std::string& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot open " + errno_message(path));
    const std::string name = std::filesystem::path(path).filename().string();
    std::string line;
    for (size_t line_no = 1; !full && std::getline(in, line); ++line_no) {
      r.bytes_read += line.size() + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string n = std::to_string(line_no);
      batch.push_back({std::move(line), path + ":" + n, name + ":" + n});
      batch_bytes += batch.back().text.size();
      if (batch.size() >= 64 * threads || batch_bytes >= (4u << 20) * threads) flush();
    }
    if (in.bad()) throw IoError("read error in " + errno_message(path));
    if (full) break;
  }
  if (!full) flush();
  out.commit();
  return r;
}

}  // namespace blockattn::data
