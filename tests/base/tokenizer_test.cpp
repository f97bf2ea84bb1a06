// Tokenizer::load on the committed fixtures: HF reference ids for Qwen3, round trips for the
// tiny models, error reporting and concurrent use.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "expect_error.h"
#include "test_util.h"

namespace blockattn {
namespace {

nlohmann::json reference_cases(const std::string& rel) {
  return nlohmann::json::parse(read_file(test::fixture(rel)))["cases"];
}

// Every case of an HF reference: encode(text, add_special_tokens=true) and
// decode(ids, skip_special_tokens=false). Returns how many cases were checked.
size_t check_hf_reference(const Tokenizer& tok, const nlohmann::json& cases) {
  size_t n = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"];
    const std::vector<int32_t> ids = c["ids"];
    EXPECT_EQ(tok.encode(text, true), ids) << "case " << n << ": " << nlohmann::json(text).dump();
    EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>()) << "case " << n;
    ++n;
  }
  return n;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

using test::error_of;

TEST(TokenizerQwen3, MatchesHfReference) {
  auto tok = Tokenizer::load(test::fixture("tokenizers/qwen3"));
  EXPECT_EQ(tok->kind(), "tokenizer.json (BPE)");
  size_t n = check_hf_reference(*tok, reference_cases("tokenizers/qwen3/reference.json"));
  EXPECT_GE(n, 30u);
}

TEST(TokenizerQwen3, VocabAndSpecialTokens) {
  auto tok = Tokenizer::load(test::fixture("tokenizers/qwen3"));
  EXPECT_EQ(tok->vocab_size(), 151669);
  EXPECT_EQ(tok->token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(tok->token_to_id("Ġthe"), 279);
  EXPECT_EQ(tok->id_to_token(279), "Ġthe");
  EXPECT_EQ(tok->id_to_token(151644), "<|im_start|>");
  EXPECT_FALSE(tok->token_to_id("no such token"));
  EXPECT_THROW(tok->id_to_token(-1), InputError);
  EXPECT_THROW(tok->id_to_token(151669), InputError);
  EXPECT_TRUE(tok->is_special(151643));
  EXPECT_FALSE(tok->is_special(151667));  // <think> is added but not special
  EXPECT_FALSE(tok->is_special(279));
  EXPECT_EQ(tok->eos_id(), 151645);  // tokenizer_config.json: eos_token <|im_end|>
  EXPECT_FALSE(tok->bos_id());       // bos_token null
  EXPECT_EQ(tok->fingerprint().size(), 32u);

  auto ids = tok->encode("<|im_start|>user\nhi<|im_end|><think>");
  EXPECT_EQ(tok->decode(ids, /*skip_special_tokens=*/true), "user\nhi<think>");
}

TEST(TokenizerQwen3, FromFileAndFingerprintIgnoreCompression) {
  test::TempDir dir;
  std::string json = read_file_maybe_zstd(test::fixture("tokenizers/qwen3/tokenizer.json.zst"));
  write(dir / "tokenizer.json", json);
  auto plain = Tokenizer::from_file(dir / "tokenizer.json");
  auto packed = Tokenizer::from_file(test::fixture("tokenizers/qwen3/tokenizer.json.zst"));
  EXPECT_EQ(plain->fingerprint(), packed->fingerprint());
  EXPECT_EQ(plain->encode("Hello world"), (std::vector<int32_t>{9707, 1879}));
  EXPECT_EQ(plain->eos_id(), 151643);  // no tokenizer_config.json here: <|endoftext|>
}

TEST(TokenizerQwen3, EncodesFromTwoThreadsAlike) {
  auto tok = Tokenizer::load(test::fixture("tokenizers/qwen3"));
  std::string text, decoded;  // decoded: NFC, as the normalizer leaves it
  for (const auto& c : reference_cases("tokenizers/qwen3/reference.json")) {
    text += c["text"].get<std::string>();
    decoded += c["decoded"].get<std::string>();
  }
  std::vector<int32_t> a, b;
  std::thread ta([&] {
    for (int i = 0; i < 3; ++i) a = tok->encode(text);
  });
  std::thread tb([&] {
    for (int i = 0; i < 3; ++i) b = tok->encode(text);
  });
  ta.join();
  tb.join();
  EXPECT_EQ(a, b);
  EXPECT_EQ(tok->decode(a), decoded);
}

TEST(TokenizerTinyModels, RoundTrip) {
  const std::vector<std::string> texts = {
      "Hello world",
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 tabs\t\tand\r\nlines\n\n",
      "  leading and trailing  ",
      "<|block_sink|>x<|endoftext|>",
      "",
  };
  for (const char* model : {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"}) {
    auto tok = Tokenizer::load(test::fixture(std::string("models/") + model));
    EXPECT_EQ(tok->vocab_size(), 512) << model;
    for (const auto& t : texts) {
      auto ids = tok->encode(t);
      for (int32_t id : ids) EXPECT_LT(id, 512);
      EXPECT_EQ(tok->decode(ids), t) << model;
    }
    EXPECT_EQ(tok->encode("<|im_start|>"), (std::vector<int32_t>{1})) << model;
    EXPECT_EQ(tok->decode(tok->encode("a<|im_end|>b"), true), "ab") << model;
    EXPECT_EQ(tok->eos_id(), 0) << model;  // <|endoftext|>
  }
}

TEST(TokenizerTinyModels, NormalizesToNfc) {
  auto tok = Tokenizer::load(test::fixture("models/tiny-llama"));
  // "e" + U+0301 COMBINING ACUTE becomes U+00E9 before encoding.
  EXPECT_EQ(tok->encode("cafe\xcc\x81"), tok->encode("caf\xc3\xa9"));
  EXPECT_EQ(tok->decode(tok->encode("cafe\xcc\x81")), "caf\xc3\xa9");
}

TEST(TokenizerErrors, MissingDirectoryOrFiles) {
  std::string msg = error_of<IoError>([] { Tokenizer::load("/nonexistent/blockattn-model"); });
  EXPECT_NE(msg.find("/nonexistent/blockattn-model"), std::string::npos) << msg;
  test::TempDir dir;
  msg = error_of<IoError>([&] { Tokenizer::load(dir.path()); });
  EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
  EXPECT_THROW(Tokenizer::from_file(dir / "tokenizer.json"), IoError);
  EXPECT_THROW(Tokenizer::from_file(dir / "vocab.txt"), UnsupportedError);
}

TEST(TokenizerErrors, UnsupportedModelOrComponent) {
  test::TempDir dir;
  write(dir / "tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  std::string msg = error_of<UnsupportedError>([&] { Tokenizer::load(dir.path()); });
  EXPECT_NE(msg.find("WordPiece"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir / "tokenizer.json"), std::string::npos) << msg;

  write(dir / "tokenizer.json", R"({"normalizer": {"type": "Lowercase"},
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  msg = error_of<UnsupportedError>([&] { Tokenizer::load(dir.path()); });
  EXPECT_NE(msg.find("Lowercase"), std::string::npos) << msg;
}

TEST(TokenizerErrors, MalformedFiles) {
  test::TempDir dir;
  write(dir / "tokenizer.json", "{\"model\": {\"type\": \"BPE\", ");
  std::string msg = error_of<FormatError>([&] { Tokenizer::load(dir.path()); });
  EXPECT_NE(msg.find(dir / "tokenizer.json"), std::string::npos) << msg;

  write(dir / "tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
  msg = error_of<FormatError>([&] { Tokenizer::load(dir.path()); });
  EXPECT_NE(msg.find("merge"), std::string::npos) << msg;

  write(dir / "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  write(dir / "tokenizer_config.json", "{oops");
  msg = error_of<FormatError>([&] { Tokenizer::load(dir.path()); });
  EXPECT_NE(msg.find(dir / "tokenizer_config.json"), std::string::npos) << msg;
}

// Issue 13 item 3: a vocabulary id of 1.5e9 used to size the id table at 1.5e9 strings (~50 GB,
// found by fuzzing); it is now refused, naming the token, before anything is allocated. The
// zstd path refuses a frame that declares more than its input could hold.
TEST(TokenizerErrors, ImplausibleSizesAreRefusedBeforeAllocating) {
  test::TempDir dir;
  write(dir / "tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1500000000}, "merges": []}})");
  std::string msg = error_of<FormatError>([&] { Tokenizer::load(dir.path()); });
  EXPECT_NE(msg.find("\"b\" has id 1500000000"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir / "tokenizer.json"), std::string::npos) << msg;
  // Holes in the id range are still fine (added tokens often sit past the model's vocab).
  write(dir / "tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1000}, "merges": []}})");
  EXPECT_EQ(Tokenizer::load(dir.path())->encode("ab"), (std::vector<int32_t>{0, 1000}));

  test::TempDir zdir;
  std::string frame = {'\x28', '\xb5', '\x2f', '\xfd', '\xe0'};
  const uint64_t huge = 1ull << 40;
  frame.append(reinterpret_cast<const char*>(&huge), 8);
  frame.append({'\x01', '\x00', '\x00'});
  write(zdir / "tokenizer.json.zst", frame);
  msg = error_of<FormatError>([&] { Tokenizer::load(zdir.path()); });
  EXPECT_NE(msg.find("tokenizer.json.zst: zstd frame declares 1099511627776 bytes"),
            std::string::npos)
      << msg;
}

TEST(TokenizerErrors, InvalidUtf8Input) {
  auto tok = Tokenizer::load(test::fixture("models/tiny-llama"));
  EXPECT_THROW(tok->encode("ok\xff"), InputError);
  EXPECT_THROW(tok->encode("\xed\xa0\x80"), InputError);  // surrogate
}

}  // namespace
}  // namespace blockattn
