// Small file-system helpers shared by the loaders and the cache.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace blockattn {

// Whole file as bytes. Throws IoError naming the path on any failure.
std::string read_file(const std::string& path);

// Whole file; if `path` ends in ".zst" it is decompressed (zstd). Throws IoError / FormatError.
std::string read_file_maybe_zstd(const std::string& path);

// Largest output zstd_decompress produces by default (tokenizer files are tens of MB).
inline constexpr uint64_t kMaxZstdOutput = 1ull << 30;

// zstd decompression of an in-memory frame. Throws FormatError on a corrupt frame, on a frame
// whose declared size is more than its input could expand to, and on output over `max_output`
// -- before allocating it.
std::string zstd_decompress(std::string_view compressed, const std::string& what,
                            uint64_t max_output = kMaxZstdOutput);

// Writes `data` to `path` atomically: a temp file "<path>.tmp.<pid>.<random>" in the same
// directory, fsync, close, rename, then fsync of the directory (so the rename survives a power
// loss). Readers see either the old file or the whole new one, never a partial write.
// Throws IoError (naming the path and strerror) on failure; the temp file is removed and its
// descriptor closed on every path. A failure of the final directory fsync is reported too (the
// new file is then in place but may not be durable).
void write_file_atomic(const std::string& path, std::string_view data);

// TEST-ONLY seam: replaces the fsync(2) that write_file_atomic calls (nullptr restores it), so
// tests can make the flush fail or observe which descriptors are flushed.
void set_fsync_for_testing(int (*fn)(int));

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

// "path: strerror(errno)" for error messages.
std::string errno_message(const std::string& path);

}  // namespace blockattn
