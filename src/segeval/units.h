// From byte-offset boundaries to the per-unit boundary strings the metrics compare.
//
// A segmentation of n units is a string of n characters, '1' at unit i when a boundary follows
// unit i (NLTK's convention: the boundary character marks the last unit of a segment; the last
// unit never carries one). Every method must be converted with the same unit for a comparison
// to mean anything.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace blockattn::segment {

enum class Unit {
  kChar,  // Unicode code points
  kWord,  // a maximal run of non-whitespace plus the whitespace after it; leading whitespace
          // belongs to the first word. Cuts made after whitespace fall exactly between words.
};

// Byte offset where each unit starts (the first is 0; none for empty text).
std::vector<size_t> unit_starts(std::string_view text, Unit unit);

// The boundary string for cuts at byte offsets `cuts` (any order; 0 and offsets >= text_size
// are ignored). A cut inside a unit counts at the start of that unit, i.e. after the unit
// before it; a cut inside the first unit is dropped. Duplicates collapse.
std::string boundary_string(const std::vector<size_t>& unit_starts, size_t text_size,
                            const std::vector<size_t>& cuts);

}  // namespace blockattn::segment
