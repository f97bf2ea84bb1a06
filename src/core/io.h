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

// zstd decompression of an in-memory frame. Throws FormatError on a corrupt frame.
std::string zstd_decompress(std::string_view compressed, const std::string& what);

// Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename.
// Readers see either the old file or the whole new one, never a partial write.
// Throws IoError (naming the path and strerror) on failure; the temp file is removed.
void write_file_atomic(const std::string& path, std::string_view data);

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

// "path: strerror(errno)" for error messages.
std::string errno_message(const std::string& path);

}  // namespace blockattn
