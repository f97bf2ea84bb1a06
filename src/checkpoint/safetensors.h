// safetensors files: our own reader and writer (torch-free).
//
// Format: an 8-byte little-endian u64 N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {str: str}}
// then the data section; data_offsets are relative to the start of the data section.
//
// The reader validates the whole header when the file is opened, so later reads can trust
// every offset and size; tensor bytes are only read on demand (pread), never mapped or
// loaded as a whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "blockattn/dtype.h"

namespace blockattn {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute file offset of the first byte
  uint64_t nbytes = 0;
  int64_t numel() const;
};

// "[512, 64]" for error messages.
std::string shape_string(const std::vector<int64_t>& shape);

// numel(shape) * dtype_size(dtype) into *nbytes; false if a dimension is negative or the
// product overflows 64 bits (a hostile header must not wrap around to a small size).
bool tensor_nbytes(const std::vector<int64_t>& shape, DType dtype, uint64_t* nbytes);

// An opened, validated safetensors file. Movable, not copyable; closes its descriptor.
class SafetensorsFile {
 public:
  // Opens and validates `path`. IoError if it cannot be opened or read; FormatError naming the
  // file (and the tensor, where one is at fault) for any malformed header; UnsupportedError
  // naming the tensor for an unknown dtype.
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  // All tensors, sorted by offset (ties: smaller first).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr if absent.
  const TensorInfo* find(std::string_view name) const;
  // FormatError "<file>: no tensor '<name>'" if absent.
  const TensorInfo& at(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Reads exactly t.nbytes into dst. `t` must come from this file (InputError if its range is
  // outside it). IoError on a read error or short read (file truncated since open).
  // Thread-safe: uses pread, so concurrent reads of one file need no lock.
  void read(const TensorInfo& t, void* dst) const;
  // 8 + N: the length prefix plus the JSON header, i.e. the absolute offset of the data section.
  uint64_t header_bytes() const { return header_bytes_; }
  uint64_t file_size() const { return file_size_; }

 private:
  SafetensorsFile() = default;
  void close() noexcept;

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint64_t header_bytes_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;  // name -> index into tensors_
  std::map<std::string, std::string> metadata_;
};

// Collects tensors and writes one safetensors file atomically (temp file + fsync + rename).
// add() borrows the caller's bytes: they must stay valid and unchanged until write() returns.
// This lets multi-GB checkpoints be written without gathering them in one buffer.
class SafetensorsWriter {
 public:
  // Borrows `data`. InputError if a dimension is negative, nbytes != numel * dtype_size,
  // the name is empty, "__metadata__", not UTF-8 or already added.
  void add(std::string name, DType dtype, std::vector<int64_t> shape, const void* data,
           size_t nbytes);
  // Like add(), but copies the bytes, so the caller's buffer may go away at once.
  void add_copy(std::string name, DType dtype, std::vector<int64_t> shape, const void* data,
                size_t nbytes);
  // Key and value must be UTF-8 (InputError).
  void set_metadata(std::string key, std::string value);

  // Writes the file. The header JSON is padded with spaces to a multiple of 8 bytes and
  // tensors are laid out by decreasing element size, so every tensor starts at an offset
  // aligned to its element size (as Hugging Face's writer does). IoError on failure; the
  // temp file is removed and an existing `path` is left untouched.
  void write(const std::string& path) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const char* borrowed = nullptr;
    std::string owned;  // used when `copied`; read through bytes() so moves stay safe
    bool copied = false;
    size_t nbytes = 0;
    const char* bytes() const { return copied ? owned.data() : borrowed; }
  };
  Entry& add_entry(std::string name, DType dtype, std::vector<int64_t> shape, size_t nbytes);

  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace blockattn
