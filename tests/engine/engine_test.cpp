// The engine end to end: cache reuse across requests, processes and positions; bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "blockattn/engine.h"
#include "blockattn/error.h"
#include "cache/kv_blob.h"
#include "core/io.h"
#include "engine_test_util.h"

namespace blockattn {
namespace {

const std::vector<std::string> kBlocks = {
    "The Alder archive is kept in the north tower. Its access code is 48213.\n",
    "def greet(name):\n    return 'Hello, ' + name\n",
    "Rivers carry water from the hills to the sea, and cities grow along them.\n",
};

EngineConfig config_for(const std::string& arch, const std::string& cache_dir = "") {
  EngineConfig c;
  c.model_dir = test::model_fixture(arch);
  c.device = "cpu";
  c.cache.disk_dir = cache_dir;
  return c;
}

GenerateRequest request(std::vector<std::string> blocks, int max_new = 16) {
  GenerateRequest r;
  r.blocks = std::move(blocks);
  r.query = "What is the access code of the Alder archive?";
  r.max_new_tokens = max_new;
  return r;
}

TEST(Engine, WarmRunReusesBlocksAndGivesSameTokens) {
  auto engine = Engine::create(config_for("llama"));
  GenerateResult cold = engine->generate(request(kBlocks));
  EXPECT_EQ(cold.timings.blocks_computed, 3);
  EXPECT_EQ(cold.timings.blocks_reused, 0);
  GenerateResult warm = engine->generate(request(kBlocks));
  EXPECT_EQ(warm.timings.blocks_computed, 0);
  EXPECT_EQ(warm.timings.blocks_reused, 3);
  EXPECT_EQ(warm.tokens, cold.tokens);
  EXPECT_EQ(warm.text, cold.text);
  EXPECT_FALSE(cold.tokens.empty());
}

TEST(Engine, ReorderedBlocksReuseTheirEntries) {
  auto engine = Engine::create(config_for("qwen3"));
  engine->generate(request(kBlocks));
  GenerateResult r = engine->generate(request({kBlocks[2], kBlocks[0], kBlocks[1]}));
  EXPECT_EQ(r.timings.blocks_reused, 3);
  EXPECT_EQ(r.timings.blocks_computed, 0);
  // Same as computing the reordered prompt from scratch.
  GenerateRequest fresh = request({kBlocks[2], kBlocks[0], kBlocks[1]});
  fresh.use_cache = false;
  EXPECT_EQ(engine->generate(fresh).tokens, r.tokens);
}

TEST(Engine, DiskTierServesAFreshEngine) {
  test::TempDir dir;
  std::vector<int32_t> first;
  {
    auto engine = Engine::create(config_for("qwen2", dir.path()));
    first = engine->generate(request(kBlocks)).tokens;
  }
  auto engine = Engine::create(config_for("qwen2", dir.path()));
  GenerateResult r = engine->generate(request(kBlocks));
  EXPECT_EQ(r.timings.blocks_reused, 3);
  EXPECT_EQ(r.tokens, first);
}

TEST(Engine, CorruptDiskEntryIsDroppedAndRecomputed) {
  test::TempDir dir;
  std::vector<int32_t> first;
  {
    auto engine = Engine::create(config_for("mistral", dir.path()));
    first = engine->generate(request({kBlocks[0]})).tokens;
  }
  // Damage every entry file in the middle of its payload.
  int damaged = 0;
  FILE* ls = ::popen(("ls " + dir.path() + "/*.bakv").c_str(), "r");
  char path[4096];
  while (std::fgets(path, sizeof path, ls)) {
    std::string p(path);
    p.pop_back();
    std::string bytes = read_file(p);
    bytes[bytes.size() - 9] ^= 0x5a;
    std::ofstream(p, std::ios::binary) << bytes;
    ++damaged;
  }
  ::pclose(ls);
  ASSERT_EQ(damaged, 1);
  auto engine = Engine::create(config_for("mistral", dir.path()));
  GenerateResult r = engine->generate(request({kBlocks[0]}));
  EXPECT_EQ(r.timings.blocks_computed, 1);
  EXPECT_EQ(r.tokens, first);
  EXPECT_EQ(engine->cache_stats().corrupt_dropped, 1u);
}

// Issue 13 item 4: an entry under the right key, with valid checksums but another n_kv_head,
// n_layer, n_tok or dtype, used to be copied (broadcast) into the prompt and change the answer.
// Each is now dropped, recomputed, counted, and overwritten by the right entry.
TEST(Engine, EntryOfTheWrongShapeIsDroppedAndRecomputed) {
  test::TempDir dir;
  GenerateRequest no_cache = request({kBlocks[0]});
  no_cache.use_cache = false;
  const std::vector<int32_t> expected =
      Engine::create(config_for("llama"))->generate(no_cache).tokens;
  std::string path;
  KVBlob good;
  BlockKey key;
  {
    auto engine = Engine::create(config_for("llama", dir.path()));
    ASSERT_EQ(engine->generate(request({kBlocks[0]})).tokens, expected);
    engine->flush_cache();  // the disk write is queued behind the request (write-behind)
    path = dir / (engine->block_key(kBlocks[0]) + ".bakv");
    const std::string bytes = read_file(path);
    std::memcpy(&key.h.lo, bytes.data() + 16, 8);
    std::memcpy(&key.h.hi, bytes.data() + 24, 8);
    good = decode_entry(bytes, key);
  }
  for (int variant = 0; variant < 5; ++variant) {
    KVBlob bad = good;
    KVShape& sh = bad.shape;
    if (variant == 0) sh.n_kv_head += 1;
    if (variant == 1) sh.n_layer += 1;
    if (variant == 2) sh.n_tok -= 1;
    if (variant == 3) sh.n_tok += 3;
    if (variant == 4) sh.dtype = sh.dtype == DType::kF32 ? DType::kBF16 : DType::kF32;
    bad.payload.assign(2 * sh.tensor_bytes(), '\x01');
    write_file_atomic(path, encode_entry(key, bad));
    auto engine = Engine::create(config_for("llama", dir.path()));
    GenerateResult r = engine->generate(request({kBlocks[0]}));
    EXPECT_EQ(r.tokens, expected) << "variant " << variant;
    EXPECT_EQ(r.timings.blocks_computed, 1) << "variant " << variant;
    EXPECT_EQ(engine->cache_stats().corrupt_dropped, 1u) << "variant " << variant;
    engine->flush_cache();  // the recomputed entry is written behind the request
    EXPECT_EQ(decode_entry(read_file(path), key), good)
        << "variant " << variant << ": not repaired";
  }
}

TEST(Engine, TwoProcessesShareOneCacheDirectory) {
  test::TempDir dir;
  std::vector<pid_t> kids;
  for (int i = 0; i < 2; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      try {
        auto engine = Engine::create(config_for("llama", dir.path()));
        for (int round = 0; round < 3; ++round) engine->generate(request(kBlocks, 2));
        engine.reset();  // _exit skips destructors: write what the write-behind queue holds
        ::_exit(0);
      } catch (...) {
        ::_exit(1);
      }
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto engine = Engine::create(config_for("llama", dir.path()));
  GenerateResult r = engine->generate(request(kBlocks, 2));
  EXPECT_EQ(r.timings.blocks_reused, 3);
  EXPECT_EQ(engine->cache_stats().corrupt_dropped, 0u);
}

TEST(Engine, SinkSettingNeverSharesEntries) {
  test::TempDir dir;
  EngineConfig c = config_for("llama", dir.path());
  Engine::create(c)->generate(request(kBlocks, 1));
  c.sink_tokens = 2;
  auto engine = Engine::create(c);
  GenerateResult r = engine->generate(request(kBlocks, 1));
  EXPECT_EQ(r.timings.blocks_computed, 3);
  EXPECT_EQ(engine->info().sink_tokens, 2);
}

TEST(Engine, FullModeMatchesBlockModeForOneBlock) {
  auto engine = Engine::create(config_for("qwen3"));
  GenerateRequest r = request({kBlocks[0]});
  GenerateResult block = engine->generate(r);
  r.mode = AttentionMode::kFull;
  EXPECT_EQ(engine->generate(r).tokens, block.tokens);
}

TEST(Engine, SeededSamplingIsReproducible) {
  auto engine = Engine::create(config_for("llama"));
  GenerateRequest r = request(kBlocks, 12);
  r.sampling = {0.9f, 40, 0.95f, 1234};
  auto a = engine->generate(r).tokens;
  EXPECT_EQ(engine->generate(r).tokens, a);
  r.sampling.seed = 99;
  r.max_new_tokens = 40;
  EXPECT_NE(engine->generate(r).tokens, a);
}

TEST(Engine, StopStringEndsGeneration) {
  auto engine = Engine::create(config_for("llama"));
  GenerateRequest r = request(kBlocks, 30);
  GenerateResult full = engine->generate(r);
  ASSERT_GE(full.text.size(), 4u);
  r.stop = {full.text.substr(2, 2)};
  GenerateResult cut = engine->generate(r);
  EXPECT_EQ(cut.finish_reason, "stop");
  EXPECT_EQ(cut.text, full.text.substr(0, full.text.find(r.stop[0])));
}

// ---- bad input: clear exceptions, engine stays usable

TEST(EngineErrors, BadRequests) {
  auto engine = Engine::create(config_for("llama"));
  EXPECT_THROW(engine->generate(request({""})), InputError);
  EXPECT_THROW(engine->generate(request({"ok", "bad \xff utf8"})), InputError);
  GenerateRequest no_query = request(kBlocks);
  no_query.query.clear();
  EXPECT_THROW(engine->generate(no_query), InputError);
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "lorem ipsum dolor ";
  try {
    engine->generate(request({huge}));
    FAIL() << "prompt longer than the context accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(engine->generate(request(kBlocks, 2)).tokens.empty());  // still usable
}

// Issue 13 item 2, the block API (Engine::encode_block, POST /v1/blocks): a 50 MB block is
// refused after tokenizing a small prefix, not the whole text.
TEST(EngineErrors, HugeBlockIsRefusedAfterASmallPrefix) {
  auto engine = Engine::create(config_for("llama"));
  std::string huge;
  while (huge.size() < (50u << 20)) huge += "lorem ipsum dolor sit amet, consectetur adipiscing\n";
  const auto t0 = std::chrono::steady_clock::now();
  try {
    engine->encode_block(huge);
    FAIL() << "a 50 MB block was accepted";
  } catch (const ContextLengthError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizing stopped after its first"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  EXPECT_FALSE(engine->encode_block(kBlocks[0]).key.empty());  // still usable
}

TEST(EngineErrors, BadModelDirectories) {
  test::TempDir dir;
  EXPECT_THROW(Engine::create(config_for("missing-arch")), IoError);
  // A copy of the fixture we can damage.
  auto copy = [&](const std::string& name) {
    std::string d = dir / name;
    EXPECT_EQ(std::system(("cp -r " + test::model_fixture("qwen2") + " " + d).c_str()), 0);
    return d;
  };
  EngineConfig c = config_for("qwen2");
  c.model_dir = copy("truncated");
  {
    std::string w = read_file(c.model_dir + "/model.safetensors");
    std::ofstream(c.model_dir + "/model.safetensors", std::ios::binary)
        << w.substr(0, w.size() / 2);
  }
  EXPECT_THROW(Engine::create(c), FormatError);

  c.model_dir = copy("arch");
  {
    std::string cfg = read_file(c.model_dir + "/config.json");
    cfg.replace(cfg.find("\"qwen2\""), 7, "\"gpt_neox\"");
    std::ofstream(c.model_dir + "/config.json") << cfg;
  }
  EXPECT_THROW(Engine::create(c), UnsupportedError);

  c.model_dir = copy("tok");
  std::ofstream(c.model_dir + "/tokenizer.json")
      << R"({"model": {"type": "WordPiece", "vocab": {}}})";
  EXPECT_THROW(Engine::create(c), UnsupportedError);

  c.model_dir = copy("notok");
  std::remove((c.model_dir + "/tokenizer.json").c_str());
  EXPECT_THROW(Engine::create(c), IoError);

  c.model_dir = copy("noweights");
  std::remove((c.model_dir + "/model.safetensors").c_str());
  EXPECT_THROW(Engine::create(c), IoError);
}

TEST(EngineErrors, UnusableCacheDirectory) {
  test::TempDir dir;
  std::ofstream(dir / "file") << "x";
  try {
    Engine::create(config_for("llama", dir / "file/cache"));
    FAIL() << "cache dir below a regular file accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("file/cache"), std::string::npos) << e.what();
  }
}

TEST(EngineErrors, CacheTooSmallStillAnswers) {
  test::TempDir dir;
  EngineConfig c = config_for("llama", dir.path());
  c.cache.disk_budget_bytes = 100;  // smaller than any entry: nothing can be stored
  c.cache.memory_budget_bytes = 0;
  auto engine = Engine::create(c);
  auto a = engine->generate(request(kBlocks, 4));
  auto b = engine->generate(request(kBlocks, 4));
  EXPECT_EQ(b.timings.blocks_computed, 3);
  EXPECT_EQ(a.tokens, b.tokens);
}

}  // namespace
}  // namespace blockattn
