// `blockattn corpus build`: a training / segmentation corpus from freely licensed text installed
// by Debian packages (scripts/install_corpus_deps.sh), with each document's structure kept.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "blockattn/tokenizer.h"
#include "commands.h"
#include "data/corpus_builder.h"
#include "data/corpus_sources.h"
#include "data/synthetic_corpus.h"

namespace blockattn::cli {

namespace {

struct CorpusCliOptions {
  data::CorpusOptions corpus;
  std::string sources, tokenizer;
  bool no_progress = false;
};

int run_build(CorpusCliOptions& o) {
  data::CorpusOptions& c = o.corpus;
  c.sources = data::split_path_list(o.sources);
  std::unique_ptr<Tokenizer> tok;
  if (!o.tokenizer.empty()) {
    tok = Tokenizer::from_file(o.tokenizer);
    c.tokenizer = tok.get();
  }
  // One line per source; on a terminal it is redrawn in place as files are read.
  const bool tty = isatty(fileno(stderr));
  if (!o.no_progress)
    c.progress = [tty](const data::CorpusProgress& p) {
      if (!tty && !p.finished) return;
      if (tty && !p.finished && p.files_done % 16 != 0) return;
      std::fprintf(stderr, "%s%-18s %6zu/%-6zu files %7zu docs %8.1f MiB%s", tty ? "\r" : "",
                   p.source.c_str(), p.files_done, p.files_total, p.documents,
                   static_cast<double>(p.bytes) / (1 << 20), p.finished ? "\n" : "");
      std::fflush(stderr);
    };
  data::CorpusSummary s = data::build_corpus(c);
  std::fwrite(s.report.data(), 1, s.report.size(), stdout);
  std::printf("\nwrote %s/{train,validation,test}.jsonl, manifest.json, report.md\n",
              c.out_dir.c_str());
  return 0;
}

std::string sources_help() {
  std::string h = "Comma-separated sources to read (default: all). Known sources:\n";
  for (const data::SourceSpec& s : data::corpus_sources())
    h += "  " + s.name + std::string(s.name.size() < 18 ? 18 - s.name.size() : 1, ' ') +
         s.description + "\n";
  return h;
}

}  // namespace

Runner add_corpus(CLI::App& app) {
  auto o = std::make_shared<CorpusCliOptions>();
  auto* cmd = app.add_subcommand("corpus", "Build text corpora for pretraining and segmentation");
  cmd->require_subcommand(1);
  auto* build = cmd->add_subcommand(
      "build",
      "Extract clean UTF-8 documents from freely licensed text installed by Debian packages\n"
      "(scripts/install_corpus_deps.sh): manuals (HTML), man pages (groff), POD, dictionaries, "
      "fortunes,\n"
      "changelogs, licences and program source (Python, C, Go, TypeScript). Each document keeps "
      "its\n"
      "structure (chapters, sections, functions, entries) as byte offsets into its text. Exact and "
      "near\n"
      "duplicates are removed, documents are split train/validation/test by a hash of (seed, id), "
      "and\n"
      "OUT/{train,validation,test}.jsonl, OUT/manifest.json and OUT/report.md are written.\n"
      "The same seed and the same installed files give byte-identical output.");
  build->add_option("-o,--out", o->corpus.out_dir, "Output directory (created if missing)")
      ->required();
  build->add_option("--seed", o->corpus.seed, "Seed of the train/validation/test assignment")
      ->capture_default_str();
  build
      ->add_option("--max-bytes-per-source", o->corpus.max_bytes_per_source,
                   "Text kept per source (bytes; suffixes KiB/MiB/GiB, KB/MB = 1000-based): files "
                   "are sampled in\n"
                   "a fixed hash order until it is reached, so a capped source is a sample of its "
                   "whole tree")
      ->transform(CLI::AsSizeValue(true))
      ->capture_default_str();
  build
      ->add_option(
          "--max-doc-bytes", o->corpus.max_doc_bytes,
          "Longer documents are cut into parts at structure boundaries (bytes; suffixes as above)")
      ->transform(CLI::AsSizeValue(true))
      ->capture_default_str();
  build
      ->add_option("--min-doc-bytes", o->corpus.min_doc_bytes,
                   "Shorter documents (stubs, link pages) are dropped")
      ->capture_default_str();
  build
      ->add_option("--validation-fraction", o->corpus.validation_fraction,
                   "Share of documents in validation")
      ->capture_default_str();
  build->add_option("--test-fraction", o->corpus.test_fraction, "Share of documents in test")
      ->capture_default_str();
  build
      ->add_option("--near-duplicate-threshold", o->corpus.near_duplicate_threshold,
                   "Estimated Jaccard similarity (word 5-shingles, MinHash) above which a document "
                   "is a near duplicate")
      ->capture_default_str();
  build->add_option("--sources", o->sources, sources_help());
  build
      ->add_option("--root", o->corpus.root,
                   "File-system root to read the sources from (tests use a fixture tree)")
      ->capture_default_str();
  build->add_option("--tokenizer", o->tokenizer,
                    "tokenizer.json / tokenizer.model: also count tokens per category");
  build->add_flag("--no-progress", o->no_progress, "No per-source progress on stderr");
  return [o] { return run_build(*o); };
}

}  // namespace blockattn::cli
