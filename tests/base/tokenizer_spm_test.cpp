// SentencePiece tokenizer.model against python sentencepiece's encode/decode.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "test_util.h"

namespace blockattn {
namespace {

#ifdef BLOCKATTN_HAVE_SENTENCEPIECE

TEST(TokenizerSentencePiece, MatchesPythonReference) {
  auto tok = Tokenizer::from_file(test::fixture("tokenizers/spm/tiny.model"));
  EXPECT_EQ(tok->kind(), "sentencepiece");
  size_t n = 0;
  const auto ref = nlohmann::json::parse(read_file(test::fixture("tokenizers/spm/reference.json")));
  for (const auto& c : ref["cases"]) {
    const std::string text = c["text"];
    const std::vector<int32_t> ids = c["ids"];
    EXPECT_EQ(tok->encode(text), ids) << "case " << n << ": " << nlohmann::json(text).dump();
    EXPECT_EQ(tok->decode(ids), c["decoded"].get<std::string>()) << "case " << n;
    ++n;
  }
  EXPECT_GE(n, 30u);
}

TEST(TokenizerSentencePiece, SpecialTokensAndErrors) {
  test::TempDir dir;
  std::string model = read_file(test::fixture("tokenizers/spm/tiny.model"));
  {
    std::ofstream(dir / "tokenizer.model") << model;
  }
  auto tok = Tokenizer::load(dir.path());
  ASSERT_TRUE(tok->bos_id());
  ASSERT_TRUE(tok->eos_id());
  auto plain = tok->encode("Hello");
  auto with_bos = tok->encode("Hello", true);
  ASSERT_EQ(with_bos.size(), plain.size() + 1);
  EXPECT_EQ(with_bos[0], *tok->bos_id());
  EXPECT_TRUE(tok->is_special(*tok->bos_id()));
  EXPECT_EQ(tok->decode(with_bos, true), "Hello");
  EXPECT_EQ(tok->decode(with_bos, false), tok->id_to_token(*tok->bos_id()) + "Hello");
  EXPECT_EQ(tok->token_to_id(tok->id_to_token(with_bos[1])), with_bos[1]);
  EXPECT_FALSE(tok->token_to_id("no such piece"));
  EXPECT_THROW(tok->id_to_token(tok->vocab_size()), InputError);
  EXPECT_THROW(tok->encode("\xc3"), InputError);

  std::ofstream(dir / "tokenizer.model") << "not a model";
  try {
    Tokenizer::load(dir.path());
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "tokenizer.model"), std::string::npos) << e.what();
  }
}

#else

TEST(TokenizerSentencePiece, UnsupportedWithoutLibrary) {
  EXPECT_THROW(Tokenizer::from_file(test::fixture("tokenizers/spm/tiny.model")), UnsupportedError);
}

#endif

}  // namespace
}  // namespace blockattn
