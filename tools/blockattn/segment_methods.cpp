#include "segment_methods.h"

#include "option_checks.h"

#include <filesystem>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "embed/semantic_scorer.h"
#include "model/model.h"
#include "segment/learned_model.h"

namespace blockattn::cli {

void add_method_options(CLI::App* cmd, MethodArgs& a) {
  cmd->add_option(
         "--method", a.method,
         "learned | fixed | recursive | sentence | paragraph | texttiling | c99 | semantic")
      ->capture_default_str();
  cmd->add_option("--max-tokens", a.max_tokens, "Hard cap: no block has more tokens")
      ->check(integer_in(1, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--min-tokens", a.min_tokens,
                  "Blocks below this merge into a neighbour (best effort)")
      ->check(integer_in(0, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--target-tokens", a.target_tokens,
                  "fixed/recursive/sentence/paragraph: block size to pack up to (0: --max-tokens)")
      ->check(integer_in(0, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--overlap", a.overlap_tokens, "fixed: tokens shared by consecutive windows")
      ->check(integer_in(0, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--threshold", a.threshold,
                  "learned/semantic/c99: cut where the score is at least this (default: the "
                  "segmenter's tuned threshold; "
                  "semantic 0.95, i.e. the 5% most distant neighbours; c99 0.5, Choi's own "
                  "stopping rule, lower cuts more)")
      ->check(number_in(0, 1));
  cmd->add_flag("--texttiling-lines", a.texttiling_lines,
                "texttiling: snap boundaries to line breaks, not blank lines (for "
                "sentence-per-line text)");
  cmd->add_option("--tokenizer", a.tokenizer,
                  "Tokenizer (file or model directory) that counts tokens")
      ->capture_default_str();
  cmd->add_option("--embed-model", a.model, "semantic: model whose hidden states embed the text")
      ->capture_default_str();
  cmd->add_option("--segmenter", a.segmenter, "learned: the trained segmenter file")
      ->capture_default_str();
  cmd->add_option("--device", a.device, "semantic: cpu | cuda | auto")->capture_default_str();
}

namespace {

// The shipped models' default paths are relative to the repository root; when they do not
// exist from the working directory, look beside the executable and in its parent directories
// (build/blockattn finds models/ from anywhere).
std::string shipped(const std::string& path, const std::string& default_path) {
  if (path != default_path || file_exists(path) || is_directory(path)) return path;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return path;
  for (std::filesystem::path dir = exe.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / path, ec)) return (dir / path).string();
    if (dir == dir.root_path()) break;
  }
  return path;
}

}  // namespace

std::shared_ptr<Tokenizer> load_tokenizer_any(const std::string& given) {
  const std::string path = shipped(given, MethodArgs{}.tokenizer);
  if (is_directory(path)) return Tokenizer::load(path);
  if (!file_exists(path))
    throw IoError("tokenizer " + path + " does not exist (pass --tokenizer FILE|MODEL_DIR)");
  return Tokenizer::from_file(path);
}

SegmenterSetup make_segmenter(const MethodArgs& args) {
  const MethodArgs defaults;
  MethodArgs a = args;
  a.tokenizer = shipped(a.tokenizer, defaults.tokenizer);
  a.model = shipped(a.model, defaults.model);
  a.segmenter = shipped(a.segmenter, defaults.segmenter);
  SegmenterSetup s;
  segment::SegmentOptions& o = s.options;
  o.method = segment::parse_method(a.method);
  o.max_tokens = a.max_tokens;
  o.min_tokens = a.min_tokens;
  o.target_tokens = a.target_tokens;
  o.overlap_tokens = a.overlap_tokens;
  o.texttiling.snap_to_lines = a.texttiling_lines;
  s.tokenizer = load_tokenizer_any(a.tokenizer);
  s.count = segment::tokenizer_counter(*s.tokenizer);
  if (o.method == segment::Method::kSemantic) {
    ModelLoadOptions lo;
    lo.device = a.device;
    s.model = Model::load(a.model, lo);
    std::shared_ptr<const Tokenizer> embed_tok = Tokenizer::load(a.model);
    o.scorer = embed::make_semantic_scorer(s.model, embed_tok);
    o.threshold = a.threshold >= 0 ? a.threshold : 0.95;
  } else if (o.method == segment::Method::kLearned) {
    if (!file_exists(a.segmenter))
      throw IoError("segmenter " + a.segmenter +
                    " does not exist (pass --segmenter FILE, or train one with "
                    "`blockattn segmenter train`)");
    auto model = std::make_shared<const segment::LearnedSegmenter>(
        segment::LearnedSegmenter::load(a.segmenter));
    o.scorer = segment::make_learned_scorer(model);
    o.threshold = a.threshold >= 0 ? a.threshold : model->config().threshold;
    s.keep_alive = model;
  } else if (a.threshold >= 0) {
    o.threshold = a.threshold;
  }
  s.description = a.method + ", max " + std::to_string(a.max_tokens) + " tokens";
  return s;
}

}  // namespace blockattn::cli
