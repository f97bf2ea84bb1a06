#include "core/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "blockattn/error.h"

namespace blockattn {

std::string errno_message(const std::string& path) { return path + ": " + std::strerror(errno); }

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open " + errno_message(path));
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw IoError("cannot read " + path + ": is a directory");
  }
  if (st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string msg = "cannot read " + errno_message(path);
      ::close(fd);
      throw IoError(msg);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string zstd_decompress(std::string_view compressed, const std::string& what) {
  unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) throw FormatError(what + ": not a zstd frame");
  std::string out;
  if (size != ZSTD_CONTENTSIZE_UNKNOWN) {
    out.resize(size);
    size_t got = ZSTD_decompress(out.data(), out.size(), compressed.data(), compressed.size());
    if (ZSTD_isError(got) || got != size)
      throw FormatError(what + ": corrupt zstd data (" + ZSTD_getErrorName(got) + ")");
    return out;
  }
  ZSTD_DStream* ds = ZSTD_createDStream();
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    size_t r = ZSTD_decompressStream(ds, &ob, &in);
    if (ZSTD_isError(r)) {
      ZSTD_freeDStream(ds);
      throw FormatError(what + ": corrupt zstd data (" + ZSTD_getErrorName(r) + ")");
    }
    out.append(chunk.data(), ob.pos);
    if (r == 0 && in.pos == in.size) break;
  }
  ZSTD_freeDStream(ds);
  return out;
}

std::string read_file_maybe_zstd(const std::string& path) {
  std::string raw = read_file(path);
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".zst") == 0)
    return zstd_decompress(raw, path);
  return raw;
}

void write_file_atomic(const std::string& path, std::string_view data) {
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot create " + errno_message(tmp));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string msg = "cannot write " + errno_message(tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError(msg);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string msg = "cannot flush " + errno_message(tmp);
    ::unlink(tmp.c_str());
    throw IoError(msg);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = "cannot rename into " + errno_message(path);
    ::unlink(tmp.c_str());
    throw IoError(msg);
  }
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace blockattn
