// `blockattn blockdata`: block samples for block-distillation training from JSONL documents
// (src/blockdata/block_samples.h, docs/data.md).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "blockattn/error.h"
#include "blockdata/block_samples.h"
#include "commands.h"
#include "core/io.h"
#include "data/synthetic_corpus.h"
#include "segment_methods.h"

namespace blockattn::cli {

namespace {

struct BlockDataArgs {
  std::vector<std::string> inputs;
  std::string out, exclude;
  std::string tokenizer = MethodArgs{}.tokenizer;
  std::string segmenter = MethodArgs{}.segmenter;
  size_t min_shared_lines = 3, boilerplate_texts = 3;
  data::BlockDataOptions options;
};

int run_blockdata(BlockDataArgs& a) {
  data::BlockDataOptions& o = a.options;
  data::check_block_sample_options(o.samples);  // before anything slow is loaded
  if (o.threads == 0) throw InputError("--threads must be at least 1");

  MethodArgs m;
  m.method = "learned";
  m.max_tokens = o.samples.max_block_tokens;
  m.min_tokens = o.samples.min_block_tokens;
  m.tokenizer = a.tokenizer;
  // The shipped segmenter is a directory with one file; accept either.
  m.segmenter = is_directory(a.segmenter) ? a.segmenter + "/segmenter.safetensors" : a.segmenter;
  const SegmenterSetup setup = make_segmenter(m);

  data::LineExclusion exclusion(a.min_shared_lines, a.boilerplate_texts);
  if (!a.exclude.empty()) {
    const std::vector<std::string> held_out =
        data::read_jsonl_texts(data::split_path_list(a.exclude));
    for (const std::string& text : held_out) exclusion.add(text);
    std::fprintf(stderr,
                 "blockdata: dropping documents that share %zu+ lines with %zu held-out texts "
                 "(%zu distinct lines, %zu of them boilerplate)\n",
                 a.min_shared_lines, held_out.size(), exclusion.lines(),
                 exclusion.boilerplate_lines());
    o.exclude = &exclusion;
  }
  o.progress = [](const data::BlockDataReport& r) {
    std::fprintf(stderr, "blockdata: %zu documents, %zu samples, %.1f MB read\n", r.documents,
                 r.samples, static_cast<double>(r.bytes_read) / 1e6);
  };

  const data::BlockDataReport r =
      data::write_block_samples(a.inputs, a.out, setup.options, setup.count, o);
  std::printf(
      "%zu documents read, %zu dropped by exclusion, %zu too short; %zu samples written to %s: "
      "%zu blocks, %zu tokens, %.2f blocks/sample (%s)\n",
      r.documents, r.excluded, r.without_sample, r.samples, a.out.c_str(), r.blocks, r.tokens,
      r.samples ? static_cast<double>(r.blocks) / r.samples : 0.0, setup.description.c_str());
  return 0;
}

}  // namespace

Runner add_blockdata(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "blockdata",
      "Block samples for block-distillation training: each document is cut into blocks by the\n"
      "learned segmenter and runs of consecutive blocks become samples (JSONL: id, category,\n"
      "blocks; the last block is the final block). docs/data.md");
  auto a = std::make_shared<BlockDataArgs>();
  data::BlockSampleOptions& s = a->options.samples;
  a->options.threads = std::max(1u, std::thread::hardware_concurrency());
  cmd->add_option("inputs", a->inputs,
                  "JSONL documents: \"text\", optional \"id\" and \"category\"")
      ->required();
  cmd->add_option("-o,--out", a->out, "Output JSONL file (written atomically)")->required();
  cmd->add_option("--tokenizer", a->tokenizer,
                  "Tokenizer (file or model directory) that counts tokens")
      ->capture_default_str();
  cmd->add_option("--segmenter", a->segmenter, "Learned segmenter file or its directory")
      ->capture_default_str();
  cmd->add_option("--max-block-tokens", s.max_block_tokens, "Hard cap on a block's tokens")
      ->capture_default_str();
  cmd->add_option("--min-block-tokens", s.min_block_tokens,
                  "Smaller blocks merge into a neighbour (best effort)")
      ->capture_default_str();
  cmd->add_option("--sample-tokens", s.sample_tokens,
                  "Cap on a sample's tokens (the sum over its blocks, each counted alone)")
      ->capture_default_str();
  cmd->add_option("--max-blocks", s.max_blocks, "Most blocks in a sample")->capture_default_str();
  cmd->add_option("--exclude", a->exclude,
                  "Held-out JSONL texts (e.g. the evaluation set), comma-separated: documents "
                  "sharing lines with them are dropped");
  cmd->add_option("--min-shared-lines", a->min_shared_lines,
                  "--exclude drops a document sharing this many distinct lines of 40+ bytes")
      ->capture_default_str();
  cmd->add_option("--boilerplate-texts", a->boilerplate_texts,
                  "--exclude ignores lines found in this many held-out texts (licence headers and "
                  "the like; 0: none)")
      ->capture_default_str();
  cmd->add_option("--max-samples", a->options.max_samples, "Stop after this many (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--threads", a->options.threads,
                  "Worker threads (the output is the same for any count)")
      ->capture_default_str();
  return [a] { return run_blockdata(*a); };
}

}  // namespace blockattn::cli
