#include "data/token_shard.h"

#include <gtest/gtest.h>

#include <fstream>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "expect_error.h"
#include "test_util.h"

namespace blockattn {
namespace {

using test::TempDir;

const std::string kFpA = "0123456789abcdef0123456789abcdef";
const std::string kFpB = "fedcba9876543210fedcba9876543210";

std::vector<int32_t> doc(int32_t first, int n) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(first + i);
  return ids;
}

using test::error_of;

TEST(TokenShard, RoundTripRollsShardsAndKeepsDocBounds) {
  TempDir tmp;
  TokenShardWriter w(tmp / "s", 1000, kFpA, /*tokens_per_shard=*/10);
  w.add_document(doc(1, 4));
  w.add_document({});  // skipped
  w.add_document(doc(100, 7));  // 11 tokens: rolls after this one
  w.add_document(doc(500, 3));
  auto paths = w.finish();
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(w.total_tokens(), 14u);
  EXPECT_EQ(w.total_docs(), 3u);

  TokenShard s = TokenShard::open(paths[0]);
  EXPECT_EQ(s.num_tokens(), 11u);
  EXPECT_EQ(s.num_docs(), 2u);
  EXPECT_EQ(s.tokens().width, 2u);
  EXPECT_EQ(s.doc_bounds(1), std::make_pair(uint64_t{4}, uint64_t{11}));
  EXPECT_EQ(s.tokens()[4], 100u);
  EXPECT_EQ(s.tokenizer_fingerprint(), kFpA);
  std::vector<int64_t> out(3);
  s.tokens().copy_to(3, 3, out.data());
  EXPECT_EQ(out, (std::vector<int64_t>{4, 100, 101}));
  EXPECT_THROW(s.doc_bounds(2), InputError);

  TokenDataset d = TokenDataset::open(tmp / "s", kFpA);
  EXPECT_EQ(d.shards().size(), 2u);
  EXPECT_EQ(d.num_tokens(), 14u);
  EXPECT_EQ(d.shards()[1].tokens()[2], 502u);
}

TEST(TokenShard, WideVocabularyUsesFourByteTokens) {
  TempDir tmp;
  TokenShardWriter w(tmp / "s", 100000, kFpA);
  w.add_document({70000, 99999, 0});
  auto paths = w.finish();
  TokenShard s = TokenShard::open(paths.at(0));
  EXPECT_EQ(s.tokens().width, 4u);
  EXPECT_EQ(s.tokens()[0], 70000u);
  EXPECT_EQ(s.tokens()[1], 99999u);
  EXPECT_THROW(w.add_document({100000}), InputError);
  EXPECT_THROW(TokenShardWriter(tmp / "t", 65535, kFpA).add_document({65535}), InputError);
}

TEST(TokenShard, CorruptOrTruncatedFilesAreFormatErrorsNamingTheFile) {
  TempDir tmp;
  TokenShardWriter w(tmp / "s", 1000, kFpA);
  w.add_document(doc(1, 20));
  const std::string path = w.finish().at(0);
  const std::string good = read_file(path);

  write_file_atomic(path, good.substr(0, 40));
  EXPECT_NE(error_of<FormatError>([&] { TokenShard::open(path); }).find(path + ": truncated header"),
            std::string::npos);

  std::string flipped = good;
  flipped[20] ^= 1;  // n_tokens
  write_file_atomic(path, flipped);
  EXPECT_NE(error_of<FormatError>([&] { TokenShard::open(path); }).find("checksum"), std::string::npos);

  write_file_atomic(path, good.substr(0, good.size() - 2));
  EXPECT_NE(error_of<FormatError>([&] { TokenShard::open(path); }).find("truncated"), std::string::npos);

  std::string magic = good;
  magic[0] = 'X';
  write_file_atomic(path, magic);
  EXPECT_NE(error_of<FormatError>([&] { TokenShard::open(path); }).find("bad magic"), std::string::npos);
}

TEST(TokenShard, DatasetRejectsOtherTokenizerAndMissingOrEmptyDirs) {
  TempDir tmp;
  {
    TokenShardWriter a(tmp / "s", 1000, kFpA, 5);
    a.add_document(doc(1, 6));
    a.finish();
  }
  EXPECT_EQ(error_of<FormatError>([&] { TokenDataset::open(tmp / "s", kFpB); }),
            "shard " + (tmp / "s/shard-00000.bats") + " was made with tokenizer " + kFpA + ", not " + kFpB);
  EXPECT_NE(error_of<IoError>([&] { TokenDataset::open(tmp / "nope"); }).find("does not exist"), std::string::npos);
  ASSERT_EQ(::mkdir((tmp / "empty").c_str(), 0755), 0);
  EXPECT_NE(error_of<InputError>([&] { TokenDataset::open(tmp / "empty"); }).find("holds no *.bats shards"),
            std::string::npos);
  EXPECT_THROW(fingerprint_bytes("xyz"), FormatError);
  EXPECT_EQ(fingerprint_hex(fingerprint_bytes(kFpB)), kFpB);
}

TEST(TokenShard, BuildsADatasetFromJsonl) {
  TempDir tmp;
  const std::string tok_path = test::fixture("models/tiny-llama/tokenizer.json");
  {
    std::ofstream f(tmp / "docs.jsonl");
    for (int i = 0; i < 10; ++i) f << "{\"id\": " << i << ", \"text\": \"hello world number " << i << "\"}\n";
    f << "\n";
  }
  ShardBuildOptions opts;
  opts.validation_every = 5;
  DatasetInfo info = build_token_dataset(tok_path, {tmp / "docs.jsonl"}, tmp / "out", opts);
  EXPECT_EQ(info.documents, 10u);
  EXPECT_GT(info.validation_tokens, 0u);
  auto tok = Tokenizer::from_file(tok_path);
  TokenDataset train = TokenDataset::open(tmp / "out/train", tok->fingerprint());
  EXPECT_EQ(train.num_tokens(), info.train_tokens);
  EXPECT_EQ(train.shards()[0].num_docs(), 8u);
  DatasetInfo again = DatasetInfo::load(tmp / "out");
  EXPECT_EQ(again.tokenizer_fingerprint, tok->fingerprint());
  EXPECT_EQ(again.tokenizer_file, "tokenizer.json");
  EXPECT_TRUE(file_exists(tmp / "out/tokenizer.json"));
  if (tok->eos_id()) {
    auto [b, e] = train.shards()[0].doc_bounds(0);
    EXPECT_EQ(train.shards()[0].tokens()[e - 1], static_cast<uint32_t>(*tok->eos_id()));
    EXPECT_LT(b, e);
  }

  {
    std::ofstream f(tmp / "bad.jsonl");
    f << "{\"text\": \"ok\"}\n{\"body\": 1}\n";
  }
  EXPECT_NE(error_of<FormatError>([&] { build_token_dataset(tok_path, {tmp / "bad.jsonl"}, tmp / "o2"); })
                .find("bad.jsonl:2"),
            std::string::npos);
}

}  // namespace
}  // namespace blockattn
