// `blockattn segment` (cut a text into self-contained blocks) and `blockattn segdata build`
// (the segmentation dataset). docs/segmentation.md, docs/segdata.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "commands.h"
#include "core/io.h"
#include "embed/semantic_scorer.h"
#include "model/model.h"
#include "option_checks.h"
#include "segdata/dataset_builder.h"
#include "segment/segment.h"
#include "segment/text_check.h"
#include "segment_html.h"
#include "segment_methods.h"

namespace blockattn::cli {

namespace {

struct SegmentArgs {
  std::string input = "-", out = "-", format = "jsonl", invalid_utf8 = "reject";
  bool jsonl_input = false;
  size_t blocks = 0;
  MethodArgs method;
};

std::string read_input(const std::string& path) {
  if (path != "-") return read_file(path);
  std::ostringstream s;
  s << std::cin.rdbuf();
  return s.str();
}

// The text as segment() wants it: not empty, no NUL, valid UTF-8 (or repaired).
std::string checked_text(std::string text, const std::string& name, const SegmentArgs& a) {
  if (text.empty()) throw InputError(name + " is empty: nothing to segment");
  if (text.find('\0') != std::string::npos)
    throw InputError(name + " contains NUL bytes at byte " + std::to_string(text.find('\0')) +
                     ": binary input is not segmented");
  if (a.invalid_utf8 == "replace") text = segment::replace_invalid_utf8(text);
  segment::check_text(text, name);
  return text;
}

nlohmann::json block_json(const std::string& text, const segment::Block& b) {
  return nlohmann::json{{"begin", b.begin},
                        {"end", b.end},
                        {"tokens", b.tokens},
                        {"score", b.score},
                        {"cut", segment::cut_type_name(b.cut)},
                        {"text", text.substr(b.begin, b.end - b.begin)}};
}

void write_output(const std::string& path, const std::string& out) {
  if (path == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    write_file_atomic(path, out);
  }
}

// Many documents in one process (the model loads once): every regular file of a directory (by
// name, not recursive), or a JSONL stream of {"id", "text"} objects. One output line per
// document: {"id", "blocks": [block objects as in the single-text jsonl format]}.
int run_segment_many(const SegmentArgs& a, const SegmenterSetup& setup) {
  if (a.format != "jsonl")
    throw InputError("--format " + a.format + " is for one text; many documents give jsonl");
  std::vector<std::pair<std::string, std::string>> docs;  // (id, text)
  if (a.jsonl_input) {
    const std::string name = a.input == "-" ? "standard input" : a.input;
    std::istringstream lines(read_input(a.input));
    std::string line;
    for (size_t n = 1; std::getline(lines, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = name + ":" + std::to_string(n);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw FormatError(where + ": not JSON (" + e.what() + ")");
      }
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
        throw FormatError(where + ": expected an object with a string \"text\"");
      std::string id = std::to_string(n);
      if (j.contains("id")) id = j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump();
      docs.emplace_back(id, j["text"].get<std::string>());
    }
  } else {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(a.input))
      if (e.is_regular_file()) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) docs.emplace_back(f, read_file(f));
  }
  std::string out;
  size_t bytes = 0, blocks = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& [id, raw] : docs) {
    const std::string text = checked_text(raw, id, a);
    const segment::Segmentation seg = segment::segment_detailed(text, setup.options, setup.count);
    nlohmann::json list = nlohmann::json::array();
    for (const segment::Block& b : seg.blocks) list.push_back(block_json(text, b));
    out += nlohmann::json{{"id", id}, {"blocks", list}}.dump() + "\n";
    bytes += text.size();
    blocks += seg.blocks.size();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_output(a.out, out);
  std::fprintf(stderr, "%s: %zu documents, %zu blocks, %.1f MB in %.2f s (%.2f MB/s)\n",
               setup.description.c_str(), docs.size(), blocks, bytes / 1e6, seconds,
               seconds > 0 ? bytes / 1e6 / seconds : 0.0);
  return 0;
}

int run_segment(const SegmentArgs& a) {
  if (a.format != "jsonl" && a.format != "text" && a.format != "html")
    throw InputError("--format must be jsonl, text or html, not \"" + a.format + "\"");
  if (a.invalid_utf8 != "reject" && a.invalid_utf8 != "replace")
    throw InputError("--invalid-utf8 must be reject or replace, not \"" + a.invalid_utf8 + "\"");
  const bool many = a.jsonl_input || (a.input != "-" && is_directory(a.input));
  SegmenterSetup setup = make_segmenter(a.method);
  setup.options.blocks = a.blocks;
  if (a.blocks > 0) setup.description += ", " + std::to_string(a.blocks) + " blocks";
  if (many) return run_segment_many(a, setup);
  const std::string name = a.input == "-" ? "standard input" : a.input;
  const std::string text = checked_text(read_input(a.input), name, a);
  const segment::Segmentation seg = segment::segment_detailed(text, setup.options, setup.count);

  std::string out;
  if (a.format == "html") {
    out = segmentation_html(text, seg, setup.description);
  } else {
    for (const segment::Block& b : seg.blocks) {
      if (a.format == "text") {
        out += text.substr(b.begin, b.end - b.begin);
        if (&b != &seg.blocks.back()) out += "\n\f\n";  // a form feed line between blocks
      } else {
        out += block_json(text, b).dump() + "\n";
      }
    }
  }
  write_output(a.out, out);
  size_t max_tokens = 0;
  for (const auto& b : seg.blocks) max_tokens = std::max(max_tokens, b.tokens);
  std::fprintf(stderr, "%s: %zu blocks, largest %zu tokens (cap %zu), %zu candidate cuts\n",
               setup.description.c_str(), seg.blocks.size(), max_tokens, a.method.max_tokens,
               seg.candidates.size());
  if (a.blocks > 0 && seg.blocks.size() != a.blocks)
    std::fprintf(stderr,
                 "note: %zu blocks, not %zu: the text does not fit in %zu blocks of %zu tokens\n",
                 seg.blocks.size(), a.blocks, a.blocks, a.method.max_tokens);
  return 0;
}

struct SegDataArgs {
  segment::SegDataOptions options;
};

int run_segdata(SegDataArgs& a) {
  a.options.progress = [](const std::string& line) {
    std::fprintf(stderr, "segdata: %s\n", line.c_str());
  };
  const segment::SegDataReport r = segment::build_segdata(a.options);
  std::printf("%zu instances, %zu boundaries, %zu tokens in %.1f s; datasheet: %s/datasheet.md\n",
              r.instances, r.boundaries, r.tokens, r.seconds, a.options.out_dir.c_str());
  return 0;
}

}  // namespace

Runner add_segment(CLI::App& app) {
  auto* cmd = app.add_subcommand("segment",
                                 "Cut a text into self-contained blocks for block attention. Every "
                                 "block has at most --max-tokens tokens\n"
                                 "(over-long pieces are re-split at their best remaining candidate "
                                 "cuts, down to a forced split).");
  auto a = std::make_shared<SegmentArgs>();
  cmd->add_option("input", a->input,
                  "UTF-8 text file, - for standard input, or a directory: every regular file in "
                  "it (by name) is segmented with the model loaded once, one output line per "
                  "file: {\"id\": path, \"blocks\": [...]}")
      ->capture_default_str();
  cmd->add_flag("--jsonl-input", a->jsonl_input,
                "The input is a JSONL stream of {\"id\", \"text\"} objects: each text is "
                "segmented, one output line per object as for a directory");
  cmd->add_option("--blocks", a->blocks,
                  "Exactly N blocks: the N-1 highest-scored candidate cuts instead of the "
                  "threshold (not for fixed; --min-tokens is not applied; --max-tokens still "
                  "holds and adds blocks when N cannot fit)")
      ->check(integer_in(0, 1 << 24))
      ->capture_default_str();
  add_method_options(cmd, a->method);
  cmd->add_option("--format", a->format,
                  "jsonl (one block per line: begin, end, tokens, score, cut, text) | text (blocks "
                  "separated by "
                  "a form-feed line) | html (blocks coloured, every candidate's score visible)")
      ->capture_default_str();
  cmd->add_option("-o,--out", a->out, "Output file (- = standard output)")->capture_default_str();
  cmd->add_option("--invalid-utf8", a->invalid_utf8,
                  "reject (error naming the byte) | replace (with U+FFFD)")
      ->capture_default_str();
  return [a] { return run_segment(*a); };
}

Runner add_segdata(CLI::App& app) {
  auto* cmd = app.add_subcommand("segdata", "The segmentation dataset (SemanticSeg-style)");
  cmd->require_subcommand(1);
  auto* build = cmd->add_subcommand("build",
                                    "Instances of 2k-32k tokens in 20 categories with gold block "
                                    "boundaries from the corpus's structure");
  auto a = std::make_shared<SegDataArgs>();
  auto& o = a->options;
  build
      ->add_option("--corpus", o.corpus_dir,
                   "Output of `blockattn corpus build` ({train,validation,test}.jsonl)")
      ->required();
  build->add_option("--out", o.out_dir, "Output directory")->required();
  build
      ->add_option("--tokenizer", o.tokenizer_path,
                   "Tokenizer file that counts tokens (tokenizer.json / tokenizer.model)")
      ->required();
  build->add_option("--seed", o.seed, "Seed (same seed, same files)")->capture_default_str();
  build->add_option("--min-tokens", o.min_tokens, "Shortest instance")->capture_default_str();
  build->add_option("--max-tokens", o.max_tokens, "Longest instance")->capture_default_str();
  build
      ->add_option("--max-instances-per-category", o.max_instances_per_category,
                   "0: as many as the text supports")
      ->capture_default_str();
  build
      ->add_option("--eval-min-fraction", o.eval_min_fraction,
                   "Move source files from train so validation and test each hold this share of "
                   "every category "
                   "(0: keep the corpus's split)")
      ->capture_default_str();
  build->add_option("--threads", o.threads, "Token-counting threads")->capture_default_str();
  return [a] { return run_segdata(*a); };
}

}  // namespace blockattn::cli
