// Segmentation throughput on one core, per method: MB/s of input text.
//   bench_segment [--tokenizer FILE] [--segmenter FILE] [--mb 8] [--max-tokens 512] [FILES...]
// Without FILES the text is plain files from /usr/share/doc and /usr/share/common-licenses
// (invalid UTF-8 replaced, binary files skipped), repeated up to --mb megabytes. Without
// --tokenizer blocks are measured in whitespace-separated words.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "segment/learned_model.h"
#include "segment/segment.h"
#include "segment/span_estimate.h"
#include "segment/text_check.h"

namespace seg = blockattn::segment;

static std::string collect_text(const std::vector<std::string>& files, size_t want) {
  std::vector<std::string> paths = files;
  if (paths.empty()) {
    for (const char* root : {"/usr/share/doc", "/usr/share/common-licenses"}) {
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
           it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        auto ext = it->path().extension().string();
        if (it->is_regular_file(ec) && ext != ".gz" && ext != ".xz" && ext != ".bz2" &&
            it->file_size(ec) < (4u << 20))
          paths.push_back(it->path().string());
      }
    }
  }
  std::string text;
  for (size_t round = 0; text.size() < want && round < 1000; ++round) {
    size_t before = text.size();
    for (const std::string& p : paths) {
      std::string body;
      try {
        body = blockattn::read_file(p);
      } catch (const std::exception&) {
        continue;
      }
      if (body.find('\0') != std::string::npos) continue;
      text += seg::replace_invalid_utf8(body);
      text += "\n\n";
      if (text.size() >= want) break;
    }
    if (text.size() == before) break;
  }
  return text;
}

int main(int argc, char** argv) {
  CLI::App app{"Segmentation throughput per method on one core"};
  std::string tokenizer_path;
  double mb = 8;
  size_t max_tokens = 512;
  std::vector<std::string> files;
  std::string segmenter_path;
  app.add_option("--tokenizer", tokenizer_path, "tokenizer.json / tokenizer.model to count with");
  app.add_option("--segmenter", segmenter_path, "also time the learned segmenter in this file");
  app.add_option("--mb", mb, "megabytes of text")->capture_default_str();
  app.add_option("--max-tokens", max_tokens)->capture_default_str();
  app.add_option("files", files, "text files (default: /usr/share/doc)");
  CLI11_PARSE(app, argc, argv);
  try {
    std::string text = collect_text(files, static_cast<size_t>(mb * 1e6));
    if (text.empty()) throw blockattn::InputError("no text found");
    std::unique_ptr<blockattn::Tokenizer> tok;
    seg::TokenCounter count = seg::word_counter();
    if (!tokenizer_path.empty()) {
      tok = blockattn::Tokenizer::from_file(tokenizer_path);
      count = seg::tokenizer_counter(*tok);
    }
    std::printf("text %.2f MB, counter %s, max_tokens %zu\n", text.size() / 1e6,
                tok ? tokenizer_path.c_str() : "words", max_tokens);
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    size_t calls = 0;
    seg::TokenCounter counted = [&](std::string_view s) {
      ++calls;
      return count(s);
    };
    size_t whole = count(text);
    double count_s = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("%-11s %8.2f MB/s  (one count of the whole text: %zu tokens)\n", "count-only",
                text.size() / 1e6 / count_s, whole);
    auto t1 = clock::now();
    auto candidates = seg::find_candidates(text);
    double cand_s = std::chrono::duration<double>(clock::now() - t1).count();
    seg::SpanEstimate estimate(text, candidates, count);
    double est_s = std::chrono::duration<double>(clock::now() - t1).count() - cand_s;
    std::printf("%-11s %8.2f MB/s  %zu candidates\n", "candidates", text.size() / 1e6 / cand_s,
                candidates.size());
    std::printf("%-11s %8.2f MB/s  sum of atom counts / exact count = %.3f\n", "estimate",
                text.size() / 1e6 / est_s,
                static_cast<double>(estimate.tokens(0, candidates.size() + 1)) / whole);
    std::shared_ptr<const seg::LearnedSegmenter> learned;
    std::vector<const char*> methods = {"fixed",     "recursive",  "sentence",
                                        "paragraph", "texttiling", "c99"};
    if (!segmenter_path.empty()) {
      learned = std::make_shared<const seg::LearnedSegmenter>(
          seg::LearnedSegmenter::load(segmenter_path));
      methods.push_back("learned");
      auto t = clock::now();
      auto scores = learned->score(text, candidates);
      std::printf("%-11s %8.2f MB/s  scoring %zu candidates (features + MLP, no token counts)\n",
                  "learned-score",
                  text.size() / 1e6 / std::chrono::duration<double>(clock::now() - t).count(),
                  scores.size());
    }
    for (const char* name : methods) {
      seg::SegmentOptions o;
      o.method = seg::parse_method(name);
      if (learned && o.method == seg::Method::kLearned) {  // a scorer would stand in for c99's
        o.scorer = seg::make_learned_scorer(learned);
        o.threshold = learned->config().threshold;
      }
      o.max_tokens = max_tokens;
      o.min_tokens = max_tokens / 8;
      calls = 0;
      auto t = clock::now();
      auto blocks = seg::segment(text, o, counted);
      double s = std::chrono::duration<double>(clock::now() - t).count();
      size_t tokens = 0;
      for (const auto& b : blocks) tokens += b.tokens;
      std::printf("%-11s %8.2f MB/s  %7zu blocks, mean %.0f tokens, %zu counter calls\n", name,
                  text.size() / 1e6 / s, blocks.size(),
                  blocks.empty() ? 0.0 : static_cast<double>(tokens) / blocks.size(), calls);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
