// The blockattn CLI as a user runs it: exit codes, one-line errors, timings, cache reuse.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "cache/kv_blob.h"
#include "core/io.h"
#include "model/lora.h"
#include "test_util.h"

namespace blockattn {
namespace {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
};

CliRun run_cli_raw(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CliRun run_cli(const std::string& args) {
  return run_cli_raw(std::string(BLOCKATTN_CLI_PATH) + " " + args + " 2>&1");
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Cli, HelpOnEveryCommand) {
  CliRun top = run_cli("--help");
  EXPECT_EQ(top.code, 0);
  EXPECT_TRUE(contains(top.out, "generate")) << top.out;
  EXPECT_TRUE(contains(top.out, "info"));
  CliRun gen = run_cli("generate --help");
  EXPECT_EQ(gen.code, 0);
  for (const char* opt :
       {"--model", "--block", "--query", "--query-file", "--mode", "--cache-dir", "--sinks"})
    EXPECT_TRUE(contains(gen.out, opt)) << opt;
  EXPECT_EQ(run_cli("info --help").code, 0);
}

TEST(Cli, InfoDescribesTheModel) {
  CliRun r = run_cli("info --model " + test::fixture("models/tiny-qwen3"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "Qwen3ForCausalLM")) << r.out;
  EXPECT_TRUE(contains(r.out, "4096 tokens"));
  EXPECT_TRUE(contains(r.out, "bfloat16 stored"));
  EXPECT_TRUE(contains(r.out, "tokenizer.json"));
}

TEST(Cli, GenerateReportsTimingsAndReusesTheDiskCache) {
  test::TempDir dir;
  std::ofstream(dir / "a.txt") << "The Alder archive code is 48213.\n";
  std::ofstream(dir / "b.txt") << "Rivers run to the sea.\n";
  const std::string args = "generate --model " + test::fixture("models/tiny-llama") + " --block " +
                           (dir / "a.txt") + " --block " + (dir / "b.txt") +
                           " --query 'What is the code?' -n 4 --cache-dir " + (dir / "cache");
  CliRun cold = run_cli(args);
  ASSERT_EQ(cold.code, 0) << cold.out;
  EXPECT_TRUE(contains(cold.out, "blocks reused 0, computed 2")) << cold.out;
  EXPECT_TRUE(contains(cold.out, "time to first token"));
  EXPECT_TRUE(contains(cold.out, "tokens/s"));
  CliRun warm = run_cli(args);
  ASSERT_EQ(warm.code, 0) << warm.out;
  EXPECT_TRUE(contains(warm.out, "blocks reused 2, computed 0")) << warm.out;
}

// Issue 13, item 1: a bad size option used to become a zero or wrapped budget that evicted the
// whole shared cache directory. Now it is a one-line error and the directory keeps its entries.
TEST(Cli, BadCacheSizesAreRefusedAndKeepTheSharedCache) {
  test::TempDir dir;
  std::ofstream(dir / "a.txt") << "The Alder archive code is 48213.\n";
  const std::string base = "generate --model " + test::fixture("models/tiny-llama") + " --block " +
                           (dir / "a.txt") + " --query 'What is the code?' -n 2 --cache-dir " +
                           (dir / "cache");
  ASSERT_EQ(run_cli(base).code, 0);
  auto entries = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir / "cache"))
      n += e.path().extension() == ".bakv";
    return n;
  };
  ASSERT_EQ(entries(), 1);
  for (const char* bad :
       {"--cache-mb 0", "--cache-mb -1", "--cache-mb nan", "--cache-mb 1e300",
        "--memory-cache-mb -5", "--memory-cache-mb nan", "--cache-mb -1 --no-cache"}) {
    CliRun r = run_cli(base + " " + bad);
    EXPECT_EQ(r.code, 1) << bad << ": " << r.out;
    EXPECT_TRUE(contains(r.out, "must be a number of MiB")) << bad << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << bad << ": " << r.out;
    EXPECT_EQ(entries(), 1) << "after " << bad;
  }
  // The same options of `serve` are checked before anything listens.
  CliRun serve =
      run_cli("serve --model " + test::fixture("models/tiny-llama") + " --cache-mb -1 --port 0");
  EXPECT_EQ(serve.code, 1) << serve.out;
  EXPECT_TRUE(contains(serve.out, "--cache-mb must be a number of MiB")) << serve.out;
}

// Issue 13, item 7: numeric options that used to wrap or fall back silently are one-line errors
// naming the option; item 8: float16 on the CPU is refused before any work.
TEST(Cli, OutOfRangeOptionsAreOneLineErrorsNamingTheOption) {
  test::TempDir dir;
  std::ofstream(dir / "t.txt") << "Some text. More text.\n";
  const std::string model = test::fixture("models/tiny-llama");
  const std::string gen = "generate --model " + model + " --query hi -n 2 ";
  const std::string seg =
      "segment " + (dir / "t.txt") + " --method recursive --tokenizer " + model + " ";
  struct Case {
    std::string args, option;
  };
  for (const Case& c : std::vector<Case>{{seg + "--max-tokens -1", "--max-tokens"},
                                         {seg + "--max-tokens 0", "--max-tokens"},
                                         {seg + "--min-tokens -3", "--min-tokens"},
                                         {seg + "--threshold nan", "--threshold"},
                                         {seg + "--threshold -5", "--threshold"},
                                         {gen + "--seed -1", "--seed"},
                                         {gen + "--sinks -7", "--sinks"},
                                         {gen + "--sinks 65", "--sinks"},
                                         {gen + "--temperature nan", "--temperature"},
                                         {gen + "-n 0", "--max-new-tokens"}}) {
    CliRun r = run_cli(c.args);
    EXPECT_NE(r.code, 0) << c.args << ": " << r.out;
    EXPECT_TRUE(contains(r.out, c.option)) << c.args << ": " << r.out;
    EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 2) << c.args << ": " << r.out;
  }
  CliRun half = run_cli(gen + "--device cpu --dtype float16");
  EXPECT_EQ(half.code, 1) << half.out;
  EXPECT_TRUE(contains(half.out, "float16 needs a CUDA device")) << half.out;
  // The valid edges still work.
  EXPECT_EQ(run_cli(seg + "--max-tokens 1").code, 0);
  EXPECT_EQ(run_cli(gen + "--seed 18446744073709551615 --sinks 0").code, 0);
}

// The README's main command: the shipped default model answers from the example documents, in
// block attention, with blocks it has never seen together.
TEST(Cli, DefaultModelAnswersTheExampleQuestion) {
  const std::string root = test::fixture("../..");
  std::string args = "generate --model " + root + "/models/blockattn-10m -n 12 --no-cache";
  for (const char* doc : {"apt_notes.txt", "walnut_archive.txt", "river_notes.txt", "greet.py"})
    args += " --block " + root + "/examples/docs/" + doc;
  for (const char* mode : {"block", "full"}) {
    CliRun r = run_cli(args + " --mode " + mode +
                       " --query 'What is the access code of the Walnut archive?'");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.substr(0, 6), "48213\n") << mode << ": " << r.out;
  }
}

// One `segdata build` instance of three blocks (two boundaries), for the final-block task.
void write_segdata_instance(const std::string& path) {
  const std::string text =
      "The river runs to the sea past the old mill.\n\nThe mill grinds corn for the town "
      "every day.\n\nThe town sells the corn at the market on the square near the river.";
  const size_t b1 = text.find("The mill"), b2 = text.find("The town");
  std::ofstream(path) << nlohmann::json{{"id", "test/manual/0"},  {"category", "manual"},
                                        {"split", "test"},        {"text", text},
                                        {"boundaries", {b1, b2}}, {"tokens", 40},
                                        {"sources", {"doc"}}}
                             .dump()
                      << "\n";
}

TEST(Cli, EvalScoresRetrievalAndPerplexity) {
  const std::string model = " --model " + test::fixture("models/tiny-llama");
  const std::string corpus = " --corpus " + test::fixture("corpus/jsonl/docs.jsonl");
  test::TempDir dir;
  CliRun qa =
      run_cli("eval" + model + corpus +
              " --n 2 --passages 2 --passage-tokens 24 --mode block --json " + (dir / "qa.json"));
  ASSERT_EQ(qa.code, 0) << qa.out;
  EXPECT_TRUE(contains(qa.out, "task retrieval | mode block | 2 passages")) << qa.out;
  EXPECT_TRUE(contains(qa.out, "exact match")) << qa.out;
  std::ifstream json(dir / "qa.json");
  EXPECT_TRUE(json.good());
  CliRun ppl = run_cli("eval" + model + corpus + " --task perplexity --window 64");
  ASSERT_EQ(ppl.code, 0) << ppl.out;
  EXPECT_TRUE(contains(ppl.out, "| all |")) << ppl.out;

  // Final-block LM on segmentation instances: three blocks, the last scored in both modes.
  write_segdata_instance(dir / "seg.jsonl");
  CliRun fb =
      run_cli("eval" + model + " --task final-block --window 256 --corpus " + (dir / "seg.jsonl"));
  ASSERT_EQ(fb.code, 0) << fb.out;
  EXPECT_TRUE(contains(fb.out, "| manual | 1 | 2.0 |")) << fb.out;
  EXPECT_TRUE(contains(fb.out, "| all | 1 |")) << fb.out;
}

// `blockattn segment`: the JSON lines give back the input exactly, no block is over the cap, also
// for a 200 kB line with no separator; bad input is refused in one line.
TEST(Cli, SegmentRespectsTheCapAndReproducesTheInput) {
  test::TempDir dir;
  std::string text;
  for (int s = 0; s < 12; ++s) {
    text += "Section " + std::to_string(s) + "\n\n";
    for (int p = 0; p < 5; ++p)
      text += "This paragraph talks about topic " + std::to_string(s) + ", sentence " +
              std::to_string(p) + ". It has a second sentence too.\n";
    text += "\n";
  }
  const std::string long_line(200000, 'x');
  const std::string tok = " --tokenizer " + test::fixture("../../models/blockattn-10m");
  for (const std::string& input : {text, long_line}) {
    std::ofstream(dir / "in.txt", std::ios::binary) << input;
    for (const char* method :
         {"learned", "recursive", "fixed", "sentence", "paragraph", "texttiling"}) {
      CliRun r = run_cli("segment " + (dir / "in.txt") + tok + " --max-tokens 40 --method " +
                         method + " -o " + (dir / "out.jsonl"));
      ASSERT_EQ(r.code, 0) << method << ": " << r.out;
      std::ifstream out(dir / "out.jsonl");
      std::string joined;
      for (std::string line; std::getline(out, line);) {
        const auto j = nlohmann::json::parse(line);
        EXPECT_LE(j["tokens"].get<size_t>(), 40u) << method;
        EXPECT_EQ(j["begin"].get<size_t>(), joined.size()) << method;
        joined += j["text"].get<std::string>();
      }
      EXPECT_EQ(joined, input) << method;
    }
  }
  std::ofstream(dir / "empty.txt") << "";
  std::ofstream(dir / "bad.txt", std::ios::binary) << "caf\xc3 au lait";
  std::ofstream(dir / "bin.dat", std::ios::binary) << std::string(
      "\x7f"
      "ELF\0\0\1",
      7);
  for (const std::string& args :
       {"segment " + (dir / "empty.txt") + tok, "segment " + (dir / "bad.txt") + tok,
        "segment " + (dir / "bin.dat") + tok,
        "segment " + (dir / "in.txt") + tok + " --min-tokens 50 --max-tokens 40",
        "segment " + (dir / "in.txt") + tok + " --method magic",
        "segment " + (dir / "in.txt") + tok + " --method learned --segmenter " +
            (dir / "none.safetensors")}) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << "\n" << r.out;
  }
  EXPECT_TRUE(
      contains(run_cli("segment " + (dir / "bad.txt") + tok).out, "invalid UTF-8 at byte 3"));
  CliRun replaced =
      run_cli("segment " + (dir / "bad.txt") + tok + " --invalid-utf8 replace --format text");
  EXPECT_EQ(replaced.code, 0) << replaced.out;
  EXPECT_TRUE(contains(replaced.out, "caf\xef\xbf\xbd au lait")) << replaced.out;
}

// Many documents in one process (a directory, a JSONL stream) give exactly what one run per file
// gives; --blocks N gives N blocks.
TEST(Cli, SegmentManyDocumentsEqualsOneRunPerFile) {
  test::TempDir dir;
  const std::string tok = " --tokenizer " + test::fixture("../../models/blockattn-10m");
  std::filesystem::create_directory(dir / "docs");
  std::vector<std::string> texts;
  for (int d = 0; d < 3; ++d) {
    std::string text;
    for (int s = 0; s < 6 + d; ++s) {
      text += "Part " + std::to_string(s) + " of document " + std::to_string(d) + "\n\n";
      for (int p = 0; p < 4; ++p)
        text += "Sentence " + std::to_string(p) + " says something about part " +
                std::to_string(s) + ".\n";
      text += "\n";
    }
    texts.push_back(text);
    std::ofstream(dir / ("docs/d" + std::to_string(d) + ".txt"), std::ios::binary) << text;
  }
  std::string stream;
  for (size_t d = 0; d < texts.size(); ++d)
    stream += nlohmann::json{{"id", "doc" + std::to_string(d)}, {"text", texts[d]}}.dump() + "\n";
  std::ofstream(dir / "docs.jsonl", std::ios::binary) << stream;
  CliRun many =
      run_cli("segment " + (dir / "docs") + tok + " --max-tokens 60 -o " + (dir / "many.jsonl"));
  ASSERT_EQ(many.code, 0) << many.out;
  CliRun jsonl = run_cli("segment --jsonl-input " + (dir / "docs.jsonl") + tok +
                         " --max-tokens 60 -o " + (dir / "stream.jsonl"));
  ASSERT_EQ(jsonl.code, 0) << jsonl.out;
  std::ifstream many_in(dir / "many.jsonl"), stream_in(dir / "stream.jsonl");
  for (size_t d = 0; d < texts.size(); ++d) {
    std::string a, b;
    ASSERT_TRUE(std::getline(many_in, a));
    ASSERT_TRUE(std::getline(stream_in, b));
    const auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
    EXPECT_EQ(ja["id"].get<std::string>(), dir / ("docs/d" + std::to_string(d) + ".txt"));
    EXPECT_EQ(jb["id"].get<std::string>(), "doc" + std::to_string(d));
    CliRun one = run_cli("segment " + (dir / ("docs/d" + std::to_string(d) + ".txt")) + tok +
                         " --max-tokens 60 -o " + (dir / "one.jsonl"));
    ASSERT_EQ(one.code, 0) << one.out;
    std::ifstream one_in(dir / "one.jsonl");
    nlohmann::json blocks = nlohmann::json::array();
    for (std::string line; std::getline(one_in, line);)
      blocks.push_back(nlohmann::json::parse(line));
    EXPECT_GT(blocks.size(), 1u);
    EXPECT_EQ(ja["blocks"], blocks) << d;
    EXPECT_EQ(jb["blocks"], blocks) << d;
  }
  for (const char* method : {"learned", "c99"}) {
    CliRun four = run_cli("segment " + (dir / "docs/d2.txt") + tok + " --method " + method +
                          " --blocks 4 --max-tokens 100000 -o " + (dir / "four.jsonl"));
    ASSERT_EQ(four.code, 0) << four.out;
    std::ifstream four_in(dir / "four.jsonl");
    size_t n = 0;
    for (std::string line; std::getline(four_in, line);) ++n;
    EXPECT_EQ(n, 4u) << method;
  }
}

TEST(Cli, ErrorsAreOneLineWithNonZeroExit) {
  test::TempDir dir;
  std::ofstream(dir / "empty.txt") << "";
  const std::string model = " --model " + test::fixture("models/tiny-llama");
  const std::string corpus = test::fixture("corpus/jsonl/docs.jsonl");
  for (const std::string& args : {
           std::string("generate --model /nonexistent/model --query hi"),
           "generate" + model + " --block " + (dir / "missing.txt") + " --query hi",
           "generate" + model + " --block " + (dir / "empty.txt") + " --query hi",
           "generate" + model + " --query hi --mode sideways",
           "generate" + model,
           "generate" + model + " --query hi --cache-dir " + (dir / "empty.txt") + "/sub",
           "eval" + model + " --task bogus --corpus " + corpus,
           "eval" + model + " --mode sideways --corpus " + corpus,
           "eval" + model + " --corpus " + (dir / "missing.jsonl"),
           "eval" + model + " --n 0 --corpus " + corpus,
           "eval" + model + " --task perplexity --window 100000 --corpus " + corpus,
           "synth --corpus " + corpus + " --out " + (dir / "s.jsonl") + " --format alpaca",
           "shard --tokenizer " + test::fixture("models/tiny-llama/tokenizer.json") + " --in " +
               (dir / "missing.jsonl") + " --out " + (dir / "data"),
           "shard --tokenizer " + test::fixture("models/tiny-llama/tokenizer.json") + " --in " +
               (dir / "empty.txt") + " --out " + (dir / "data2"),
           "pretrain --config " + (dir / "missing.json") + " --data " + (dir / "data") + " --out " +
               (dir / "run"),
       }) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_FALSE(r.out.empty()) << args;
    EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 2) << args << "\n" << r.out;
  }
}

// ------------------------------------------------------------------ issue 13: reliability

// The CLI run under `ulimit -v` (KiB of address space): an input that used to make it allocate
// gigabytes before failing now fails within this limit. The limit leaves libtorch room to load
// (a normal run passes under it, checked first by each test).
constexpr int kVmLimitKiB = 3 << 20;

CliRun run_cli_limited(const std::string& args) {
  return run_cli_raw("bash -c 'ulimit -v " + std::to_string(kVmLimitKiB) + "; exec " +
                     std::string(BLOCKATTN_CLI_PATH) + " " + args + "' 2>&1");
}

size_t line_count(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

// A copy of a fixture model directory, to corrupt.
std::string copy_model(const test::TempDir& dir, const std::string& name) {
  const std::string to = dir / name;
  std::filesystem::copy(test::fixture("models/" + name), to,
                        std::filesystem::copy_options::recursive);
  return to;
}

// Item 2: a 50 MB block took 217 s and 5.25 GB before "does not fit". Tokenizing now stops once
// the block is over the context, and the error names the block.
TEST(Cli, HugeBlockFailsFastNamingTheBlock) {
  test::TempDir dir;
  std::ofstream(dir / "small.txt") << "The Alder archive code is 48213.\n";
  {
    std::ofstream big(dir / "big.txt");
    const std::string line = "lorem ipsum dolor sit amet, consectetur adipiscing elit\n";
    for (size_t n = 0; n < (50u << 20); n += line.size()) big << line;
  }
  const std::string gen =
      "generate --model " + test::fixture("models/tiny-llama") + " --query 'q' -n 2 ";
  CliRun ok = run_cli_limited(gen + "--block " + (dir / "small.txt"));
  ASSERT_EQ(ok.code, 0) << "the limit is too low for a normal run: " << ok.out;
  const auto t0 = std::chrono::steady_clock::now();
  CliRun r =
      run_cli_limited(gen + "--block " + (dir / "small.txt") + " --block " + (dir / "big.txt"));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(line_count(r.out), 1u) << r.out;
  EXPECT_TRUE(contains(r.out, "does not fit the model's context")) << r.out;
  EXPECT_TRUE(contains(r.out, "block 2 (")) << r.out;
  EXPECT_TRUE(contains(r.out, "tokenizing stopped after its first")) << r.out;
  EXPECT_LT(s, 20.0) << r.out;
}

// Item 3: sizes in model files are checked against each other before anything is allocated for
// them. Each corrupt directory fails with one line naming the file, within the memory limit.
// `adapter init` then `adapter merge`: the merged model keeps the sinks the adapter was trained
// with, so it runs in block mode as the engine serves the adapter; bad input is one line.
TEST(Cli, AdapterMergeWritesAModelWithTheAdaptersSinks) {
  test::TempDir tmp;
  const std::string base = test::fixture("models/tiny-llama");
  CliRun init =
      run_cli("adapter init --model " + base + " --out " + (tmp / "a") + " --rank 2 --b-std 0.05");
  ASSERT_EQ(init.code, 0) << init.out;
  write_lora_block_settings({2, 3, ""}, tmp / "a");
  CliRun merge = run_cli("adapter merge --model " + base + " --adapter " + (tmp / "a") + " --out " +
                         (tmp / "m"));
  ASSERT_EQ(merge.code, 0) << merge.out;
  EXPECT_TRUE(contains(merge.out, "2 block sinks")) << merge.out;
  const auto config = nlohmann::json::parse(read_file(tmp / "m/config.json"));
  EXPECT_EQ(config["blockattn"]["block_sink_tokens"], 2) << config.dump();
  EXPECT_EQ(config["blockattn"]["block_sink_token_id"], 3) << config.dump();
  CliRun info = run_cli("info --model " + (tmp / "m"));
  EXPECT_EQ(info.code, 0) << info.out;
  EXPECT_TRUE(contains(info.out, "block sinks    2")) << info.out;
  CliRun gen = run_cli("generate --model " + (tmp / "m") + " --query hi -n 2");
  EXPECT_EQ(gen.code, 0) << gen.out;
  CliRun bad = run_cli("adapter merge --model " + base + " --adapter " + (tmp / "m") + " --out " +
                       (tmp / "x"));
  EXPECT_NE(bad.code, 0);
  EXPECT_TRUE(contains(bad.out, "adapter_config.json")) << bad.out;
  EXPECT_EQ(std::count(bad.out.begin(), bad.out.end(), '\n'), 1) << bad.out;
}

// `eval --adapter` scores base + adapter as `adapter merge` writes it (weights and trained
// sinks); in --suite an adapter entry is merged into the teacher. Misuse is one line.
TEST(Cli, EvalScoresAnAdapterAsItsMergedModel) {
  test::TempDir tmp;
  const std::string base = test::fixture("models/tiny-llama");
  ASSERT_EQ(
      run_cli("adapter init --model " + base + " --out " + (tmp / "a") + " --rank 2 --b-std 0.05")
          .code,
      0);
  write_lora_block_settings({2, 3, ""}, tmp / "a");
  ASSERT_EQ(run_cli("adapter merge --model " + base + " --adapter " + (tmp / "a") + " --out " +
                    (tmp / "m"))
                .code,
            0);
  write_segdata_instance(tmp / "seg.jsonl");
  auto all_row = [&](const std::string& args) {
    CliRun r =
        run_cli("eval --task final-block --window 256 --corpus " + (tmp / "seg.jsonl") + args);
    EXPECT_EQ(r.code, 0) << r.out;
    const size_t at = r.out.find("| all |");
    return at == std::string::npos ? r.out : r.out.substr(at, r.out.find('\n', at) - at);
  };
  const std::string with_adapter = all_row(" --model " + base + " --adapter " + (tmp / "a"));
  EXPECT_EQ(with_adapter, all_row(" --model " + (tmp / "m")));
  EXPECT_NE(with_adapter, all_row(" --model " + base)) << "the adapter changed nothing";

  const std::string corpus = " --corpus " + test::fixture("corpus/jsonl/docs.jsonl");
  CliRun qa = run_cli("eval --model " + base + " --adapter " + (tmp / "a") + corpus +
                      " --n 2 --passages 2 --passage-tokens 24 --mode block");
  EXPECT_EQ(qa.code, 0) << qa.out;
  EXPECT_TRUE(contains(qa.out, "task retrieval | mode block | 2 passages")) << qa.out;

  const std::string suite = " --suite --n 1 --needle-n 0 --passage-tokens 16 --segdata " +
                            (tmp / "seg.jsonl") + corpus + " --json " + (tmp / "suite.json");
  CliRun s = run_cli("eval" + suite + " --models t=" + base + ",lora=" + (tmp / "a") +
                     ",merged=" + (tmp / "m"));
  ASSERT_EQ(s.code, 0) << s.out;
  const auto rows = nlohmann::json::parse(read_file(tmp / "suite.json"))["rows"];
  ASSERT_EQ(rows.size(), 6u) << rows.dump();
  for (size_t mode = 0; mode < 2; ++mode)
    EXPECT_EQ(rows[2 + mode]["scores"], rows[4 + mode]["scores"]) << rows.dump();
  for (const std::string& bad :
       {"eval" + suite + " --models lora=" + (tmp / "a") + ",t=" + base,
        "eval" + suite + " --models t=" + base + " --adapter " + (tmp / "a")}) {
    CliRun r = run_cli(bad);
    EXPECT_NE(r.code, 0) << bad;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
}

TEST(Cli, CorruptModelSizesFailBeforeAllocating) {
  test::TempDir dir;
  const std::string gen =
      " --query 'q' -n 2 --no-cache --block " + test::fixture("models/tiny-llama/config.json");
  ASSERT_EQ(run_cli_limited("generate --model " + test::fixture("models/tiny-llama") + gen).code,
            0);
  struct Case {
    std::string what, expect;
  };
  std::vector<Case> cases;
  {
    const std::string m = copy_model(dir, "tiny-llama");
    const std::string path = m + "/config.json";
    nlohmann::json j = nlohmann::json::parse(read_file(path));
    j["num_hidden_layers"] = 10000000;
    write_file_atomic(path, j.dump());
    cases.push_back(
        {m, "num_hidden_layers 10000000 but the checkpoint holds tensors for 2 layers"});
  }
  {
    const std::string m = copy_model(dir, "tiny-qwen2");
    const std::string path = m + "/tokenizer.json";
    nlohmann::json j = nlohmann::json::parse(read_file(path));
    j["model"]["vocab"]["zzzz"] = 1500000000;
    write_file_atomic(path, j.dump());
    cases.push_back({m, "has id 1500000000"});
  }
  {
    const std::string m = copy_model(dir, "tiny-qwen3");
    std::filesystem::remove(m + "/tokenizer.json");
    std::string frame = {'\x28', '\xb5', '\x2f', '\xfd', '\xe0'};
    const uint64_t huge = 1ull << 40;
    frame.append(reinterpret_cast<const char*>(&huge), 8);
    frame.append({'\x01', '\x00', '\x00'});
    write_file_atomic(m + "/tokenizer.json.zst", frame);
    cases.push_back({m, "tokenizer.json.zst: zstd frame declares 1099511627776 bytes"});
  }
  for (const Case& c : cases) {
    CliRun r = run_cli_limited("generate --model " + c.what + gen);
    EXPECT_EQ(r.code, 1) << c.what << ": " << r.out;
    EXPECT_EQ(line_count(r.out), 1u) << c.what << ": " << r.out;
    EXPECT_TRUE(contains(r.out, c.expect)) << c.what << ": " << r.out;
    EXPECT_TRUE(contains(r.out, c.what)) << "the message names the model's file: " << r.out;
    EXPECT_FALSE(contains(r.out, "bad_alloc")) << r.out;
  }
}

// Item 8: invalid UTF-8 in the query is reported at its offset in the user's text, and a bad
// block_sink_tokens in config.json as that file's error, not as --sinks.
TEST(Cli, MessagesNameTheUsersInput) {
  test::TempDir dir;
  const std::string gen = "generate --model " + test::fixture("models/tiny-llama") +
                          " -n 2 --block " + test::fixture("models/tiny-llama/config.json");
  CliRun r = run_cli(gen + " --query \"$(printf '\\377 what?')\"");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "query: invalid UTF-8 at byte 0")) << r.out;
  r = run_cli(gen + " --query \"$(printf 'ok \\377')\"");
  EXPECT_TRUE(contains(r.out, "query: invalid UTF-8 at byte 3")) << r.out;

  const std::string m = copy_model(dir, "tiny-llama");
  nlohmann::json j = nlohmann::json::parse(read_file(m + "/config.json"));
  j["blockattn"] = {{"block_sink_tokens", 100}};
  write_file_atomic(m + "/config.json", j.dump());
  r = run_cli("generate --model " + m + " -n 2 --query q --block " + (m + "/config.json"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, m + "/config.json")) << r.out;
  EXPECT_TRUE(contains(r.out, "block_sink_tokens")) << r.out;
  EXPECT_FALSE(contains(r.out, "--sinks")) << r.out;
}

// Crash safety: `blockattn generate` killed with SIGKILL at random moments (>= 20 times) while it
// writes a shared disk cache; afterwards every entry file is a valid entry under its own name
// (or absent) and a run from that cache answers exactly as a cache-free run.
TEST(Cli, KillNineDuringCacheWritesLosesOnlyWhatWasInFlight) {
  test::TempDir dir;
  const std::string cache = dir / "cache";
  // Round r uses 12 blocks of its own (so every round writes new entries, and the 1 MiB budget
  // makes later rounds evict); the final check uses round 0's.
  auto args_for = [&](int round) {
    std::string args =
        "generate --model " + test::fixture("models/tiny-llama") + " --query 'Which room?' -n 4";
    for (int i = 0; i < 12; ++i) {
      const std::string b = dir / ("r" + std::to_string(round) + "b" + std::to_string(i) + ".txt");
      std::ofstream(b) << "Block " << i << " of round " << round << ": the archive in room "
                       << 100 + i * 7 << " holds " << i * 13 + round << " maps of the river.\n";
      args += " --block " + b;
    }
    return args;
  };
  auto spawn = [&](const std::string& args) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      const std::string cmd = "exec " + std::string(BLOCKATTN_CLI_PATH) + " " + args +
                              " --cache-dir " + cache + " --cache-mb 1 >/dev/null 2>&1";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  };
  // How long one uncached run takes here, to kill within it.
  const auto t0 = std::chrono::steady_clock::now();
  pid_t probe = spawn(args_for(100));
  ASSERT_GT(probe, 0);
  int st = 0;
  ASSERT_EQ(::waitpid(probe, &st, 0), probe);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
  const int run_us = static_cast<int>(
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  std::mt19937 rng(7);
  int kills = 0;
  for (int round = 0; round < 24; ++round) {
    pid_t pid = spawn(args_for(round));
    ASSERT_GT(pid, 0);
    ::usleep(std::uniform_int_distribution<int>(run_us / 10, run_us * 9 / 10)(rng));
    ::kill(pid, SIGKILL);
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) ++kills;
  }
  const std::string args = args_for(0);
  EXPECT_GE(kills, 20) << "runs ended before the kill; raise the delays";
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".bakv") continue;
    const std::string bytes = read_file(e.path().string());
    ASSERT_GE(bytes.size(), kKVEntryHeaderSize) << name;
    Hash128 h{};
    std::memcpy(&h.lo, bytes.data() + 16, 8);
    std::memcpy(&h.hi, bytes.data() + 24, 8);
    const BlockKey key{h};
    EXPECT_EQ(name, key.hex() + ".bakv");
    EXPECT_NO_THROW(decode_entry(bytes, key)) << name;
    ++entries;
  }
  CliRun cached = run_cli(args + " --cache-dir " + cache + " --cache-mb 1");
  CliRun fresh = run_cli(args + " --no-cache");
  ASSERT_EQ(cached.code, 0) << cached.out;
  ASSERT_EQ(fresh.code, 0) << fresh.out;
  // The answer (stdout) comes before the timings; nothing else (no cache warning) may precede.
  EXPECT_EQ(cached.out.substr(0, cached.out.find("--\nmode")),
            fresh.out.substr(0, fresh.out.find("--\nmode")));
  std::printf("[          ] %d kills, %d valid entries left\n", kills, entries);
}

}  // namespace
}  // namespace blockattn
