// Block samples for distillation (src/blockdata/block_samples.h): spans, caps by exact token count,
// packing, the held-out line filter, the JSON line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "blockdata/block_samples.h"
#include "core/io.h"
#include "data/synthetic_corpus.h"
#include "data/synthetic_tasks.h"
#include "expect_error.h"
#include "segment/learned_model.h"
#include "test_util.h"
#include "tokenizer/chat_format.h"

namespace blockattn::data {
namespace {

using test::error_of;

// Sections of a heading and paragraphs of sentences, some lines wrapped: enough structure for
// every candidate type the segmenter knows.
std::string document(uint64_t seed, size_t sections) {
  std::mt19937_64 rng(seed);
  static const char* kWords[] = {"alpha", "beta",  "gamma", "delta", "river",  "stone", "light",
                                 "table", "green", "quick", "order", "paper",  "metal", "cloud",
                                 "north", "value", "field", "sound", "motion", "window"};
  auto word = [&] { return std::string(kWords[rng() % 20]); };
  std::string text;
  for (size_t s = 0; s < sections; ++s) {
    text += std::to_string(s + 1) + ". Section " + word() + " " + word() + "\n\n";
    for (size_t p = 0, np = 1 + rng() % 3; p < np; ++p) {
      for (size_t k = 0, nk = 2 + rng() % 4; k < nk; ++k) {
        std::string sent = "The " + word();
        for (size_t i = 0, n = 4 + rng() % 10; i < n; ++i) sent += " " + word();
        text += sent + (rng() % 3 ? ". " : ".\n");
      }
      text += "\n\n";
    }
  }
  return text;
}

struct Segmenter {
  std::unique_ptr<Tokenizer> tok =
      Tokenizer::from_file(test::fixture("tokenizers/qwen3/tokenizer.json.zst"));
  segment::TokenCounter count = segment::tokenizer_counter(*tok);
  segment::SegmentOptions seg;
  Segmenter() {
    // An untrained learned segmenter scores every line-level candidate 0.5: the learned path,
    // with cuts at every line, merged up to min_block_tokens.
    auto model = std::make_shared<const segment::LearnedSegmenter>(segment::LearnedConfig{});
    seg.method = segment::Method::kLearned;
    seg.scorer = segment::make_learned_scorer(model);
    seg.threshold = 0.5;
  }
};

BlockSampleOptions small_options() {
  BlockSampleOptions o;
  o.max_block_tokens = 64;
  o.min_block_tokens = 8;
  o.sample_tokens = 300;
  return o;
}

// Every property a consumer relies on, for one document's samples.
void expect_valid(const std::string& text, const std::string& id,
                  const std::vector<BlockSample>& samples, const BlockSampleOptions& o,
                  const segment::TokenCounter& count) {
  size_t prev_end = 0;
  for (size_t k = 0; k < samples.size(); ++k) {
    const BlockSample& s = samples[k];
    SCOPED_TRACE(s.id);
    EXPECT_EQ(s.id, id + "#" + std::to_string(k));
    EXPECT_GE(s.blocks.size(), o.min_blocks);
    EXPECT_LE(s.blocks.size(), o.max_blocks);
    std::string joined;
    size_t tokens = 0;
    for (const std::string& b : s.blocks) {
      EXPECT_FALSE(b.empty());
      EXPECT_LE(count(b), o.max_block_tokens);
      joined += b;
      tokens += count(b);
    }
    EXPECT_EQ(joined, text.substr(s.begin, s.end - s.begin));
    EXPECT_EQ(tokens, s.tokens);
    EXPECT_LE(tokens, o.sample_tokens);
    EXPECT_GE(s.begin, prev_end);  // in order, no overlap
    // Greedy packing: a sample followed directly by the next one was full.
    if (k + 1 < samples.size() && samples[k + 1].begin == s.end && s.blocks.size() < o.max_blocks) {
      EXPECT_GT(tokens + count(samples[k + 1].blocks.front()), o.sample_tokens);
    }
    prev_end = s.end;
  }
}

TEST(BlockSamples, SpansCapsAndPacking) {
  Segmenter setup;
  const BlockSampleOptions o = small_options();
  size_t total = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const std::string text = document(seed, 6 + seed * 3);
    const std::string id = "doc" + std::to_string(seed);
    auto samples = make_block_samples(text, id, "manual", setup.seg, setup.count, o);
    EXPECT_GE(samples.size(), 2u) << "a long document gives several samples";
    for (const BlockSample& s : samples) EXPECT_EQ(s.category, "manual");
    expect_valid(text, id, samples, o, setup.count);
    total += samples.size();
  }
  EXPECT_GT(total, 10u);
}

TEST(BlockSamples, MaxBlocksAndOtherSegmenters) {
  Segmenter setup;
  BlockSampleOptions o = small_options();
  o.max_blocks = 3;
  o.min_blocks = 3;
  o.min_block_tokens = 0;
  const std::string text = document(9, 12);
  auto samples = make_block_samples(text, "d", "", setup.seg, setup.count, o);
  ASSERT_FALSE(samples.empty());
  expect_valid(text, "d", samples, o, setup.count);

  segment::SegmentOptions recursive;
  recursive.method = segment::Method::kRecursive;
  recursive.target_tokens = 1000;  // above the cap: the cap wins
  o = small_options();
  samples = make_block_samples(text, "d", "", recursive, setup.count, o);
  ASSERT_FALSE(samples.empty());
  expect_valid(text, "d", samples, o, setup.count);
}

TEST(BlockSamples, SkipsBlocksThatCannotPair) {
  Segmenter setup;
  BlockSampleOptions o = small_options();
  o.sample_tokens = 80;  // two 64-token blocks do not fit together
  const std::string text = document(11, 10);
  auto samples = make_block_samples(text, "d", "", setup.seg, setup.count, o);
  ASSERT_FALSE(samples.empty());
  expect_valid(text, "d", samples, o, setup.count);
  size_t covered = 0;
  for (const BlockSample& s : samples) covered += s.end - s.begin;
  EXPECT_LT(covered, text.size()) << "some blocks could not be part of a sample";
}

TEST(BlockSamples, ShortDocumentsGiveNothing) {
  Segmenter setup;
  const BlockSampleOptions o = small_options();
  EXPECT_TRUE(make_block_samples("", "e", "", setup.seg, setup.count, o).empty());
  EXPECT_TRUE(make_block_samples("One short line.", "s", "", setup.seg, setup.count, o).empty());
}

TEST(BlockSamples, BadOptionsAndText) {
  Segmenter setup;
  BlockSampleOptions o = small_options();
  o.sample_tokens = 15;
  o.max_block_tokens = 10;
  EXPECT_CONTAINS(error_of<InputError>([&] { check_block_sample_options(o); }), "--sample-tokens");
  o = small_options();
  o.min_block_tokens = 100;
  EXPECT_CONTAINS(error_of<InputError>([&] { check_block_sample_options(o); }),
                  "--min-block-tokens");
  o = small_options();
  o.min_blocks = 1;
  EXPECT_CONTAINS(error_of<InputError>([&] { check_block_sample_options(o); }), "min_blocks");
  EXPECT_CONTAINS(error_of<InputError>([&] {
                    make_block_samples("ok \xff bad", "x", "", setup.seg, setup.count,
                                       small_options());
                  }),
                  "invalid UTF-8");
}

TEST(BlockSamples, Deterministic) {
  Segmenter setup;
  const BlockSampleOptions o = small_options();
  const std::string text = document(5, 15);
  auto a = make_block_samples(text, "d", "c", setup.seg, setup.count, o);
  Segmenter other;  // a fresh tokenizer and scorer
  auto b = make_block_samples(text, "d", "c", other.seg, other.count, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(to_json_line(a[i]), to_json_line(b[i]));
}

TEST(BlockSamples, JsonLine) {
  BlockSample s;
  s.id = "doc#3";
  s.category = "man-page";
  s.blocks = {"first\n\n", "é \"quoted\"\tand\nnewline"};
  const std::string line = to_json_line(s);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("id"), "doc#3");
  EXPECT_EQ(j.at("category"), "man-page");
  EXPECT_EQ(j.at("blocks").get<std::vector<std::string>>(), s.blocks);
  EXPECT_EQ(line.substr(0, 6), "{\"id\":") << "keys in the documented order";
}

TEST(BlockSamples, SyntheticItems) {
  const auto docs = read_jsonl_texts({test::fixture("corpus/jsonl/docs.jsonl")});
  SynthOptions so;
  so.task = SynthTask::kTwoFacts;
  so.passages = 4;
  so.passage_tokens = 60;
  SynthGenerator gen(docs, so);
  for (const char* chat : {"chatml", "plain"}) {
    const ChatFormat format = ChatFormat::named(chat);
    const SynthItem item = gen.make(3);
    const BlockSample s = block_sample(item, format);
    EXPECT_EQ(s.id, item.id);
    EXPECT_EQ(s.category, "two-facts");
    ASSERT_EQ(s.blocks.size(), item.passages.size() + 1);
    std::string joined;
    for (const std::string& b : s.blocks) joined += b;
    EXPECT_EQ(joined, item.text(format));
    EXPECT_EQ(s.blocks.back(), format.final_text(item.question) + format.answer_text(item.answer));
    const auto j = nlohmann::json::parse(to_json_line(s));
    EXPECT_EQ(j.at("blocks").back(), s.blocks.back());
  }
  EXPECT_EQ(block_sample(gen.make(3), ChatFormat::named("chatml")).blocks.back().substr(0, 12),
            "<|im_start|>");
}

TEST(BlockSamples, NormaliseLine) {
  const std::string long_line = "  The   quick brown\tfox jumps over the lazy dog again.  \r";
  EXPECT_EQ(normalise_line(long_line), "The quick brown fox jumps over the lazy dog again.");
  EXPECT_EQ(normalise_line("short line with few bytes"), "");
  EXPECT_EQ(normalise_line(std::string(39, 'x')), "");
  EXPECT_EQ(normalise_line(std::string(40, 'x')), std::string(40, 'x'));
  std::string spaced;
  for (int i = 0; i < 39; ++i) spaced += " x";
  EXPECT_EQ(normalise_line(spaced), "") << "77 bytes, 39 of them not spaces";
  EXPECT_EQ(normalise_line(spaced + "\t\ty"), spaced.substr(1) + " y");
}

TEST(BlockSamples, ExclusionDropsSharedDocuments) {
  const std::string l1 = "Evaluation line one is long enough to be counted as content.";
  const std::string l2 = "Evaluation line two also carries more than forty visible bytes.";
  const std::string l3 = "Evaluation line three: the third distinct shared line of text.";
  const std::string l4 = "Evaluation line four closes the held-out document for good.";
  LineExclusion ex;  // 3 shared lines
  EXPECT_FALSE(ex.excluded(l1 + "\n" + l2 + "\n" + l3)) << "nothing held out yet";
  ex.add("Title\n\n" + l1 + "\n" + l2 + "\n}\n" + l3 + "\n" + l4 + "\n");
  ex.add("Another held-out text with a single line that is long enough.");
  EXPECT_EQ(ex.lines(), 5u);

  // Three shared lines, re-wrapped and re-indented: dropped.
  const std::string copy = "Intro of a training doc that is different from the rest.\n  " + l1 +
                           "  \n" + l2 + "\r\n\t" + l3 + "\nTail.";
  EXPECT_EQ(ex.shared_lines(copy), 3u);
  EXPECT_TRUE(ex.excluded(copy));
  // Two shared lines, or one line three times, or only short lines in common: kept.
  EXPECT_FALSE(ex.excluded("Training text.\n" + l1 + "\n" + l4 + "\n"));
  EXPECT_EQ(ex.shared_lines(l2 + "\n" + l2 + "\n" + l2), 1u);
  EXPECT_FALSE(ex.excluded(l2 + "\n" + l2 + "\n" + l2));
  EXPECT_FALSE(ex.excluded("Title\n}\nTitle\n}\n"));
  EXPECT_FALSE(ex.excluded(document(3, 5)));
  // A changed word is another line.
  std::string l1b = l1;
  l1b[0] = 'e';
  EXPECT_FALSE(ex.excluded(l1b + "\n" + l2 + "\n" + l4.substr(0, 30)));

  // A line in 3+ held-out texts is boilerplate (a licence header): it stops counting.
  const std::string header = "// Use of this source code is governed by a BSD-style licence.";
  LineExclusion boiler;
  for (int i = 0; i < 3; ++i)
    boiler.add(header + "\nheld-out text number " + std::to_string(i) + l4.substr(0, 30));
  boiler.add(l1 + "\n" + l2 + "\n" + l3);
  EXPECT_EQ(boiler.boilerplate_lines(), 1u);
  EXPECT_EQ(boiler.shared_lines(header + "\n" + l1 + "\n" + l2), 2u);
  EXPECT_FALSE(boiler.excluded(header + "\n" + l1 + "\n" + l2));
  EXPECT_TRUE(boiler.excluded(header + "\n" + l1 + "\n" + l2 + "\n" + l3));
  LineExclusion every_line(3, 0);  // boilerplate counts too
  for (int i = 0; i < 3; ++i) every_line.add(header + "\n" + l1 + "\n" + l2);
  EXPECT_EQ(every_line.boilerplate_lines(), 0u);
  EXPECT_TRUE(every_line.excluded(header + "\n" + l1 + "\n" + l2));

  LineExclusion one(1);
  one.add(l4);
  EXPECT_TRUE(one.excluded("x\n" + l4));
  EXPECT_FALSE(one.excluded("x\n" + l3));
}

// A JSONL file of documents; every third has no id, one has a numeric id, one is too short.
std::string write_corpus(const test::TempDir& dir, const std::string& name, size_t n,
                         uint64_t first_seed) {
  std::string data;
  for (size_t i = 0; i < n; ++i) {
    nlohmann::ordered_json j;
    if (i == 1)
      j["id"] = 42;
    else if (i % 3 != 0)
      j["id"] = name + "-" + std::to_string(i);
    j["category"] = i % 2 ? "odd" : "even";
    j["text"] = i == 2 ? "Too short for a sample." : document(first_seed + i, 2 + i % 7);
    data += j.dump() + (i % 4 == 0 ? "\n\n" : "\n");  // blank lines are skipped
  }
  write_file_atomic(dir / name, data);
  return dir / name;
}

TEST(BlockData, SameOutputForAnyThreadCount) {
  Segmenter setup;
  test::TempDir dir;
  const std::vector<std::string> inputs = {write_corpus(dir, "a.jsonl", 20, 100),
                                           write_corpus(dir, "b.jsonl", 7, 200)};
  BlockDataOptions o;
  o.samples = small_options();
  LineExclusion ex;
  ex.add(document(105, 2 + 5 % 7));  // a.jsonl's sixth document
  o.exclude = &ex;
  o.threads = 1;
  const BlockDataReport one =
      write_block_samples(inputs, dir / "one.jsonl", setup.seg, setup.count, o);
  o.threads = 3;
  const BlockDataReport three =
      write_block_samples(inputs, dir / "three.jsonl", setup.seg, setup.count, o);
  const std::string out = read_file(dir / "one.jsonl");
  EXPECT_EQ(read_file(dir / "three.jsonl"), out);
  EXPECT_EQ(one.documents, 27u);
  EXPECT_EQ(one.excluded, 1u);
  EXPECT_GT(one.without_sample, 0u);
  EXPECT_GT(one.samples, 10u);
  EXPECT_EQ(three.samples, one.samples);
  EXPECT_EQ(three.tokens, one.tokens);

  size_t lines = 0, blocks = 0;
  std::istringstream in(out);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    blocks += j.at("blocks").size();
    ids.push_back(j.at("id"));
    EXPECT_NE(j.at("id").get<std::string>().find("a.jsonl-5"), 0u) << "excluded";
  }
  EXPECT_EQ(lines, one.samples);
  EXPECT_EQ(blocks, one.blocks);
  EXPECT_EQ(ids.front(), "a.jsonl:1#0") << "no id: file name and line";
  EXPECT_NE(std::find(ids.begin(), ids.end(), "42#0"), ids.end());

  o.max_samples = 5;
  const BlockDataReport five =
      write_block_samples(inputs, dir / "five.jsonl", setup.seg, setup.count, o);
  EXPECT_EQ(five.samples, 5u);
  const std::string head = read_file(dir / "five.jsonl");
  EXPECT_EQ(head, out.substr(0, head.size()));
  EXPECT_EQ(std::count(head.begin(), head.end(), '\n'), 5);
}

TEST(BlockData, ErrorsNameTheLineAndLeaveNoFile) {
  Segmenter setup;
  test::TempDir dir;
  BlockDataOptions o;
  o.samples = small_options();
  o.threads = 2;
  const std::string good = write_corpus(dir, "good.jsonl", 5, 1);
  write_file_atomic(dir / "bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": 3}\nnot json\n");
  auto run = [&](const std::vector<std::string>& in) {
    write_block_samples(in, dir / "out.jsonl", setup.seg, setup.count, o);
  };
  EXPECT_CONTAINS(error_of<FormatError>([&] {
                    run({good, dir / "bad.jsonl"});
                  }),
                  dir / "bad.jsonl:2: expected an object with a string \"text\"");
  write_file_atomic(dir / "nul.jsonl", "{\"text\": \"a\\u0000b\"}\n");
  EXPECT_CONTAINS(error_of<InputError>([&] { run({dir / "nul.jsonl"}); }), dir / "nul.jsonl:1: ");
  EXPECT_CONTAINS(error_of<IoError>([&] { run({good, dir / "missing.jsonl"}); }), "missing.jsonl");
  EXPECT_CONTAINS(error_of<IoError>([&] { run({dir.path()}); }), "is a directory");
  o.samples.sample_tokens = 10;
  EXPECT_CONTAINS(error_of<InputError>([&] { run({good}); }), "--sample-tokens");
  EXPECT_FALSE(file_exists(dir / "out.jsonl"));
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

}  // namespace
}  // namespace blockattn::data
