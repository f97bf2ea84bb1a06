// `blockattn segdata build`: the SemanticSeg-style segmentation dataset, built from the corpus
// of `blockattn corpus build` (DIR/{train,validation,test}.jsonl). Writes
// OUT/{train,validation,test}.jsonl — one instance per line: {"id","category","split","text",
// "boundaries","tokens","sources"} — and OUT/datasheet.{md,json}. docs/segdata.md describes the
// categories, where the gold boundaries come from and the measured figures.
//
// Deterministic: the same corpus and options give byte-identical files. Split by source
// document: an instance only draws on documents of its own split (the corpus's split, unless
// eval_min_fraction moves source files, or trailing parts of a large one, from train to fill
// validation and test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "segdata/dataset_datasheet.h"

namespace blockattn::segment {

struct SegDataOptions {
  std::string corpus_dir;  // holds train.jsonl, validation.jsonl, test.jsonl
  std::string out_dir;     // created if missing
  uint64_t seed = 1;
  size_t min_tokens = 2048, max_tokens = 32768;  // instance length, inclusive

  // Token counting, first that is set wins: count_tokens (tests), tokenizer_path (exact; the
  // default way), approx_bytes_per_token (> 0: ceil(bytes / it), fast but approximate).
  std::function<size_t(std::string_view)> count_tokens;
  std::string tokenizer_path;
  double approx_bytes_per_token = 0;

  // Instances per category per split: 0 = as many as the text supports (each block in at most
  // one instance of its category). When capped, a seeded random subset is kept.
  size_t max_instances_per_category = 0;
  std::map<std::string, size_t> category_caps;  // per category, overrides the above

  // Share of a split's passages that conversation and multi-document each draw on (they reuse
  // text of the other categories, so all of it would double the dataset with repeats).
  double synthetic_fraction = 0.25;
  // > 0: a category with less than this share of its bytes in validation (or test) gets source
  // files (or the trailing parts of a file far larger than needed) moved there from train,
  // chosen by a seeded hash. 0 keeps the corpus's split.
  double eval_min_fraction = 0;

  unsigned threads = 2;                              // token counting
  std::function<void(const std::string&)> progress;  // one-line messages
};

struct SegDataReport {
  SegDataSheet datasheet;          // what datasheet.{md,json} hold
  std::vector<std::string> files;  // written, in order
  size_t instances = 0, boundaries = 0, tokens = 0;
  double seconds = 0;
};

// Throws InputError (corpus directory or a split file missing, no documents, bad options, no
// instance producible), FormatError "path:line: ..." (a malformed corpus line), IoError (the
// output can't be written), and the tokenizer's errors.
SegDataReport build_segdata(const SegDataOptions& opt);

}  // namespace blockattn::segment
