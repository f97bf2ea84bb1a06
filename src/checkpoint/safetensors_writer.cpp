// safetensors writer: header first, then each tensor's bytes streamed from the caller's
// buffers into a temp file that is renamed over the target only once complete.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "checkpoint/safetensors.h"
#include "core/io.h"
#include "core/utf8.h"

namespace blockattn {

namespace {

// A temp file next to the target; commit() fsyncs and renames it into place. If commit() is
// never reached (an exception), the destructor removes the temp file so no partial output
// is left behind and the old target survives.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    std::random_device rd;
    tmp_ = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError("cannot create " + errno_message(tmp_));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  void write(const char* data, size_t n) {
    while (n > 0) {
      ssize_t done = ::write(fd_, data, n);
      if (done < 0) {
        if (errno == EINTR) continue;
        throw IoError("cannot write " + errno_message(tmp_));
      }
      data += done;
      n -= static_cast<size_t>(done);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) throw IoError("cannot flush " + errno_message(tmp_));
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) throw IoError("cannot flush " + errno_message(tmp_));
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      throw IoError("cannot rename into " + errno_message(path_));
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

SafetensorsWriter::Entry& SafetensorsWriter::add_entry(std::string name, DType dtype,
                                                       std::vector<int64_t> shape, size_t nbytes) {
  if (name.empty()) throw InputError("safetensors: empty tensor name");
  if (name == "__metadata__")
    throw InputError("safetensors: \"__metadata__\" is reserved and cannot name a tensor");
  require_utf8(name, "safetensors tensor name");
  for (const Entry& e : entries_)
    if (e.name == name) throw InputError("safetensors: tensor '" + name + "' added twice");
  uint64_t need = 0;
  if (!tensor_nbytes(shape, dtype, &need))
    throw InputError("safetensors: tensor '" + name + "': invalid shape " + shape_string(shape));
  if (need != nbytes)
    throw InputError("safetensors: tensor '" + name + "': shape " + shape_string(shape) + " " +
                     std::string(dtype_name(dtype)) + " needs " + std::to_string(need) +
                     " bytes, got " + std::to_string(nbytes));
  Entry& e = entries_.emplace_back();
  e.name = std::move(name);
  e.dtype = dtype;
  e.shape = std::move(shape);
  e.nbytes = nbytes;
  return e;
}

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape,
                            const void* data, size_t nbytes) {
  if (!data && nbytes > 0) throw InputError("safetensors: tensor '" + name + "': null data");
  add_entry(std::move(name), dtype, std::move(shape), nbytes).borrowed =
      static_cast<const char*>(data);
}

void SafetensorsWriter::add_copy(std::string name, DType dtype, std::vector<int64_t> shape,
                                 const void* data, size_t nbytes) {
  if (!data && nbytes > 0) throw InputError("safetensors: tensor '" + name + "': null data");
  Entry& e = add_entry(std::move(name), dtype, std::move(shape), nbytes);
  e.copied = true;
  if (nbytes > 0) e.owned.assign(static_cast<const char*>(data), nbytes);
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  require_utf8(key, "safetensors metadata key");
  require_utf8(value, "safetensors metadata value for '" + key + "'");
  metadata_[std::move(key)] = std::move(value);
}

void SafetensorsWriter::write(const std::string& path) const {
  // Largest elements first (ties by name, for a deterministic file): with the header padded
  // to a multiple of 8, every tensor then starts at an address aligned to its element size,
  // so readers may use the bytes in place.
  std::vector<const Entry*> order;
  for (const Entry& e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    size_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Entry* e : order) {
    header[e->name] = {{"dtype", std::string(dtype_name(e->dtype))},
                       {"shape", e->shape},
                       {"data_offsets", {offset, offset + e->nbytes}}};
    offset += e->nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  char prefix[8];
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);

  AtomicFile out(path);
  out.write(prefix, sizeof prefix);
  out.write(text.data(), text.size());
  for (const Entry* e : order) out.write(e->bytes(), e->nbytes);
  out.commit();
}

}  // namespace blockattn
