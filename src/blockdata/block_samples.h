// Block samples for block-distillation training (`blockattn blockdata`, docs/data.md): a document
// is cut into blocks by a segmenter and runs of consecutive blocks become samples, one JSON line
//
//   {"id": "doc#0", "category": "manual", "blocks": ["text0", "text1", ..., "final"]}
//
// The last block is the final block (it attends to all earlier blocks); the others are encoded
// alone. Blocks are verbatim: their concatenation is the contiguous source span of the sample.
//
//   auto count = segment::tokenizer_counter(tok);
//   segment::SegmentOptions seg;            // method, scorer, threshold (caps come from opts)
//   for (const BlockSample& s : make_block_samples(text, id, category, seg, count, opts))
//     out << to_json_line(s) << '\n';
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "segment/segment.h"

namespace blockattn {
struct ChatFormat;
}

namespace blockattn::data {

struct SynthItem;

struct BlockSampleOptions {
  size_t max_block_tokens = 256;  // hard cap per block (the segmenter's max_tokens)
  size_t min_block_tokens = 16;   // smaller blocks merge into a neighbour (best effort)
  size_t sample_tokens = 2048;    // cap on a sample: the sum of its blocks' exact counts
  size_t min_blocks = 2;          // >= 2: a final block and at least one context block
  size_t max_blocks = 64;
};

// InputError naming the option (as the CLI spells it) that is out of range.
void check_block_sample_options(const BlockSampleOptions& o);

struct BlockSample {
  std::string id;  // "<document id>#<k>", k counting the document's samples from 0
  std::string category;
  std::vector<std::string> blocks;
  size_t begin = 0, end = 0;  // the source span, bytes of the document
  size_t tokens = 0;          // sum of the blocks' token counts
};

// Segments `text` with `seg` (its max_tokens/min_tokens replaced by the options') and packs
// consecutive blocks greedily into samples of at most sample_tokens and max_blocks. Tokens are
// counted per block, because training encodes every block on its own. A run that cannot reach
// min_blocks (a too-short document or tail, or a block too big to pair with its neighbour) is
// skipped, so samples are in document order, non-overlapping, but not always adjacent.
// InputError as segment() (invalid UTF-8, NUL byte) or for bad options.
std::vector<BlockSample> make_block_samples(std::string_view text, const std::string& id,
                                            const std::string& category,
                                            const segment::SegmentOptions& seg,
                                            const segment::TokenCounter& count,
                                            const BlockSampleOptions& opts);

// One JSON line without the newline: id, category, blocks.
std::string to_json_line(const BlockSample& sample);

// A synthetic task item (`blockattn synth --format blocks`) as a sample: its passage blocks, then
// chat.final_text(question) + chat.answer_text(answer); category is the task name. The blocks
// concatenate to item.text(chat). `tokens` is left 0.
BlockSample block_sample(const SynthItem& item, const ChatFormat& chat);

// Keeps held-out documents (the evaluation set) out of training: a document is excluded when it
// shares at least `min_shared_lines` distinct normalised lines with the held-out texts. Lines are
// normalised by collapsing ASCII whitespace runs to one space and trimming; only lines with at
// least kMinLineBytes non-space bytes count (short lines such as "}" or "Example:" are common to
// unrelated documents).
//
// A line found in `boilerplate_texts` or more held-out texts is boilerplate and does not count
// (0: every line counts). Without this, Go's three-line licence header alone excluded 1289 of the
// first 3000 training documents of our corpus against the segmentation test set; with 3, the
// sources of that test set are still excluded (75 of 79; the others share < 3 long lines).
// Const methods are thread-safe.
class LineExclusion {
 public:
  static constexpr size_t kMinLineBytes = 40;

  // min_shared_lines 0 is taken as 1: excluding every document is never what a caller means.
  explicit LineExclusion(size_t min_shared_lines = 3, size_t boilerplate_texts = 3)
      : min_shared_(min_shared_lines ? min_shared_lines : 1), boilerplate_(boilerplate_texts) {}

  void add(std::string_view held_out_text);
  size_t lines() const { return texts_per_line_.size(); }  // distinct held-out lines
  size_t boilerplate_lines() const;                        // of them, those that do not count

  // Distinct lines of `text` that occur in the held-out texts and are not boilerplate.
  size_t shared_lines(std::string_view text) const;
  bool excluded(std::string_view text) const {
    return !texts_per_line_.empty() && shared_lines(text) >= min_shared_;
  }

 private:
  bool counts(uint32_t texts) const { return boilerplate_ == 0 || texts < boilerplate_; }

  size_t min_shared_, boilerplate_;
  std::unordered_map<uint64_t, uint32_t> texts_per_line_;  // line hash -> held-out texts with it
};

// `blockattn blockdata`: samples of every document of JSONL files (one object per line with a
// string "text", optional string "id" and "category"), written to one JSONL file.
struct BlockDataReport {
  size_t documents = 0;       // non-blank input lines read
  size_t excluded = 0;        // dropped by the LineExclusion
  size_t without_sample = 0;  // too short for one sample
  size_t samples = 0, blocks = 0, tokens = 0;
  uint64_t bytes_read = 0;
};

struct BlockDataOptions {
  BlockSampleOptions samples;
  size_t max_samples = 0;                  // stop after this many (0: no limit)
  size_t threads = 1;                      // the output is the same for any count
  const LineExclusion* exclude = nullptr;  // optional
  double progress_seconds = 5;
  std::function<void(const BlockDataReport&)> progress;  // every progress_seconds, if set
};

// Documents are processed in parallel batches and written in input order. A document without
// "id" is named "<file name>:<line>". The output is written to a temporary file and renamed, so
// a failed run leaves no partial file. IoError (unreadable input, unwritable output),
// FormatError / InputError "path:line: ..." for a bad line or text, InputError for bad options.
BlockDataReport write_block_samples(const std::vector<std::string>& inputs,
                                    const std::string& out_path, const segment::SegmentOptions& seg,
                                    const segment::TokenCounter& count,
                                    const BlockDataOptions& opts);

// The normalised form of one line, or "" when it has fewer than kMinLineBytes non-space bytes.
std::string normalise_line(std::string_view line);

}  // namespace blockattn::data
