// Where the corpus text lives on a Debian system: one entry per source (a package or a family of
// files), with its format, category and licence, and the files it contributes under a root.
#pragma once

#include <string>
#include <vector>

namespace blockattn::data {

enum class SourceFormat { kHtml, kMan, kPod, kCode, kDictd, kWordnet, kFortunes, kScripture, kChangelog, kPlain };

struct SourceSpec {
  std::string name;            // --sources name, first component of document ids
  std::string package;         // Debian package (per-file for changelogs)
  std::string category;        // default category (some sources refine it per file)
  std::string license;
  SourceFormat format;
  std::string description;     // for --help and the report
};

struct SourceFile {
  std::string path;      // absolute (root + rel)
  std::string rel;       // relative to the root, no leading '/'
  std::string package;   // Debian package owning it
  std::string category;
};

// Every known source, sorted by name.
const std::vector<SourceSpec>& corpus_sources();

// The spec named `name`, or nullptr.
const SourceSpec* find_source(const std::string& name);

// The files of `spec` under `root`, sorted by rel. Symlinks (files and directories) are not
// followed: Debian links duplicate content (GPL -> GPL-3, doc directories of -dev packages).
// A missing directory yields no files.
std::vector<SourceFile> find_source_files(const SourceSpec& spec, const std::string& root);

}  // namespace blockattn::data
