#include "data/corpus_builder.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/hash.h"
#include "core/io.h"
#include "core/log.h"
#include "data/dedup.h"
#include "data/extract_code.h"
#include "data/extract_dict.h"
#include "data/extract_html.h"
#include "data/extract_man.h"
#include "data/extract_plain.h"
#include "data/extract_pod.h"
#include "data/gzip_reader.h"
#include "data/text_clean.h"

namespace blockattn::data {

namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (!ec && size > max_bytes) throw InputError(path + ": larger than the per-file limit");
  std::string raw = read_file_maybe_gz(path);
  if (raw.size() > max_bytes) throw InputError(path + ": larger than the per-file limit");
  if (looks_binary(raw)) throw InputError(path + ": binary file");
  return clean_text(raw);
}

std::string with_suffix_replaced(const std::string& s, const std::string& from, const std::string& to) {
  return s.substr(0, s.size() - from.size()) + to;
}

}  // namespace

Document extract_file(const SourceSpec& spec, const SourceFile& file, size_t max_file_bytes) {
  const std::string& title = file.rel;
  switch (spec.format) {
    case SourceFormat::kHtml:
      return extract_html(read_text(file.path, max_file_bytes));
    case SourceFormat::kMan:
      return extract_man(read_text(file.path, max_file_bytes));
    case SourceFormat::kPod:
      return extract_pod(read_text(file.path, max_file_bytes));
    case SourceFormat::kCode: {
      CodeLanguage lang;
      if (!code_language_for(file.path, lang)) throw InputError(file.path + ": not a known source language");
      return extract_code(read_text(file.path, max_file_bytes), lang, title);
    }
    case SourceFormat::kDictd: {
      // Offsets in the index are into the raw dictionary bytes: no cleaning before slicing.
      std::string index = read_file(file.path);
      std::string dict_path = with_suffix_replaced(file.path, ".index", ".dict.dz");
      if (!file_exists(dict_path)) dict_path = with_suffix_replaced(file.path, ".index", ".dict");
      std::string dict = read_file_maybe_gz(dict_path);
      std::string name = fs::path(file.path).stem().string();
      return extract_dictd(index, dict, name);
    }
    case SourceFormat::kWordnet: {
      std::string pos = fs::path(file.path).extension().string().substr(1);  // data.noun -> noun
      return extract_wordnet(read_file(file.path), pos, "WordNet " + pos);
    }
    case SourceFormat::kFortunes:
      return extract_fortunes(read_text(file.path, max_file_bytes), "fortunes: " + fs::path(file.path).filename().string());
    case SourceFormat::kScripture:
      return extract_scripture(read_text(file.path, max_file_bytes), fs::path(file.path).stem().string());
    case SourceFormat::kChangelog:
      return extract_changelog(read_text(file.path, max_file_bytes), file.package + " Debian changelog");
    case SourceFormat::kPlain:
      return extract_plain(read_text(file.path, max_file_bytes), fs::path(file.path).filename().string());
  }
  throw UnsupportedError("corpus: unknown source format");
}

std::string split_for(uint64_t seed, const std::string& id, double validation_fraction, double test_fraction) {
  std::string group = id.substr(0, id.rfind('#'));
  Hasher128 h;
  h.update_pod(seed);
  h.update_field(group);
  // Top 53 bits as a uniform double in [0, 1).
  double u = static_cast<double>(h.digest().hi >> 11) / 9007199254740992.0;
  if (u < test_fraction) return "test";
  if (u < test_fraction + validation_fraction) return "validation";
  return "train";
}

std::vector<Document> extract_source_documents(const std::string& source, const CorpusOptions& opt, size_t& files_read,
                                               size_t& skipped, size_t& too_short, bool& capped) {
  const SourceSpec* spec = find_source(source);
  if (!spec) throw InputError("corpus: unknown source '" + source + "'");
  std::vector<SourceFile> files = find_source_files(*spec, opt.root);
  // Visit in hash order, so a source cut short by --max-bytes-per-source is a sample of the
  // whole tree rather than its alphabetical beginning.
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < files.size(); ++i) order.emplace_back(hash64(files[i].rel.data(), files[i].rel.size()), i);
  std::sort(order.begin(), order.end());

  std::vector<Document> docs;
  size_t bytes = 0;
  capped = false;
  CorpusProgress progress{source, 0, files.size(), 0, 0, false};
  for (const auto& [h, i] : order) {
    (void)h;
    const SourceFile& f = files[i];
    if (bytes >= opt.max_bytes_per_source) {
      capped = true;
      break;
    }
    Document whole;
    try {
      whole = extract_file(*spec, f, opt.max_file_bytes);
      ++files_read;
    } catch (const std::exception& e) {  // unreadable, binary, malformed: warn and go on
      BA_WARN("corpus: skipping " << f.path << ": " << e.what());
      ++skipped;
      continue;
    }
    whole.source_package = f.package;
    whole.category = f.category;
    whole.license = spec->license;
    if (whole.title.empty()) whole.title = f.rel;
    std::vector<Document> parts = split_document(whole, opt.max_doc_bytes);
    for (size_t k = 0; k < parts.size(); ++k) {
      Document& d = parts[k];
      if (trim(d.text).size() < opt.min_doc_bytes) {
        ++too_short;
        continue;
      }
      if (bytes >= opt.max_bytes_per_source) {
        capped = true;
        break;
      }
      d.id = source + "/" + f.rel + "#" + std::to_string(k);
      bytes += d.text.size();
      docs.push_back(std::move(d));
    }
    ++progress.files_done;
    progress.documents = docs.size();
    progress.bytes = bytes;
    if (opt.progress) opt.progress(progress);
  }
  progress.finished = true;
  progress.documents = docs.size();
  progress.bytes = bytes;
  if (opt.progress) opt.progress(progress);
  return docs;
}

namespace {

std::string mb(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

void table(std::ostringstream& os, const std::string& key, const std::map<std::string, CorpusCounts>& rows,
           const CorpusCounts& total, bool tokens) {
  os << "| " << key << " | documents | bytes | MiB |" << (tokens ? " tokens |" : "") << "\n";
  os << "| --- | ---: | ---: | ---: |" << (tokens ? " ---: |" : "") << "\n";
  auto row = [&](const std::string& name, const CorpusCounts& c) {
    os << "| " << name << " | " << c.documents << " | " << c.bytes << " | " << mb(c.bytes) << " |";
    if (tokens) os << " " << c.tokens << " |";
    os << "\n";
  };
  for (const auto& [name, c] : rows) row(name, c);
  row("**total**", total);
  os << "\n";
}

std::string render_report(const CorpusOptions& opt, const CorpusSummary& s, const std::vector<std::string>& sources) {
  std::ostringstream os;
  bool tok = opt.tokenizer != nullptr;
  os << "# Corpus report\n\n";
  os << "- root: `" << opt.root << "`, seed " << opt.seed << ", sources: " << sources.size() << "\n";
  os << "- manifest hash (XXH3-128): `" << s.manifest_hash << "`\n";
  os << "- limits: " << mb(opt.max_bytes_per_source) << " MiB per source, documents cut at "
     << opt.max_doc_bytes / 1024 << " KiB, dropped under " << opt.min_doc_bytes << " bytes\n";
  os << "- files read " << s.files_read << ", skipped (unreadable/binary/too large) " << s.files_skipped
     << ", sources capped " << s.capped_sources << "\n";
  os << "- removed: " << s.exact_duplicates << " exact duplicates, " << s.near_duplicates
     << " near duplicates (MinHash Jaccard >= " << opt.near_duplicate_threshold << "), " << s.too_short
     << " too short\n";
  if (tok) os << "- tokens counted with `" << opt.tokenizer->kind() << "` " << opt.tokenizer->fingerprint() << "\n";
  os << "\n## By category\n\n";
  table(os, "category", s.by_category, s.total, tok);
  os << "## By source\n\n";
  table(os, "source", s.by_source, s.total, tok);
  os << "## By split\n\n";
  table(os, "split", s.by_split, s.total, tok);
  return os.str();
}

}  // namespace

CorpusSummary build_corpus(const CorpusOptions& opt) {
  std::error_code ec;
  if (opt.root.empty() || !fs::is_directory(opt.root, ec))
    throw InputError("corpus: root '" + opt.root + "' is not a directory");
  if (fs::directory_iterator(opt.root, ec) == fs::directory_iterator())
    throw InputError("corpus: root '" + opt.root + "' is empty");
  if (opt.out_dir.empty()) throw InputError("corpus: no output directory given");
  if (opt.validation_fraction < 0 || opt.test_fraction < 0 || opt.validation_fraction + opt.test_fraction >= 1)
    throw InputError("corpus: validation and test fractions must be >= 0 and sum to < 1");

  std::vector<std::string> sources = opt.sources;
  if (sources.empty())
    for (const SourceSpec& s : corpus_sources()) sources.push_back(s.name);
  std::sort(sources.begin(), sources.end());
  sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
  for (const std::string& s : sources)
    if (!find_source(s)) {
      std::string known;
      for (const SourceSpec& k : corpus_sources()) known += (known.empty() ? "" : ", ") + k.name;
      throw InputError("corpus: unknown source '" + s + "' (known: " + known + ")");
    }

  CorpusSummary sum;
  std::vector<Document> docs;
  for (const std::string& s : sources) {
    bool capped = false;
    std::vector<Document> part = extract_source_documents(s, opt, sum.files_read, sum.files_skipped, sum.too_short, capped);
    sum.capped_sources += capped;
    for (Document& d : part) docs.push_back(std::move(d));
  }
  if (docs.empty())
    throw InputError("corpus: no documents found under '" + opt.root + "' (install them with scripts/install_corpus_deps.sh)");

  std::sort(docs.begin(), docs.end(), [](const Document& a, const Document& b) { return a.id < b.id; });
  DedupResult dd = deduplicate(docs, opt.near_duplicate_threshold);
  sum.exact_duplicates = dd.exact_duplicates;
  sum.near_duplicates = dd.near_duplicates;
  for (const auto& [dropped, kept] : dd.dropped) BA_INFO("corpus: duplicate " << dropped << " of " << kept);

  fs::create_directories(opt.out_dir, ec);
  if (ec) throw IoError("corpus: cannot create " + opt.out_dir + ": " + ec.message());
  std::map<std::string, std::string> out{{"train", ""}, {"validation", ""}, {"test", ""}};
  nlohmann::ordered_json manifest_docs = nlohmann::ordered_json::array();
  Hasher128 hasher;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!dd.keep[i]) continue;
    const Document& d = docs[i];
    std::string split = split_for(opt.seed, d.id, opt.validation_fraction, opt.test_fraction);
    std::string line = to_json_line(d);
    hasher.update_field(split);
    hasher.update_field(line);
    out[split] += line;
    out[split] += '\n';
    manifest_docs.push_back({{"id", d.id}, {"source_package", d.source_package}, {"category", d.category},
                             {"license", d.license}, {"bytes", d.text.size()}, {"split", split}});
    size_t tokens = opt.tokenizer ? opt.tokenizer->encode(d.text).size() : 0;
    std::string source = d.id.substr(0, d.id.find('/'));
    for (CorpusCounts* c : {&sum.by_category[d.category], &sum.by_source[source], &sum.by_split[split], &sum.total}) {
      c->documents += 1;
      c->bytes += d.text.size();
      c->tokens += tokens;
    }
  }
  sum.manifest_hash = hasher.digest().hex();
  for (const auto& [split, data] : out) write_file_atomic(opt.out_dir + "/" + split + ".jsonl", data);

  nlohmann::ordered_json manifest;
  manifest["manifest_hash"] = sum.manifest_hash;
  manifest["seed"] = opt.seed;
  manifest["documents"] = std::move(manifest_docs);
  write_file_atomic(opt.out_dir + "/manifest.json", manifest.dump(1) + "\n");
  sum.report = render_report(opt, sum, sources);
  write_file_atomic(opt.out_dir + "/report.md", sum.report);
  return sum;
}

}  // namespace blockattn::data
