#include "checkpoint/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "core/io.h"
#include "expect_error.h"
#include "test_util.h"

namespace blockattn {
namespace {

using test::error_of;

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A hand-crafted file: length prefix (the real length unless overridden), header, data.
std::string craft(const test::TempDir& dir, const std::string& header, size_t data_bytes = 0,
                  std::optional<uint64_t> length = std::nullopt) {
  std::string path = dir / "crafted.safetensors";
  write_file_atomic(path,
                    le64(length.value_or(header.size())) + header + std::string(data_bytes, 'x'));
  return path;
}

TEST(SafetensorsRead, ReferenceFixtures) {
  for (const char* model : {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"}) {
    SCOPED_TRACE(model);
    const std::string path =
        test::fixture(std::string("models/") + model + "/reference.safetensors");
    SafetensorsFile f = SafetensorsFile::open(path);
    EXPECT_EQ(f.path(), path);
    ASSERT_EQ(f.tensors().size(), 3u);
    const TensorInfo& ids = f.at("input_ids");
    EXPECT_EQ(ids.dtype, DType::kI64);
    EXPECT_EQ(ids.shape, (std::vector<int64_t>{73}));
    EXPECT_EQ(f.at("logits").dtype, DType::kF32);
    EXPECT_EQ(f.at("logits").shape, (std::vector<int64_t>{73, 512}));
    EXPECT_EQ(f.at("logits").numel(), 73 * 512);
    EXPECT_EQ(f.at("greedy").shape, (std::vector<int64_t>{12}));
    EXPECT_EQ(f.find("nope"), nullptr);
    EXPECT_EQ(f.header_bytes() % 8, 0u);
    for (size_t i = 1; i < f.tensors().size(); ++i)
      EXPECT_LE(f.tensors()[i - 1].offset + f.tensors()[i - 1].nbytes, f.tensors()[i].offset);
    const TensorInfo& last = f.tensors().back();
    EXPECT_EQ(last.offset + last.nbytes, f.file_size());

    std::vector<int64_t> tokens(73);
    f.read(ids, tokens.data());
    for (int64_t t : tokens) {
      EXPECT_GE(t, 0);
      EXPECT_LT(t, 512);
    }
    std::vector<float> logits(73 * 512);
    f.read(f.at("logits"), logits.data());
    for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  }
}

TEST(SafetensorsRead, MissingTensorAndFile) {
  const std::string path = test::fixture("models/tiny-qwen2/reference.safetensors");
  SafetensorsFile f = SafetensorsFile::open(path);
  std::string msg = error_of<FormatError>([&] { f.at("nope"); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "'nope'");
  msg = error_of<IoError>([] { SafetensorsFile::open("/nonexistent/dir/x.safetensors"); });
  EXPECT_CONTAINS(msg, "/nonexistent/dir/x.safetensors");
}

TEST(SafetensorsRead, MoveKeepsTheFileUsable) {
  SafetensorsFile a =
      SafetensorsFile::open(test::fixture("models/tiny-llama/reference.safetensors"));
  SafetensorsFile b = std::move(a);
  std::vector<int64_t> greedy(12);
  b.read(b.at("greedy"), greedy.data());
  SafetensorsFile c =
      SafetensorsFile::open(test::fixture("models/tiny-qwen3/reference.safetensors"));
  c = std::move(b);
  c.read(c.at("greedy"), greedy.data());
}

struct Sample {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;
};

std::vector<Sample> samples() {
  std::vector<Sample> out = {
      {"f32", DType::kF32, {3, 5}, {}},    {"bf16", DType::kBF16, {7}, {}},
      {"f16", DType::kF16, {2, 2, 3}, {}}, {"i64", DType::kI64, {4}, {}},
      {"i32", DType::kI32, {1, 3}, {}},    {"u8", DType::kU8, {9}, {}},
      {"bool", DType::kBool, {5}, {}},     {"f64", DType::kF64, {2}, {}},
      {"empty", DType::kF32, {0, 3}, {}},  {"scalar", DType::kI16, {}, {}},
  };
  unsigned seed = 1;
  for (Sample& s : out) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    s.bytes.resize(static_cast<size_t>(n) * dtype_size(s.dtype));
    for (auto& b : s.bytes)
      b = static_cast<unsigned char>((seed = seed * 1103515245 + 12345) >> 16);
  }
  return out;
}

TEST(SafetensorsWrite, RoundTripIsBitExact) {
  test::TempDir dir;
  const std::string path = dir / "out.safetensors";
  std::vector<Sample> in = samples();
  SafetensorsWriter w;
  for (size_t i = 0; i < in.size(); ++i) {
    Sample& s = in[i];
    if (i % 2)
      w.add(s.name, s.dtype, s.shape, s.bytes.data(), s.bytes.size());
    else
      w.add_copy(s.name, s.dtype, s.shape, s.bytes.data(), s.bytes.size());
  }
  w.set_metadata("format", "pt");
  w.set_metadata("note", "caf\xc3\xa9 \"quoted\"");
  w.write(path);

  SafetensorsFile f = SafetensorsFile::open(path);
  EXPECT_EQ(f.header_bytes() % 8, 0u);  // padded like Hugging Face does
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "caf\xc3\xa9 \"quoted\"");
  ASSERT_EQ(f.tensors().size(), in.size());
  for (const Sample& s : in) {
    SCOPED_TRACE(s.name);
    const TensorInfo& t = f.at(s.name);
    EXPECT_EQ(t.dtype, s.dtype);
    EXPECT_EQ(t.shape, s.shape);
    EXPECT_EQ(t.nbytes, s.bytes.size());
    EXPECT_EQ(t.offset % dtype_size(s.dtype), 0u) << "tensor data not aligned";
    std::vector<unsigned char> back(s.bytes.size());
    f.read(t, back.data());
    EXPECT_EQ(back, s.bytes);
  }
  EXPECT_EQ(f.at("empty").numel(), 0);
  EXPECT_EQ(f.at("scalar").numel(), 1);
  EXPECT_EQ(f.tensors().back().offset + f.tensors().back().nbytes, f.file_size());
}

TEST(SafetensorsWrite, CopiedBytesOutliveTheCallersBuffer) {
  test::TempDir dir;
  SafetensorsWriter w;
  {
    std::vector<float> tmp = {1.5f, -2.0f};
    w.add_copy("x", DType::kF32, {2}, tmp.data(), 8);
    std::fill(tmp.begin(), tmp.end(), 0.0f);
  }
  for (int i = 0; i < 40; ++i)
    w.add_copy("pad" + std::to_string(i), DType::kU8, {1}, "a", 1);  // reallocates
  w.write(dir / "a.safetensors");
  SafetensorsFile f = SafetensorsFile::open(dir / "a.safetensors");
  float back[2];
  f.read(f.at("x"), back);
  EXPECT_EQ(back[0], 1.5f);
  EXPECT_EQ(back[1], -2.0f);
}

TEST(SafetensorsWrite, EmptyFileAndAtomicReplace) {
  test::TempDir dir;
  const std::string path = dir / "m.safetensors";
  SafetensorsWriter().write(path);
  EXPECT_TRUE(SafetensorsFile::open(path).tensors().empty());

  int32_t v = 42;
  SafetensorsWriter w;
  w.add("v", DType::kI32, {1}, &v, sizeof v);
  w.write(path);  // replaces the existing file
  EXPECT_EQ(SafetensorsFile::open(path).tensors().size(), 1u);
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1u) << "temp file left behind";

  std::string msg = error_of<IoError>([&] { w.write(dir / "no/such/dir/m.safetensors"); });
  EXPECT_CONTAINS(msg, "no/such/dir");
}

TEST(SafetensorsWrite, RejectsBadInput) {
  SafetensorsWriter w;
  float data[6] = {};
  std::string msg = error_of<InputError>([&] { w.add("a", DType::kF32, {2, 3}, data, 20); });
  EXPECT_CONTAINS(msg, "'a'");
  EXPECT_CONTAINS(msg, "24");
  EXPECT_THROW(w.add("neg", DType::kF32, {-1, 3}, data, 0), InputError);
  EXPECT_THROW(w.add("__metadata__", DType::kF32, {1}, data, 4), InputError);
  EXPECT_THROW(w.add("", DType::kF32, {1}, data, 4), InputError);
  EXPECT_THROW(w.add("bad\xff", DType::kF32, {1}, data, 4), InputError);
  w.add("ok", DType::kF32, {6}, data, 24);
  EXPECT_THROW(w.add("ok", DType::kF32, {6}, data, 24), InputError);
  EXPECT_THROW(w.set_metadata("k", "\xc0\xaf"), InputError);
  EXPECT_EQ(w.size(), 1u);
}

// ---------------------------------------------------------------- malformed files

struct BadCase {
  const char* what;
  std::string header;
  size_t data_bytes;
  const char* expect;  // substring of the message besides the path
};

TEST(SafetensorsMalformed, HeaderLength) {
  test::TempDir dir;
  const std::string path = dir / "crafted.safetensors";
  write_file_atomic(path, "\x05\0\0\0");
  std::string msg = error_of<FormatError>([&] { SafetensorsFile::open(path); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "shorter than");

  msg = error_of<FormatError>([&] { SafetensorsFile::open(craft(dir, "", 16, 0)); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "length is 0");

  msg = error_of<FormatError>([&] { SafetensorsFile::open(craft(dir, "{}", 0, 200'000'000)); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "100 MB");

  msg = error_of<FormatError>([&] { SafetensorsFile::open(craft(dir, "{}", 0, 50)); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "beyond the end of the file");

  // The largest u64 must not overflow the bounds check.
  EXPECT_THROW(SafetensorsFile::open(craft(dir, "{}", 0, UINT64_MAX)), FormatError);
}

TEST(SafetensorsMalformed, HeaderEntries) {
  const std::vector<BadCase> cases = {
      {"not json", "{\"a\": {", 0, "not valid JSON"},
      {"not an object", "[1, 2]", 0, "not a JSON object"},
      {"entry not object", R"({"w": 3})", 0, "'w'"},
      {"missing dtype", R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", 4, "missing \"dtype\""},
      {"missing shape", R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", 4,
       "missing \"shape\""},
      {"missing offsets", R"({"w": {"dtype": "F32", "shape": [1]}})", 4,
       "missing \"data_offsets\""},
      {"dtype type", R"({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", 4,
       "\"dtype\""},
      {"shape type", R"({"w": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}})", 4,
       "\"shape\""},
      {"float dim", R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4,
       "\"shape\""},
      {"one offset", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4]}})", 4,
       "data_offsets"},
      {"negative offset", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", 4,
       "data_offsets"},
      {"negative dim", R"({"w": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 0]}})", 0,
       "negative"},
      {"begin > end", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8,
       "begin 8 > end 4"},
      {"beyond data", R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8,
       "beyond the data section"},
      {"size mismatch", R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 24,
       "size mismatch: shape [2, 3] F32 needs 24 bytes, offsets give 20"},
      {"huge shape",
       R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0,
       "too large"},
      {"overlap", R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       12, "overlap"},
      {"duplicate", R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                        "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
       2, "duplicate tensor name 'w'"},
      {"metadata not strings", R"({"__metadata__": {"format": 1}})", 0, "__metadata__"},
  };
  test::TempDir dir;
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path = craft(dir, c.header, c.data_bytes);
    std::string msg = error_of<FormatError>([&] { SafetensorsFile::open(path); });
    EXPECT_CONTAINS(msg, path);
    EXPECT_CONTAINS(msg, c.expect);
    if (c.header.find("\"w\"") != std::string::npos && std::string(c.what) != "duplicate" &&
        std::string(c.what) != "not json") {
      EXPECT_CONTAINS(msg, "'w'");
    }
  }
}

TEST(SafetensorsMalformed, UnknownDtypeNamesTheTensor) {
  test::TempDir dir;
  const std::string path =
      craft(dir, R"({"w": {"dtype": "F8_E9", "shape": [1], "data_offsets": [0, 1]}})", 1);
  std::string msg = error_of<UnsupportedError>([&] { SafetensorsFile::open(path); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "'w'");
  EXPECT_CONTAINS(msg, "F8_E9");
}

TEST(SafetensorsMalformed, EmptyTensorsDoNotOverlap) {
  test::TempDir dir;
  SafetensorsFile f = SafetensorsFile::open(craft(dir, R"({
      "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},
      "z": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}})",
                                                  8));
  EXPECT_EQ(f.tensors().size(), 3u);
}

TEST(SafetensorsMalformed, TruncatedAfterOpenIsAnIoError) {
  test::TempDir dir;
  const std::string path = dir / "t.safetensors";
  std::vector<float> data(1000, 1.0f);
  SafetensorsWriter w;
  w.add("w", DType::kF32, {1000}, data.data(), data.size() * sizeof(float));
  w.write(path);
  SafetensorsFile f = SafetensorsFile::open(path);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(f.file_size() - 100)), 0);
  std::string msg = error_of<IoError>([&] { f.read(f.at("w"), data.data()); });
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "'w'");
}

}  // namespace
}  // namespace blockattn
