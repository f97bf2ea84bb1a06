// gzip decompression with zlib, for man pages, changelogs and dictd's .dict.dz (dictzip is gzip
// with an extra header field, so plain inflate reads it whole).
#pragma once

#include <string>
#include <string_view>

namespace blockattn::data {

// Decompresses every member of a gzip stream. Throws FormatError naming `what` when corrupt.
std::string gunzip(std::string_view compressed, const std::string& what);

// Whole file; decompressed when it ends in ".gz" or ".dz". Throws IoError / FormatError.
std::string read_file_maybe_gz(const std::string& path);

}  // namespace blockattn::data
