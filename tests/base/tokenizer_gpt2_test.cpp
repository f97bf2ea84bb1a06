// GPT-2: a tokenizer.json synthesized from OpenAI's encoder.json + vocab.bpe, checked against
// well-known ids; plus the HF reference once tokenizers/gpt2/{tokenizer.json,reference.json}
// are committed.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "test_util.h"

namespace blockattn {
namespace {

// The layout HF's GPT2TokenizerFast saves: ByteLevel pre-tokenizer with GPT-2's regex.
std::string synthesize_gpt2_json() {
  nlohmann::json vocab = nlohmann::json::parse(read_file_maybe_zstd(test::fixture("tokenizers/gpt2/encoder.json.zst")));
  std::istringstream lines(read_file_maybe_zstd(test::fixture("tokenizers/gpt2/vocab.bpe.zst")));
  nlohmann::json merges = nlohmann::json::array();
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line.rfind("#version", 0) != 0) merges.push_back(line);
  nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                               {"use_regex", true}};
  nlohmann::json j = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 50256}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
         {"rstrip", false}, {"normalized", true}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
        {"merges", merges}}},
  };
  return j.dump();
}

TEST(TokenizerGpt2, SynthesizedMatchesKnownIdsAndHfReferenceWhenPresent) {
  test::TempDir dir;
  std::ofstream(dir / "tokenizer.json") << synthesize_gpt2_json();
  auto tok = Tokenizer::load(dir.path());
  size_t checks = 0;
  auto expect_ids = [&](const std::string& text, std::vector<int32_t> ids) {
    EXPECT_EQ(tok->encode(text), ids) << text;
    EXPECT_EQ(tok->decode(ids), text);
    ++checks;
  };
  expect_ids("Hello world", {15496, 995});
  expect_ids(" Hello", {18435});
  expect_ids("<|endoftext|>", {50256});
  expect_ids("Hello world<|endoftext|>", {15496, 995, 50256});
  for (const char* text : {"The quick brown fox jumps over the lazy dog.", "I'm you're he'll IT'S",
                           "  spaces   and\ttabs\n\nnewlines  ", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
                           "def f(x):\n    return x ** 2\n", "1234567890 3.14"}) {
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
    ++checks;
  }
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eos_id(), 50256);
  ASSERT_EQ(checks, 10u);

  // The HF reference, once committed, is checked case by case like Qwen3's.
  std::string ref = test::fixture("tokenizers/gpt2/reference.json");
  std::string json = test::fixture("tokenizers/gpt2/tokenizer.json");
  if (file_exists(ref) && (file_exists(json) || file_exists(json + ".zst"))) {
    auto hf = Tokenizer::from_file(file_exists(json) ? json : json + ".zst");
    size_t n = 0;
    const auto reference = nlohmann::json::parse(read_file(ref));
    for (const auto& c : reference["cases"]) {
      const std::string text = c["text"];
      const std::vector<int32_t> ids = c["ids"];
      EXPECT_EQ(hf->encode(text, true), ids) << "case " << n << ": " << nlohmann::json(text).dump();
      EXPECT_EQ(hf->decode(ids), c["decoded"].get<std::string>()) << "case " << n;
      // The synthesized file must agree with HF's own.
      EXPECT_EQ(tok->encode(text, true), ids) << "synthesized, case " << n;
      ++n;
    }
    EXPECT_GT(n, 0u);
  }
}

}  // namespace
}  // namespace blockattn
