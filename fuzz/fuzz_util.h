// Shared helpers of the libFuzzer targets (fuzz/README.md). Each target feeds untrusted bytes to
// one parser; a blockattn::Error (or the server's ApiError) is the expected way to refuse them.
// Anything else -- another exception, a crash, a sanitizer report, a leak, a timeout, or memory
// over -rss_limit_mb -- is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace blockattn::fuzz {

// A private directory for the target's scratch files, created once per process.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/blockattn_fuzz_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return tmpl;
  }();
  return dir;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) std::abort();
}

inline void write_file(const std::string& path, const std::string& text) {
  write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

}  // namespace blockattn::fuzz
