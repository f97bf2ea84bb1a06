// The Redis tier end to end, against a real redis-server the test starts: two `blockattn
// generate` processes share blocks through it; an engine keeps answering (recomputing) while
// Redis is down, counts the failure, and uses Redis again once it is back.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "blockattn/engine.h"
#include "redis_server.h"
#include "test_util.h"

namespace blockattn {
namespace {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
};

CliRun run_cli(const std::string& args) {
  const std::string cmd = std::string(BLOCKATTN_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The generated text: stdout comes before the "--" timing block on stderr; log lines (the
// warning about an unreachable Redis, printed at start-up) are not part of it.
std::string answer(const std::string& out) {
  std::string text;
  std::istringstream in(out.substr(0, out.find("\n--\n")));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("warning: ", 0) != 0) text += line + "\n";
  return text;
}

TEST(RedisCli, TwoProcessesShareBlocksThroughRedis) {
  test::RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  test::TempDir dir;
  std::ofstream(dir / "a.txt") << "The Alder archive code is 48213.\n";
  std::ofstream(dir / "b.txt") << "Rivers run to the sea.\n";
  const std::string args = "generate --model " + test::fixture("models/tiny-llama") + " --block " +
                           (dir / "a.txt") + " --block " + (dir / "b.txt") +
                           " --query 'What is the code?' -n 6 --redis " + server.url();
  const std::string tier = "tier redis " + server.url().substr(8);  // "127.0.0.1:PORT/0"
  CliRun first = run_cli(args);
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_TRUE(contains(first.out, "blocks reused 0, computed 2")) << first.out;
  EXPECT_TRUE(contains(first.out, tier)) << first.out;
  EXPECT_TRUE(contains(first.out, "0 hits, 2 misses, 2 puts, 0 put failures")) << first.out;

  CliRun second = run_cli(args);  // a new process: its memory tier is empty
  ASSERT_EQ(second.code, 0) << second.out;
  EXPECT_TRUE(contains(second.out, "blocks reused 2, computed 0")) << second.out;
  EXPECT_TRUE(contains(second.out, "cache: blocks reused from redis 2")) << second.out;
  EXPECT_TRUE(contains(second.out, "2 hits, 0 misses, 0 puts")) << second.out;
  EXPECT_EQ(answer(second.out), answer(first.out));

  // Redis stopped: the request still succeeds (blocks recomputed), with the same answer, and
  // the failure is reported and counted.
  server.stop();
  CliRun down = run_cli(args);
  ASSERT_EQ(down.code, 0) << down.out;
  EXPECT_TRUE(contains(down.out, "blocks reused 0, computed 2")) << down.out;
  EXPECT_TRUE(contains(down.out, "redis cache: 127.0.0.1")) << down.out;  // the warning
  EXPECT_TRUE(contains(down.out, "0 hits, 2 misses, 0 puts, 2 put failures")) << down.out;
  // One failure at start-up (a second one if the run outlasted the 2 s cool-down).
  const size_t e = down.out.find(" errors\n");
  ASSERT_NE(e, std::string::npos) << down.out;
  const size_t num = down.out.rfind(' ', e - 1) + 1;
  EXPECT_GE(std::stoi(down.out.substr(num, e - num)), 1) << down.out;
  EXPECT_EQ(answer(down.out), answer(first.out));
}

TEST(RedisCli, BadRedisOptionsAreOneLineErrors) {
  const std::string model = " --model " + test::fixture("models/tiny-llama") + " --query hi";
  for (const char* option : {"--redis http://h:1", "--redis redis://h:99999", "--redis-ttl -1",
                             "--redis-ttl x", "--redis-timeout-ms 0"}) {
    const std::string bad = option;
    CliRun r = run_cli("generate" + model + " " + bad);
    EXPECT_NE(r.code, 0) << bad;
    EXPECT_TRUE(contains(r.out, bad.substr(0, bad.find(' ')))) << bad << ": " << r.out;
  }
  CliRun help = run_cli("serve --help");
  EXPECT_TRUE(contains(help.out, "--redis")) << help.out;
  EXPECT_TRUE(contains(help.out, "--redis-ttl")) << help.out;
}

// In one process: Redis dies between requests and comes back on the same port.
TEST(RedisEngine, RequestsSucceedWhileRedisIsDownAndItIsUsedAgainAfterARestart) {
  test::RedisServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  EngineConfig c;
  c.model_dir = test::fixture("models/tiny-llama");
  c.device = "cpu";
  c.cache.memory_budget_bytes = 0;  // every block goes to Redis
  c.cache.redis_url = server.url();
  c.cache.redis_cooldown_ms = 1500;
  auto engine = Engine::create(c);
  GenerateRequest req;
  req.blocks = {"The Alder archive code is 48213.\n", "Rivers run to the sea.\n"};
  req.query = "What is the code?";
  req.max_new_tokens = 6;
  auto redis_stats = [&] {
    const CacheStats s = engine->cache_stats();
    EXPECT_EQ(s.tiers.size(), 1u);
    return s.tiers.empty() ? TierCacheStats{} : s.tiers[0];
  };

  const GenerateResult cold = engine->generate(req);
  EXPECT_EQ(cold.timings.blocks_computed, 2);
  engine->flush_cache();  // lower tiers are written behind the request
  const GenerateResult warm = engine->generate(req);
  EXPECT_EQ(warm.timings.blocks_reused, 2);
  for (const BlockReport& b : warm.blocks) EXPECT_EQ(b.tier, "redis");
  EXPECT_EQ(warm.text, cold.text);
  EXPECT_EQ(redis_stats().errors, 0u);

  server.kill9();
  const GenerateResult down = engine->generate(req);
  EXPECT_EQ(down.timings.blocks_computed, 2);
  engine->flush_cache();  // lower tiers are written behind the request
  EXPECT_EQ(down.text, cold.text);
  // The request's two reads run side by side (BlockStore::load_lower_many), so each may fail
  // before the breaker opens; once it is open no further call is made.
  const uint64_t outage_errors = redis_stats().errors;
  EXPECT_GE(outage_errors, 1u);
  EXPECT_LE(outage_errors, 2u);
  EXPECT_TRUE(contains(engine->cache_stats().describe, "down"));

  ASSERT_TRUE(server.start()) << server.error();  // empty: no persistence
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  const GenerateResult refill = engine->generate(req);
  EXPECT_EQ(refill.timings.blocks_computed, 2);
  engine->flush_cache();  // lower tiers are written behind the request
  const GenerateResult again = engine->generate(req);
  EXPECT_EQ(again.timings.blocks_reused, 2);
  EXPECT_EQ(again.text, cold.text);
  EXPECT_EQ(redis_stats().errors, outage_errors);
  EXPECT_TRUE(contains(engine->cache_stats().describe, "up"));
}

}  // namespace
}  // namespace blockattn
