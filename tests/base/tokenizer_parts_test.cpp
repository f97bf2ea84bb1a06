// The tokenizer's building blocks, where HF semantics are easy to get subtly wrong.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "test_util.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/decoder.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/regex.h"

namespace blockattn {
namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

TEST(TokenizerRegex, WhitespaceIsOnigurumas) {
  Ranges m;
  tok::Regex("\\s+").find_all("a\xc2\x85\xe3\x80\x80" "b", m);  // U+0085 NEL, U+3000
  EXPECT_EQ(m, (Ranges{{1, 6}}));
  m.clear();
  tok::Regex("[^\\s\\p{L}]+").find_all("ab\xc2\x85!?", m);
  EXPECT_EQ(m, (Ranges{{4, 6}}));
  m.clear();
  tok::Regex("(?i:'s)|\\S+").find_all("IT'S x", m);
  EXPECT_EQ(m, (Ranges{{0, 4}, {5, 6}}));
  m.clear();
  tok::Regex("a.b", /*literal=*/true).find_all("axb a.b", m);
  EXPECT_EQ(m, (Ranges{{4, 7}}));
  EXPECT_THROW(tok::Regex("(unclosed"), FormatError);
}

std::vector<std::string> pre_tokenize(const nlohmann::json& spec, std::string text) {
  std::vector<std::string> pieces;
  tok::make_pre_tokenizer(spec)->pre_tokenize(text, [&](std::string& p) { pieces.push_back(p); });
  return pieces;
}

TEST(TokenizerPreTokenizer, SplitBehaviors) {
  auto split = [](const char* behavior, bool invert = false) {
    return nlohmann::json{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(pre_tokenize(split("Isolated"), "a-b--c"), (V{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(pre_tokenize(split("Removed"), "a-b--c"), (V{"a", "b", "c"}));
  EXPECT_EQ(pre_tokenize(split("MergedWithPrevious"), "a-b--c"), (V{"a-", "b-", "-", "c"}));
  EXPECT_EQ(pre_tokenize(split("MergedWithNext"), "a-b--c"), (V{"a", "-b", "-", "-c"}));
  EXPECT_EQ(pre_tokenize(split("Contiguous"), "a-b--c"), (V{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(pre_tokenize(split("Removed", true), "a-b--c"), (V{"-", "-", "-"}));
  EXPECT_EQ(pre_tokenize(split("MergedWithNext"), "--a-"), (V{"-", "-a", "-"}));
  EXPECT_EQ(pre_tokenize(split("Contiguous", true), "ab-c"), (V{"ab", "-", "c"}));
  EXPECT_THROW(pre_tokenize(split("Sideways"), "x"), UnsupportedError);
  EXPECT_THROW(pre_tokenize({{"type", "Metaspace"}}, "x"), UnsupportedError);
}

TEST(TokenizerPreTokenizer, ByteLevelPrefixSpaceAndRegex) {
  using V = std::vector<std::string>;
  nlohmann::json bl = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  EXPECT_EQ(pre_tokenize(bl, "Hello world's  x"), (V{"\xc4\xa0Hello", "\xc4\xa0world", "'s", "\xc4\xa0", "\xc4\xa0x"}));
  bl["add_prefix_space"] = false;
  bl["use_regex"] = false;
  EXPECT_EQ(pre_tokenize(bl, "a b\n"), (V{"a\xc4\xa0" "b\xc4\x8a"}));
}

TEST(TokenizerAddedTokens, StripAndSingleWord) {
  tok::AddedToken plain{10, "<m>"}, left{11, "<l>"}, right{12, "<r>"}, word{13, "ab"};
  left.lstrip = true;
  right.rstrip = true;
  word.single_word = true;
  tok::AddedTokenMatcher m({&plain, &left, &right, &word}, {"<m>", "<l>", "<r>", "ab"});
  auto split = [&](std::string_view text) {
    std::vector<tok::TextPiece> out;
    m.split(text, out);
    std::vector<std::pair<std::string, int32_t>> r;
    for (const auto& p : out) r.emplace_back(std::string(text.substr(p.begin, p.end - p.begin)), p.id);
    return r;
  };
  using R = std::vector<std::pair<std::string, int32_t>>;
  EXPECT_EQ(split("x <m> y"), (R{{"x ", -1}, {"<m>", 10}, {" y", -1}}));
  EXPECT_EQ(split("x  <l> y"), (R{{"x", -1}, {"  <l>", 11}, {" y", -1}}));
  EXPECT_EQ(split("x <r>  y"), (R{{"x ", -1}, {"<r>  ", 12}, {"y", -1}}));
  EXPECT_EQ(split("ab cab ab."), (R{{"ab", 13}, {" cab ", -1}, {"ab", 13}, {".", -1}}));
  EXPECT_EQ(split(""), R{});
}

TEST(TokenizerDecoder, LlamaStyleChain) {
  auto d = tok::make_decoder(nlohmann::json::parse(R"({"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})"));
  std::vector<std::string> tokens{"\xe2\x96\x81Hi", "<0xE2>", "<0x82>", "<0xAC>", "\xe2\x96\x81there"};
  d->decode_chain(tokens);
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0], "Hi\xe2\x82\xac there");
  EXPECT_THROW(tok::make_decoder({{"type", "CTC"}}), UnsupportedError);
}

// A small byte-level tokenizer.json (the tiny-llama one) with extra parts spliced in.
std::unique_ptr<Tokenizer> tiny_with(const std::function<void(nlohmann::json&)>& edit, const std::string& config = "") {
  test::TempDir dir;
  auto j = nlohmann::json::parse(read_file(test::fixture("models/tiny-llama/tokenizer.json")));
  edit(j);
  std::ofstream(dir / "tokenizer.json") << j.dump();
  if (!config.empty()) std::ofstream(dir / "tokenizer_config.json") << config;
  return Tokenizer::load(dir.path());
}

TEST(TokenizerPostProcessor, TemplateAddsBosOnlyWhenAsked) {
  auto tok = tiny_with([](nlohmann::json& j) {
    j["post_processor"] = nlohmann::json::parse(R"({"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [], "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}}}]})");
  });
  auto plain = tok->encode("hi there");
  auto with = tok->encode("hi there", true);
  ASSERT_EQ(with.size(), plain.size() + 1);
  EXPECT_EQ(with[0], 1);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->decode(with, true), "hi there");
}

TEST(TokenizerPostProcessor, ConfigBosAndEos) {
  auto tok = tiny_with([](nlohmann::json&) {},
                       R"({"bos_token": {"content": "<|im_start|>"}, "eos_token": "<|im_end|>", "add_bos_token": true})");
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->encode("x", true).front(), 1);
  EXPECT_NE(tok->encode("x", false).front(), 1);
}

TEST(TokenizerBpe, ByteFallbackIgnoreMergesAndPartialDecode) {
  // Character-level vocab with <0xNN> byte tokens, as Llama-2-style BPE files have.
  nlohmann::json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}, {"abab", 4}, {"<0xE2>", 5}, {"<0x82>", 6},
                          {"<0xAC>", 7}, {"ba", 8}};
  nlohmann::json j = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b", {"ab", "ab"}, "b a"}},
                 {"byte_fallback", true}, {"unk_token", "<unk>"}, {"ignore_merges", false}}},
      {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}}}};
  test::TempDir dir;
  std::ofstream(dir / "tokenizer.json") << j.dump();
  auto tok = Tokenizer::load(dir.path());
  EXPECT_EQ(tok->encode("abab"), (std::vector<int32_t>{4}));
  EXPECT_EQ(tok->encode("bab"), (std::vector<int32_t>{2, 3}));  // "a b" outranks "b a"
  EXPECT_EQ(tok->encode("a\xe2\x82\xac"), (std::vector<int32_t>{1, 5, 6, 7}));
  EXPECT_EQ(tok->encode("a\xc3\xa9"), (std::vector<int32_t>{1, 0}));  // no byte tokens for é: unk
  EXPECT_EQ(tok->decode({1, 5, 6, 7}), "a\xe2\x82\xac");
  EXPECT_EQ(tok->decode({1, 5, 6}), "a\xe2\x82");  // half a character: bytes kept as they are
  EXPECT_EQ(tok->decode({1, 999}), "a");           // ids with no token are skipped

  j["model"]["ignore_merges"] = true;
  j["model"]["vocab"]["bab"] = 9;
  std::ofstream(dir / "tokenizer.json") << j.dump();
  EXPECT_EQ(Tokenizer::load(dir.path())->encode("bab"), (std::vector<int32_t>{9}));
}

TEST(TokenizerBpe, ByteLevelDecodeOfPartialCharacter) {
  auto tok = Tokenizer::load(test::fixture("models/tiny-qwen3"));
  std::string euro = "\xe2\x82\xac";
  auto ids = tok->encode(euro + euro);
  std::string joined;
  for (int32_t id : ids) joined += tok->decode({id});  // single tokens may split the character
  EXPECT_EQ(joined, euro + euro);
}

}  // namespace
}  // namespace blockattn
