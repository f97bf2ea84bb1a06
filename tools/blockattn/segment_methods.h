// Options shared by `blockattn segment` and `blockattn segmenter eval`: which method, its
// granularity, and what it needs (tokenizer, embedding model, learned segmenter file).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "segment/segment.h"

namespace blockattn {
class Model;
class Tokenizer;
}  // namespace blockattn

namespace blockattn::cli {

struct MethodArgs {
  std::string method = "learned";
  size_t max_tokens = 512, min_tokens = 0, target_tokens = 0, overlap_tokens = 0;
  double threshold = -1;  // < 0: the method's default
  bool texttiling_lines = false;
  std::string tokenizer = "models/blockattn-10m";  // file or model directory
  std::string model = "models/blockattn-10m";      // semantic: embedding model
  std::string segmenter = "models/blockattn-segmenter/segmenter.safetensors";  // learned
  std::string device = "cpu";
};

void add_method_options(CLI::App* cmd, MethodArgs& a);

struct SegmenterSetup {
  segment::SegmentOptions options;
  segment::TokenCounter count;
  std::string description;  // "recursive, max 512 tokens"
  std::shared_ptr<Tokenizer> tokenizer;
  std::shared_ptr<const Model> model;      // semantic only
  std::shared_ptr<const void> keep_alive;  // whatever the scorer needs
};

// Loads what the method needs. InputError/IoError with the option to fix.
SegmenterSetup make_segmenter(const MethodArgs& a);

// Tokenizer from a file or a model directory.
std::shared_ptr<Tokenizer> load_tokenizer_any(const std::string& path);

}  // namespace blockattn::cli
