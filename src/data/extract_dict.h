// Dictionaries: dictd databases (NAME.index + NAME.dict[.dz], as dict-gcide, dict-jargon and
// dict-foldoc install them) and WordNet's data.{noun,verb,adj,adv}. One document per
// dictionary with one level-1 "entry" per headword, in the dictionary's own order; the builder
// cuts it into parts at entry boundaries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "data/document.h"

namespace blockattn::data {

// `index` is the .index file; `dict` the decompressed .dict, both clean of nothing yet (raw
// bytes: offsets in the index are byte offsets into `dict`). Entries are ordered by offset and
// aliases (several headwords, one definition) kept once; the "00-database-*" metadata entries
// are left out. Throws FormatError on an index line that does not parse.
Document extract_dictd(std::string_view index, std::string_view dict, const std::string& title);

// dictd's base64 number ("B" -> 1, "BA" -> 64). Returns false on a bad digit.
bool dictd_b64(std::string_view s, uint64_t& value);

// One WordNet data file (`pos` is "noun", "verb", "adj" or "adv"); the license header is
// skipped. Each synset becomes "word, word (pos)\ngloss".
Document extract_wordnet(std::string_view data, const std::string& pos, const std::string& title);

}  // namespace blockattn::data
