// One dataset instance (a text with its gold block starts) and how it is put together from
// pieces, each piece being one gold block.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "segdata/dataset_counter.h"

namespace blockattn::segment {

struct SegInstance {
  std::string id;  // "<split>/<category>/<n>"
  std::string category;
  std::string split;
  std::string text;
  std::vector<size_t> boundaries;  // byte offsets of block starts, ascending, excluding 0
  size_t tokens = 0;
  std::vector<std::string> sources;  // corpus document ids, first use order, no repeats
};

// One JSON object, keys in the order id, category, split, text, boundaries, tokens, sources.
std::string to_json_line(const SegInstance& inst);
// Inverse of to_json_line (for tests and later stages). Throws FormatError.
SegInstance instance_from_json_line(const std::string& line);

// Every instance of a JSONL file (blank lines skipped); at most `limit` (0: all), then taken
// evenly spaced so that every category stays represented. IoError if unreadable; FormatError
// "path:line: ..." for a malformed line.
std::vector<SegInstance> read_instances(const std::string& path, size_t limit = 0);

// Throws InputError naming the instance unless: boundaries ascending, unique, inside (0, size),
// each on a UTF-8 character start and a line start; text valid UTF-8 and not empty.
void check_instance(const SegInstance& inst);

// One gold block. `contiguous` pieces continue the previous piece's document exactly (the
// previous piece keeps its trailing whitespace); any other join trims the previous piece's
// trailing whitespace and puts `separator` (a blank line by default) between.
struct InstancePiece {
  std::string text;
  size_t tokens = 0;  // the piece counted alone: an estimate of its share of the instance
  bool contiguous = false;
  std::string separator = "\n\n";  // must end with a line break (boundaries are line starts)
  std::vector<std::string> sources;
};

// Joins pieces into text and boundaries (every piece but the first starts a block); the text
// has no trailing whitespace.
void render_pieces(const std::vector<InstancePiece>& pieces, std::string& text,
                   std::vector<size_t>& boundaries);

enum class PieceFit { kOk, kTooShort, kFailed };

// Renders `pieces`, counts the text exactly and checks [min_tokens, max_tokens]. Over the
// maximum, trailing pieces are dropped (they are returned in `dropped`) until it fits. kTooShort:
// below the minimum (the caller may add pieces and retry). kFailed: fewer than two blocks left.
PieceFit finalize_instance(std::vector<InstancePiece>& pieces, const DatasetCounter& counter,
                           size_t min_tokens, size_t max_tokens, SegInstance& out,
                           std::vector<InstancePiece>* dropped = nullptr);

}  // namespace blockattn::segment
