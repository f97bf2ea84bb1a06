// safetensors reader: validates the whole header up front, reads tensor bytes with pread.
#include "checkpoint/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"

namespace blockattn {

namespace {

using json = nlohmann::json;

// Same bound as Hugging Face's reader: a larger header is either corrupt or hostile.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// pread until `n` bytes or EOF; returns the count read. IoError on a read error.
uint64_t pread_full(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& path) {
  char* out = static_cast<char*>(dst);
  uint64_t done = 0;
  while (done < n) {
    ssize_t got =
        ::pread(fd, out + done, static_cast<size_t>(n - done), static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot read " + errno_message(path));
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

// Top-level keys that occur more than once: nlohmann keeps only the last value of a duplicate
// key, so duplicates are caught in the parser callback while the keys stream past.
json parse_header(const std::string& text, const std::string& path) {
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, callback);
  } catch (const json::exception& e) {
    throw FormatError(path + ": safetensors header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) throw FormatError(path + ": safetensors header is not a JSON object");
  if (!duplicate.empty())
    throw FormatError(path + ": duplicate tensor name '" + duplicate + "' in safetensors header");
  return header;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& path) {
  if (!value.is_object())
    throw FormatError(path + ": \"__metadata__\" must be an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string())
      throw FormatError(path + ": \"__metadata__\" value for '" + key + "' is not a string");
    out.emplace(key, v.get<std::string>());
  }
  return out;
}

// One header entry -> TensorInfo with a data-section-relative offset (fixed up by the caller).
TensorInfo parse_entry(const std::string& name, const json& entry, uint64_t data_size,
                       const std::string& path) {
  const std::string where = path + ": tensor '" + name + "'";
  if (!entry.is_object()) throw FormatError(where + ": header entry is not an object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(field)) throw FormatError(where + ": missing \"" + field + "\"");

  TensorInfo t;
  t.name = name;
  const json& dtype = entry["dtype"];
  if (!dtype.is_string()) throw FormatError(where + ": \"dtype\" is not a string");
  try {
    t.dtype = dtype_from_name(dtype.get<std::string>());
  } catch (const UnsupportedError&) {
    throw UnsupportedError(where + ": unsupported dtype \"" + dtype.get<std::string>() + "\"");
  }

  const json& shape = entry["shape"];
  if (!shape.is_array()) throw FormatError(where + ": \"shape\" is not an array");
  for (const json& d : shape) {
    if (!d.is_number_integer()) throw FormatError(where + ": \"shape\" holds a non-integer");
    if (d.is_number_unsigned() ? d.get<uint64_t>() > INT64_MAX : d.get<int64_t>() < 0)
      throw FormatError(where + ": negative or huge dimension " + d.dump() + " in shape");
    t.shape.push_back(d.get<int64_t>());
  }

  const json& offs = entry["data_offsets"];
  if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() ||
      !offs[1].is_number_unsigned())
    throw FormatError(where + ": \"data_offsets\" must be [begin, end], two non-negative integers");
  uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
  if (begin > end)
    throw FormatError(where + ": data_offsets begin " + std::to_string(begin) + " > end " +
                      std::to_string(end));
  if (end > data_size)
    throw FormatError(where + ": data_offsets end " + std::to_string(end) +
                      " is beyond the data section (" + std::to_string(data_size) + " bytes)");
  uint64_t need = 0;
  if (!tensor_nbytes(t.shape, t.dtype, &need))
    throw FormatError(where + ": shape " + shape_string(t.shape) + " is too large");
  if (need != end - begin)
    throw FormatError(where + ": size mismatch: shape " + shape_string(t.shape) + " " +
                      std::string(dtype_name(t.dtype)) + " needs " + std::to_string(need) +
                      " bytes, offsets give " + std::to_string(end - begin));
  t.offset = begin;
  t.nbytes = end - begin;
  return t;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated on open: no overflow
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool tensor_nbytes(const std::vector<int64_t>& shape, DType dtype, uint64_t* nbytes) {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  // numel() is an int64_t: keep the element count representable too.
  if (n / dtype_size(dtype) > static_cast<uint64_t>(INT64_MAX)) return false;
  *nbytes = n;
  return true;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd_ < 0) throw IoError("cannot open " + errno_message(path));
  struct stat st {};
  if (::fstat(f.fd_, &st) != 0) throw IoError("cannot stat " + errno_message(path));
  if (S_ISDIR(st.st_mode)) throw IoError("cannot read " + path + ": is a directory");
  f.file_size_ = static_cast<uint64_t>(st.st_size);

  unsigned char prefix[8];
  if (f.file_size_ < 8 || pread_full(f.fd_, prefix, 8, 0, path) != 8)
    throw FormatError(path + ": not a safetensors file (" + std::to_string(f.file_size_) +
                      " bytes, shorter than the 8-byte header length)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[i];  // little-endian on any host
  if (n == 0) throw FormatError(path + ": safetensors header length is 0");
  if (n > kMaxHeaderBytes)
    throw FormatError(path + ": safetensors header length " + std::to_string(n) +
                      " exceeds the 100 MB limit");
  if (n > f.file_size_ - 8)
    throw FormatError(path + ": safetensors header length " + std::to_string(n) +
                      " extends beyond the end of the file (" + std::to_string(f.file_size_) +
                      " bytes)");
  std::string text(n, '\0');
  if (pread_full(f.fd_, text.data(), n, 8, path) != n)
    throw IoError(path + ": file shrank while reading the safetensors header");
  f.header_bytes_ = 8 + n;
  const uint64_t data_size = f.file_size_ - f.header_bytes_;

  json header = parse_header(text, path);
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      f.metadata_ = parse_metadata(entry, path);
      continue;
    }
    f.tensors_.push_back(parse_entry(name, entry, data_size, path));
  }

  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.nbytes < b.nbytes;
  });
  // Sorted by offset, a tensor overlaps an earlier one iff it starts before the furthest end
  // seen so far. Empty tensors occupy no bytes and cannot overlap anything.
  const TensorInfo* furthest = nullptr;
  for (const TensorInfo& t : f.tensors_) {
    if (t.nbytes == 0) continue;
    if (furthest && t.offset < furthest->offset + furthest->nbytes)
      throw FormatError(path + ": tensors '" + furthest->name + "' and '" + t.name +
                        "' overlap in the data section");
    if (!furthest || t.offset + t.nbytes > furthest->offset + furthest->nbytes) furthest = &t;
  }
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    f.tensors_[i].offset += f.header_bytes_;
    f.by_name_.emplace(f.tensors_[i].name, i);
  }
  return f;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept { *this = std::move(other); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    file_size_ = other.file_size_;
    header_bytes_ = other.header_bytes_;
    tensors_ = std::move(other.tensors_);
    by_name_ = std::move(other.by_name_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { close(); }

void SafetensorsFile::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::at(std::string_view name) const {
  if (const TensorInfo* t = find(name)) return *t;
  throw FormatError(path_ + ": no tensor '" + std::string(name) + "'");
}

void SafetensorsFile::read(const TensorInfo& t, void* dst) const {
  if (fd_ < 0) throw IoError(path_ + ": file is closed (moved from)");
  // A TensorInfo from another file would read unrelated bytes; catch that misuse cheaply.
  if (t.offset < header_bytes_ || t.nbytes > file_size_ || t.offset > file_size_ - t.nbytes)
    throw InputError(path_ + ": tensor '" + t.name + "' does not belong to this file");
  uint64_t got = pread_full(fd_, dst, t.nbytes, t.offset, path_);
  if (got != t.nbytes)
    throw IoError(path_ + ": short read of tensor '" + t.name + "' (got " + std::to_string(got) +
                  " of " + std::to_string(t.nbytes) + " bytes; file truncated?)");
}

}  // namespace blockattn
