#include "data/token_shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/parallel.h"

namespace blockattn {

namespace {

constexpr char kMagic[8] = {'B', 'A', 'T', 'O', 'K', 'S', 'H', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;
constexpr size_t kChecksummed = 56;  // everything before the checksum field

// The on-disk header; the static_assert pins the layout (no padding on any ABI we build for).
struct RawHeader {
  char magic[8];
  uint32_t version;
  uint32_t width;
  uint64_t n_tokens;
  uint64_t n_docs;
  uint8_t fingerprint[16];
  uint64_t reserved;
  uint64_t checksum;
};
static_assert(sizeof(RawHeader) == kHeaderBytes, "shard header must be 64 bytes");

std::string shard_name(size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%05zu.bats", index);
  return buf;
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("cannot create directory " + dir + ": " + ec.message());
}

}  // namespace

std::string fingerprint_bytes(const std::string& hex) {
  if (hex.size() != 32)
    throw FormatError("tokenizer fingerprint \"" + hex + "\" is not 32 hex digits");
  std::string out(16, '\0');
  for (size_t i = 0; i < 16; ++i) {
    unsigned v = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = hex[2 * i + j];
      unsigned d = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : 16;
      if (d == 16) throw FormatError("tokenizer fingerprint \"" + hex + "\" is not hex");
      v = v * 16 + d;
    }
    out[i] = static_cast<char>(v);
  }
  return out;
}

std::string fingerprint_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

void TokenSpan::copy_to(uint64_t begin, uint64_t n, int64_t* out) const {
  if (begin + n > size || begin + n < begin)
    throw InputError("token range beyond the end of the shard");
  if (width == 2) {
    const uint16_t* p = static_cast<const uint16_t*>(data) + begin;
    for (uint64_t i = 0; i < n; ++i) out[i] = p[i];
  } else {
    const uint32_t* p = static_cast<const uint32_t*>(data) + begin;
    for (uint64_t i = 0; i < n; ++i) out[i] = p[i];
  }
}

// ------------------------------------------------------------------------------------ writer

TokenShardWriter::TokenShardWriter(std::string dir, int64_t vocab_size,
                                   const std::string& fingerprint, uint64_t tokens_per_shard)
    : dir_(std::move(dir)),
      vocab_size_(vocab_size),
      width_(vocab_size <= 65535 ? 2 : 4),
      fingerprint_(fingerprint_bytes(fingerprint)),
      tokens_per_shard_(std::max<uint64_t>(tokens_per_shard, 1)) {
  if (vocab_size <= 0 || vocab_size > (int64_t{1} << 32))
    throw InputError("vocab_size " + std::to_string(vocab_size) +
                     " is out of range for a token shard");
}

TokenShardWriter::~TokenShardWriter() = default;

void TokenShardWriter::add_document(const std::vector<int32_t>& ids) {
  if (ids.empty()) return;
  for (int32_t id : ids)
    if (id < 0 || id >= vocab_size_)
      throw InputError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(vocab_size_) + ")");
  tokens_.insert(tokens_.end(), ids.begin(), ids.end());
  offsets_.push_back(tokens_.size());
  total_tokens_ += ids.size();
  ++total_docs_;
  if (tokens_.size() >= tokens_per_shard_) flush();
}

void TokenShardWriter::flush() {
  if (tokens_.empty()) return;
  RawHeader h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.width = width_;
  h.n_tokens = tokens_.size();
  h.n_docs = offsets_.size() - 1;
  std::memcpy(h.fingerprint, fingerprint_.data(), 16);
  h.checksum = hash64(&h, kChecksummed);

  std::string bytes(reinterpret_cast<const char*>(&h), kHeaderBytes);
  bytes.append(reinterpret_cast<const char*>(offsets_.data()), offsets_.size() * sizeof(uint64_t));
  if (width_ == 2) {
    std::vector<uint16_t> narrow(tokens_.begin(), tokens_.end());
    bytes.append(reinterpret_cast<const char*>(narrow.data()), narrow.size() * 2);
  } else {
    bytes.append(reinterpret_cast<const char*>(tokens_.data()), tokens_.size() * 4);
  }
  // Created on the first shard, so a split that receives no documents leaves no empty directory.
  make_dirs(dir_);
  std::string path = dir_ + "/" + shard_name(written_.size());
  write_file_atomic(path, bytes);
  written_.push_back(path);
  tokens_.clear();
  offsets_.assign(1, 0);
}

std::vector<std::string> TokenShardWriter::finish() {
  flush();
  return written_;
}

// ------------------------------------------------------------------------------------ reader

TokenShard TokenShard::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open token shard " + errno_message(path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw IoError("cannot stat token shard " + errno_message(path));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  auto bad = [&](const std::string& why) {
    return FormatError("token shard " + path + ": " + why);
  };
  if (file_size < kHeaderBytes) {
    ::close(fd);
    throw bad("truncated header (" + std::to_string(file_size) + " bytes, need 64)");
  }
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (map == MAP_FAILED) throw IoError("cannot mmap token shard " + errno_message(path));
  TokenShard s;
  s.path_ = path;
  s.map_ = map;
  s.map_size_ = file_size;

  RawHeader h;
  std::memcpy(&h, map, kHeaderBytes);
  if (std::memcmp(h.magic, kMagic, 8) != 0) throw bad("not a token shard (bad magic)");
  if (h.checksum != hash64(&h, kChecksummed))
    throw bad("header checksum mismatch (corrupt header)");
  if (h.version != kVersion) throw bad("unsupported version " + std::to_string(h.version));
  if (h.width != 2 && h.width != 4)
    throw bad("token width " + std::to_string(h.width) + " is not 2 or 4");
  // Sizes come from a checksummed header, but guard the arithmetic against absurd values anyway.
  if (h.n_docs > file_size / 8 || h.n_tokens > file_size / h.width)
    throw bad("header sizes exceed the file");
  const uint64_t expected = kHeaderBytes + (h.n_docs + 1) * 8 + h.n_tokens * h.width;
  if (expected != file_size)
    throw bad("size " + std::to_string(file_size) + " bytes, header says " +
              std::to_string(expected) + " (truncated or padded)");
  s.offsets_ = reinterpret_cast<const uint64_t*>(static_cast<const char*>(map) + kHeaderBytes);
  s.n_docs_ = h.n_docs;
  if (s.offsets_[0] != 0 || s.offsets_[h.n_docs] != h.n_tokens)
    throw bad("document offsets do not span the tokens");
  for (uint64_t i = 0; i < h.n_docs; ++i)
    if (s.offsets_[i] > s.offsets_[i + 1]) throw bad("document offsets are not sorted");
  s.tokens_.data = static_cast<const char*>(map) + kHeaderBytes + (h.n_docs + 1) * 8;
  s.tokens_.size = h.n_tokens;
  s.tokens_.width = h.width;
  s.fingerprint_hex_ =
      fingerprint_hex(std::string(reinterpret_cast<const char*>(h.fingerprint), 16));
  return s;
}

TokenShard::TokenShard(TokenShard&& o) noexcept { *this = std::move(o); }

TokenShard& TokenShard::operator=(TokenShard&& o) noexcept {
  if (this != &o) {
    unmap();
    path_ = std::move(o.path_);
    map_ = std::exchange(o.map_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
    offsets_ = std::exchange(o.offsets_, nullptr);
    n_docs_ = std::exchange(o.n_docs_, 0);
    tokens_ = std::exchange(o.tokens_, TokenSpan{});
    fingerprint_hex_ = std::move(o.fingerprint_hex_);
  }
  return *this;
}

TokenShard::~TokenShard() { unmap(); }

void TokenShard::unmap() noexcept {
  if (map_) ::munmap(map_, map_size_);
  map_ = nullptr;
}

std::pair<uint64_t, uint64_t> TokenShard::doc_bounds(uint64_t i) const {
  if (i >= n_docs_)
    throw InputError("document " + std::to_string(i) + " out of range: " + path_ + " holds " +
                     std::to_string(n_docs_));
  return {offsets_[i], offsets_[i + 1]};
}

// ------------------------------------------------------------------------------------ dataset

TokenDataset TokenDataset::open(const std::string& dir, const std::string& expected) {
  if (!is_directory(dir)) throw IoError("token shard directory " + dir + " does not exist");
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".bats") paths.push_back(entry.path().string());
  if (paths.empty()) throw InputError("token shard directory " + dir + " holds no *.bats shards");
  std::sort(paths.begin(), paths.end());
  TokenDataset d;
  d.dir_ = dir;
  d.fingerprint_ = expected;
  for (const auto& p : paths) {
    TokenShard s = TokenShard::open(p);
    if (d.fingerprint_.empty()) d.fingerprint_ = s.tokenizer_fingerprint();
    if (s.tokenizer_fingerprint() != d.fingerprint_)
      throw FormatError("shard " + p + " was made with tokenizer " + s.tokenizer_fingerprint() +
                        ", not " + d.fingerprint_);
    d.n_tokens_ += s.num_tokens();
    d.shards_.push_back(std::move(s));
  }
  return d;
}

// ------------------------------------------------------------------------------------ metadata

DatasetInfo DatasetInfo::load(const std::string& dir) {
  if (!is_directory(dir)) throw IoError("data directory " + dir + " does not exist");
  const std::string path = dir + "/dataset.json";
  if (!file_exists(path))
    throw IoError("data directory " + dir +
                  " has no dataset.json (make it with `blockattn shard`)");
  try {
    nlohmann::json j = nlohmann::json::parse(read_file(path));
    DatasetInfo i;
    i.tokenizer_file = j.at("tokenizer_file").get<std::string>();
    i.tokenizer_fingerprint = j.at("tokenizer_fingerprint").get<std::string>();
    i.tokenizer_vocab_size = j.at("tokenizer_vocab_size").get<int64_t>();
    i.eos_id = j.value("eos_id", -1);
    i.train_tokens = j.value("train_tokens", uint64_t{0});
    i.validation_tokens = j.value("validation_tokens", uint64_t{0});
    i.documents = j.value("documents", uint64_t{0});
    return i;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": " + e.what());
  }
}

void DatasetInfo::save(const std::string& dir) const {
  nlohmann::json j = {{"format", "blockattn token shards v1"},
                      {"tokenizer_file", tokenizer_file},
                      {"tokenizer_fingerprint", tokenizer_fingerprint},
                      {"tokenizer_vocab_size", tokenizer_vocab_size},
                      {"eos_id", eos_id},
                      {"train_tokens", train_tokens},
                      {"validation_tokens", validation_tokens},
                      {"documents", documents}};
  write_file_atomic(dir + "/dataset.json", j.dump(2) + "\n");
}

// ------------------------------------------------------------------------------------ builder

DatasetInfo build_token_dataset(const std::string& tokenizer_path,
                                const std::vector<std::string>& inputs, const std::string& out_dir,
                                const ShardBuildOptions& options) {
  std::unique_ptr<Tokenizer> tok = Tokenizer::from_file(tokenizer_path);
  if (inputs.empty()) throw InputError("no input JSONL files given");
  DatasetInfo info;
  // Keep the source's name so Tokenizer::load finds it in a model dir later (".json", ".model",
  // ".json.zst").
  const std::string base = std::filesystem::path(tokenizer_path).filename().string();
  const auto dot = base.find('.');
  info.tokenizer_file = "tokenizer" + (dot == std::string::npos ? std::string() : base.substr(dot));
  info.tokenizer_fingerprint = tok->fingerprint();
  info.tokenizer_vocab_size = tok->vocab_size();
  info.eos_id = tok->eos_id() ? *tok->eos_id() : -1;

  make_dirs(out_dir);
  TokenShardWriter train(out_dir + "/train", info.tokenizer_vocab_size, info.tokenizer_fingerprint,
                         options.tokens_per_shard);
  TokenShardWriter validation(out_dir + "/validation", info.tokenizer_vocab_size,
                              info.tokenizer_fingerprint, options.tokens_per_shard);
  // Lines are parsed and tokenized in parallel batches, then appended in input order, so the
  // output does not depend on the thread count.
  const size_t threads = std::max<size_t>(1, options.threads);
  uint64_t bytes_read = 0;
  std::vector<std::string> lines, wheres;
  std::vector<std::vector<int32_t>> encoded;
  auto flush_batch = [&] {
    encoded.assign(lines.size(), {});
    run_workers(threads, [&](size_t worker) {
      for (size_t i = worker; i < lines.size(); i += threads) {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(lines[i]);
        } catch (const nlohmann::json::exception& e) {
          throw FormatError(wheres[i] + ": malformed JSON: " + e.what());
        }
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
          throw FormatError(wheres[i] + ": expected an object with a string \"text\" field");
        encoded[i] = tok->encode(j["text"].get<std::string>());
      }
    });
    for (std::vector<int32_t>& ids : encoded) {
      if (ids.empty()) continue;
      if (info.eos_id >= 0) ids.push_back(info.eos_id);
      ++info.documents;
      const bool held_out =
          options.validation_every > 0 && info.documents % options.validation_every == 0;
      (held_out ? validation : train).add_document(ids);
      if (options.progress && info.documents % 1000 == 0)
        options.progress(std::to_string(info.documents) + " documents, " +
                         std::to_string(train.total_tokens() + validation.total_tokens()) +
                         " tokens, " + std::to_string(bytes_read >> 20) + " MB read");
    }
    lines.clear();
    wheres.clear();
  };
  for (const auto& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    if (!in) throw IoError("cannot open " + errno_message(input));
    std::string line;
    for (uint64_t line_no = 1; std::getline(in, line); ++line_no) {
      bytes_read += line.size() + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      lines.push_back(std::move(line));
      wheres.push_back(input + ":" + std::to_string(line_no));
      if (lines.size() >= 64 * threads) flush_batch();
    }
    if (in.bad()) throw IoError("read error in " + input);
    flush_batch();
  }
  train.finish();
  validation.finish();
  info.train_tokens = train.total_tokens();
  info.validation_tokens = validation.total_tokens();
  if (info.train_tokens == 0) throw InputError("the inputs hold no non-empty \"text\" documents");
  write_file_atomic(out_dir + "/" + info.tokenizer_file, read_file(tokenizer_path));
  info.save(out_dir);
  if (options.progress)
    options.progress("done: " + std::to_string(info.documents) + " documents, " +
                     std::to_string(info.train_tokens) + " train + " +
                     std::to_string(info.validation_tokens) + " validation tokens");
  return info;
}

}  // namespace blockattn
