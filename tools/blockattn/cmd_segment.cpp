// `blockattn segment` (cut a text into self-contained blocks) and `blockattn segdata build`
// (the segmentation dataset). docs/segmentation.md, docs/segdata.md.
#include <cstdio>
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
#include "segdata/dataset_builder.h"
#include "segment/segment.h"
#include "segment/text_check.h"
#include "segment_html.h"
#include "segment_methods.h"

namespace blockattn::cli {

namespace {

struct SegmentArgs {
  std::string input = "-", out = "-", format = "jsonl", invalid_utf8 = "reject";
  MethodArgs method;
};

std::string read_input(const std::string& path) {
  if (path != "-") return read_file(path);
  std::ostringstream s;
  s << std::cin.rdbuf();
  return s.str();
}

int run_segment(const SegmentArgs& a) {
  if (a.format != "jsonl" && a.format != "text" && a.format != "html")
    throw InputError("--format must be jsonl, text or html, not \"" + a.format + "\"");
  if (a.invalid_utf8 != "reject" && a.invalid_utf8 != "replace")
    throw InputError("--invalid-utf8 must be reject or replace, not \"" + a.invalid_utf8 + "\"");
  std::string text = read_input(a.input);
  const std::string name = a.input == "-" ? "standard input" : a.input;
  if (text.empty()) throw InputError(name + " is empty: nothing to segment");
  if (text.find('\0') != std::string::npos)
    throw InputError(name + " contains NUL bytes at byte " + std::to_string(text.find('\0')) +
                     ": binary input is not segmented");
  if (a.invalid_utf8 == "replace") text = segment::replace_invalid_utf8(text);
  segment::check_text(text, name);

  SegmenterSetup setup = make_segmenter(a.method);
  const segment::Segmentation seg = segment::segment_detailed(text, setup.options, setup.count);

  std::string out;
  if (a.format == "html") {
    out = segmentation_html(text, seg, setup.description);
  } else {
    for (const segment::Block& b : seg.blocks) {
      const std::string piece = text.substr(b.begin, b.end - b.begin);
      if (a.format == "text") {
        out += piece;
        if (&b != &seg.blocks.back()) out += "\n\f\n";  // a form feed line between blocks
      } else {
        out += nlohmann::json{{"begin", b.begin},
                              {"end", b.end},
                              {"tokens", b.tokens},
                              {"score", b.score},
                              {"cut", segment::cut_type_name(b.cut)},
                              {"text", piece}}
                   .dump() +
               "\n";
      }
    }
  }
  if (a.out == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    write_file_atomic(a.out, out);
  }
  size_t max_tokens = 0;
  for (const auto& b : seg.blocks) max_tokens = std::max(max_tokens, b.tokens);
  std::fprintf(stderr, "%s: %zu blocks, largest %zu tokens (cap %zu), %zu candidate cuts\n",
               setup.description.c_str(), seg.blocks.size(), max_tokens, a.method.max_tokens,
               seg.candidates.size());
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
  cmd->add_option("input", a->input, "UTF-8 text file, or - for standard input")
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
                                    "Instances of 2k-32k tokens in 17 categories with gold block "
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
