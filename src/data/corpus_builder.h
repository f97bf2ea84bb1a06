// `blockattn corpus build`: reads the sources (corpus_sources.h) under a root, extracts clean
// documents with their structure, removes exact and near duplicates, splits train/validation/
// test by document and writes DIR/{train,validation,test}.jsonl, manifest.json and report.md.
//
// Deterministic: the same options and the same files give byte-identical output. Files are
// visited in a fixed order, documents are sorted by id before dedup and output, and the split of
// a document depends only on (seed, id).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/corpus_sources.h"
#include "data/document.h"

namespace blockattn {
class Tokenizer;
}

namespace blockattn::data {

struct CorpusProgress {
  std::string source;
  size_t files_done = 0, files_total = 0;
  size_t documents = 0, bytes = 0;  // kept so far for this source
  bool finished = false;            // last call for this source
};

struct CorpusOptions {
  std::string root = "/";
  std::string out_dir;
  uint64_t seed = 1;
  size_t max_bytes_per_source = 20u << 20;  // text bytes kept per source
  size_t max_doc_bytes = 128u << 10;        // longer documents are cut at structure boundaries
  size_t min_doc_bytes = 200;               // shorter ones (link pages, stubs) are dropped
  size_t max_file_bytes = 64u << 20;        // larger (decompressed) files are skipped
  double validation_fraction = 0.02, test_fraction = 0.02;
  double near_duplicate_threshold = 0.8;
  std::vector<std::string> sources;         // empty: every source
  const Tokenizer* tokenizer = nullptr;     // when set, tokens are counted per category
  std::function<void(const CorpusProgress&)> progress;
};

struct CorpusCounts {
  size_t documents = 0, bytes = 0, tokens = 0;
};

struct CorpusSummary {
  std::map<std::string, CorpusCounts> by_category, by_source, by_split;
  CorpusCounts total;
  size_t files_read = 0, files_skipped = 0, too_short = 0, capped_sources = 0;
  size_t exact_duplicates = 0, near_duplicates = 0;
  std::string manifest_hash;  // XXH3-128 hex over (split, JSON line) of every document in id order
  std::string report;         // the markdown written to report.md
};

// "train" | "validation" | "test" from hash(seed, group) where group is the id up to '#', so all
// parts of one file land in the same split.
std::string split_for(uint64_t seed, const std::string& id, double validation_fraction, double test_fraction);

// Documents of one source, in visiting order, ids assigned, before dedup. Unreadable files are
// a warning (counted in `skipped`). Used by build_corpus and the tests.
std::vector<Document> extract_source_documents(const std::string& source, const CorpusOptions& opt, size_t& files_read,
                                               size_t& skipped, size_t& too_short, bool& capped);

// The document of one file of `spec` (read, decompressed, cleaned, extracted), before cutting
// into parts; metadata not yet set. Throws on unreadable or malformed input.
Document extract_file(const SourceSpec& spec, const SourceFile& file, size_t max_file_bytes);

// Builds the whole corpus into opt.out_dir. Throws InputError when the root is missing or empty,
// a --sources name is unknown, or no source has any file; IoError when the output can't be written.
CorpusSummary build_corpus(const CorpusOptions& opt);

}  // namespace blockattn::data
