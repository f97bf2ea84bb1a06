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

std::string zstd_decompress(std::string_view compressed, const std::string& what,
                            uint64_t max_output) {
  unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) throw FormatError(what + ": not a zstd frame");
  auto too_big = [&](unsigned long long n) {
    return FormatError(what + ": zstd data would decompress to " + std::to_string(n) +
                       " bytes, over the limit of " + std::to_string(max_output));
  };
  std::string out;
  if (size != ZSTD_CONTENTSIZE_UNKNOWN) {
    // The declared size is believed only as far as the real input can back it: one zstd block
    // (at most 128 KiB of output) takes at least 4 bytes of input (a 3-byte header and an RLE
    // byte), so no frame expands more than 32768-fold, plus one block of slack.
    const unsigned long long backed =
        static_cast<unsigned long long>(compressed.size()) * 32768ull + (128ull << 10);
    if (size > backed)
      throw FormatError(what + ": zstd frame declares " + std::to_string(size) +
                        " bytes, more than its " + std::to_string(compressed.size()) +
                        " input bytes can hold");
    if (size > max_output) throw too_big(size);
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
    if (out.size() + ob.pos > max_output) {
      ZSTD_freeDStream(ds);
      throw too_big(out.size() + ob.pos);
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

namespace {

int (*g_fsync)(int) = ::fsync;

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void set_fsync_for_testing(int (*fn)(int)) { g_fsync = fn != nullptr ? fn : ::fsync; }

void write_file_atomic(const std::string& path, std::string_view data) {
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot create " + errno_message(tmp));
  // Every path below closes fd exactly once and, on failure, removes the temp file.
  auto fail = [&](const std::string& what) {
    std::string msg = what + " " + errno_message(tmp);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError(msg);
  };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (g_fsync(fd) != 0) fail("cannot flush");
  const int close_rc = ::close(fd);
  fd = -1;
  if (close_rc != 0) fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = "cannot rename into " + errno_message(path);
    ::unlink(tmp.c_str());
    throw IoError(msg);
  }
  // The rename is durable only once the directory itself is flushed. Some file systems cannot
  // fsync a directory (EINVAL); there the rename is as durable as that file system makes it.
  const std::string dir = parent_dir(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw IoError("cannot open directory " + errno_message(dir) + " to flush it");
  if (g_fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP) {
    std::string msg = "cannot flush directory " + errno_message(dir);
    ::close(dfd);
    throw IoError(msg);
  }
  ::close(dfd);
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
