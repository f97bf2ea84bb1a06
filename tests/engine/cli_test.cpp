// The blockattn CLI as a user runs it: exit codes, one-line errors, timings, cache reuse.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <fstream>

#include "test_util.h"

namespace blockattn {
namespace {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
};

CliRun run_cli(const std::string& args) {
  std::string cmd = std::string(BLOCKATTN_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Cli, HelpOnEveryCommand) {
  CliRun top = run_cli("--help");
  EXPECT_EQ(top.code, 0);
  EXPECT_TRUE(contains(top.out, "generate")) << top.out;
  EXPECT_TRUE(contains(top.out, "info"));
  CliRun gen = run_cli("generate --help");
  EXPECT_EQ(gen.code, 0);
  for (const char* opt : {"--model", "--block", "--query", "--query-file", "--mode", "--cache-dir", "--sinks"})
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
  const std::string args = "generate --model " + test::fixture("models/tiny-llama") + " --block " + (dir / "a.txt") +
                           " --block " + (dir / "b.txt") + " --query 'What is the code?' -n 4 --cache-dir " +
                           (dir / "cache");
  CliRun cold = run_cli(args);
  ASSERT_EQ(cold.code, 0) << cold.out;
  EXPECT_TRUE(contains(cold.out, "blocks reused 0, computed 2")) << cold.out;
  EXPECT_TRUE(contains(cold.out, "time to first token"));
  EXPECT_TRUE(contains(cold.out, "tokens/s"));
  CliRun warm = run_cli(args);
  ASSERT_EQ(warm.code, 0) << warm.out;
  EXPECT_TRUE(contains(warm.out, "blocks reused 2, computed 0")) << warm.out;
}

TEST(Cli, ErrorsAreOneLineWithNonZeroExit) {
  test::TempDir dir;
  std::ofstream(dir / "empty.txt") << "";
  const std::string model = " --model " + test::fixture("models/tiny-llama");
  for (const std::string& args : {
           std::string("generate --model /nonexistent/model --query hi"),
           "generate" + model + " --block " + (dir / "missing.txt") + " --query hi",
           "generate" + model + " --block " + (dir / "empty.txt") + " --query hi",
           "generate" + model + " --query hi --mode sideways",
           "generate" + model,
           "generate" + model + " --query hi --cache-dir " + (dir / "empty.txt") + "/sub",
       }) {
    CliRun r = run_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_FALSE(r.out.empty()) << args;
    EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 2) << args << "\n" << r.out;
  }
}

}  // namespace
}  // namespace blockattn
