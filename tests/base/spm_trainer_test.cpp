// `blockattn tokenizer train`'s library side: SentencePiece BPE trained through the shim.
#include <gtest/gtest.h>

#include <fstream>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/hash.h"
#include "core/io.h"
#include "data/synthetic_corpus.h"
#include "test_util.h"
#include "tokenizer/spm_trainer.h"

namespace blockattn {
namespace {

#ifdef BLOCKATTN_HAVE_SENTENCEPIECE

const std::string kCorpus = "corpus/jsonl/docs.jsonl";

tok::SpmTrainOptions tiny() {
  tok::SpmTrainOptions o;
  o.vocab_size = 400;  // 263 fixed pieces + ~50 characters + merges
  return o;
}

TEST(SpmTrainTest, DeterministicBytes) {
  auto texts = data::read_jsonl_texts({test::fixture(kCorpus)});
  auto a = tok::train_sentencepiece(texts, tiny());
  auto b = tok::train_sentencepiece(texts, tiny());
  ASSERT_FALSE(a.model.empty());
  EXPECT_EQ(hash128(a.model).hex(), hash128(b.model).hex());
  EXPECT_EQ(a.sentences, b.sentences);
  // The seed feeds only sentencepiece's sampling, which the recipe keeps off.
  auto opts = tiny();
  opts.seed = 7;
  EXPECT_EQ(hash128(tok::train_sentencepiece(texts, opts).model).hex(), hash128(a.model).hex());
}

TEST(SpmTrainTest, SpecialTokensRoundTripAndLoad) {
  test::TempDir dir;
  auto texts = data::read_jsonl_texts({test::fixture(kCorpus)});
  tok::write_spm_tokenizer_dir(dir / "tok", tok::train_sentencepiece(texts, tiny()).model);
  auto t = Tokenizer::load(dir / "tok");
  EXPECT_EQ(t->kind(), "sentencepiece");
  EXPECT_EQ(t->vocab_size(), 400);
  EXPECT_EQ(t->token_to_id("<pad>"), 0);
  EXPECT_EQ(t->token_to_id("<s>"), 1);
  EXPECT_EQ(t->token_to_id("</s>"), 2);
  EXPECT_EQ(t->token_to_id("<unk>"), 3);
  EXPECT_EQ(t->bos_id(), 1);
  EXPECT_EQ(t->eos_id(), 2);
  EXPECT_TRUE(t->is_special(0) && t->is_special(1) && t->is_special(2) && t->is_special(3));
  int32_t expect = 4;
  for (const std::string& s : tok::spm_user_symbols()) {
    ASSERT_EQ(t->token_to_id(s), expect) << s;
    // Written in text, a user-defined piece is one id, wherever it stands.
    EXPECT_EQ(t->encode(s), std::vector<int32_t>{expect}) << s;
    auto ids = t->encode("Hello" + s + "world");
    EXPECT_EQ(std::count(ids.begin(), ids.end(), expect), 1) << s;
    ++expect;
  }
  // add_bos_token is false in tokenizer_config.json.
  EXPECT_EQ(t->encode("river", true), t->encode("river", false));

  // Exact round trips, including what the corpus never showed: newlines, runs of spaces,
  // digits (one piece each), other scripts through byte fallback.
  for (const std::string text :
       {"The river rises in the hills.", "  two  spaces\n\nand lines\n", "code 48213 and 2024",
        "<|im_start|>user\nWhere is the mill?<|im_end|>\n<|im_start|>assistant\n", "Zürich — 東京 🙂"}) {
    auto ids = t->encode(text);
    EXPECT_EQ(t->decode(ids), text);
    for (int32_t id : ids) EXPECT_NE(id, 3) << "unexpected <unk> in " << text;
  }
  auto digits = t->encode("48213");
  EXPECT_EQ(digits.size(), 5u);
}

TEST(SpmTrainTest, Errors) {
  auto texts = data::read_jsonl_texts({test::fixture(kCorpus)});
  auto opts = tiny();
  opts.vocab_size = 100;
  EXPECT_THROW(tok::train_sentencepiece(texts, opts), InputError);
  opts.vocab_size = 1 << 20;
  EXPECT_THROW(tok::train_sentencepiece(texts, opts), InputError);
  // In range, but more pieces than a few KB of text can make.
  opts.vocab_size = 20000;
  EXPECT_THROW(tok::train_sentencepiece(texts, opts), InputError);
  EXPECT_THROW(tok::train_sentencepiece({}, tiny()), InputError);
  EXPECT_THROW(tok::train_sentencepiece({"\n\n", "\r\n"}, tiny()), InputError);
}

#endif  // BLOCKATTN_HAVE_SENTENCEPIECE

TEST(SpmTrainTest, CorpusReaderErrors) {
  test::TempDir dir;
  EXPECT_THROW(data::read_jsonl_texts({dir / "missing.jsonl"}), IoError);
  EXPECT_THROW(data::read_jsonl_texts({dir.path()}), IoError);
  {
    std::ofstream(dir / "bad.jsonl") << "{\"text\": \"ok\"}\n{\"text\": 3}\n";
    std::ofstream(dir / "broken.jsonl") << "{\"text\": \"ok\"\n";
    std::ofstream(dir / "good.jsonl") << "\n{\"id\": 1, \"text\": \"a\"}\n  \n{\"text\": \"\"}\n{\"text\": \"b\\nc\"}\n";
  }
  try {
    data::read_jsonl_texts({dir / "bad.jsonl"});
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(data::read_jsonl_texts({dir / "broken.jsonl"}), FormatError);
  EXPECT_EQ(data::read_jsonl_texts({dir / "good.jsonl"}), (std::vector<std::string>{"a", "b\nc"}));
  EXPECT_EQ(data::split_path_list("a.jsonl,,b.jsonl"), (std::vector<std::string>{"a.jsonl", "b.jsonl"}));
}

}  // namespace
}  // namespace blockattn
