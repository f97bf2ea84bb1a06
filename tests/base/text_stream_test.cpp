// TextStream (src/tokenizer/text_stream.h): incremental decoding must give exactly what decoding
// all tokens at once gives (invalid UTF-8 replaced), for every kind of tokenizer we load, and
// must cut stop strings exactly without ever showing text early.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "expect_error.h"
#include "test_util.h"
#include "tokenizer/text_stream.h"

namespace blockattn {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// A Llama-2-style tokenizer.json: SentencePiece-like pieces with byte fallback and the HF decoder
// chain that strips the first leading space of the whole text (start-of-decode behaviour that
// differs from SentencePiece's own).
std::unique_ptr<Tokenizer> llama2_style_tokenizer() {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = static_cast<int>(vocab.size());
  }
  for (const char* piece : {"\xe2\x96\x81", "\xe2\x96\x81the",
                            "\xe2\x96\x81"
                            "a",
                            "\xe2\x96\x81\xe2\x96\x81", "cat", "s", "at", "\xc3\xa9",
                            "\xe2\x96\x81"
                            "caf"})
    vocab[piece] = static_cast<int>(vocab.size());
  nlohmann::json j = {{"model",
                       {{"type", "BPE"},
                        {"vocab", vocab},
                        {"merges", nlohmann::json::array()},
                        {"byte_fallback", true},
                        {"unk_token", "<unk>"}}},
                      {"added_tokens",
                       {{{"id", 1}, {"content", "<s>"}, {"special", true}},
                        {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
                      {"decoder", nlohmann::json::parse(R"({"type": "Sequence", "decoders": [
          {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
          {"type": "ByteFallback"}, {"type": "Fuse"},
          {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})")}};
  test::TempDir dir;
  std::ofstream(dir / "tokenizer.json") << j.dump();
  return Tokenizer::load(dir.path());
}

struct Subject {
  std::string name;
  std::unique_ptr<Tokenizer> tok;
  std::vector<int32_t> byte_token;  // byte -> a token that decodes to exactly that byte (-1: none)
  std::vector<int32_t> special;
};

// Every tokenizer fixture, loaded once (qwen3's takes a moment).
const std::vector<std::unique_ptr<Subject>>& subjects() {
  static const auto all = [] {
    std::vector<std::pair<std::string, std::function<std::unique_ptr<Tokenizer>()>>> load = {
        {"gpt2",
         [] { return Tokenizer::from_file(test::fixture("tokenizers/gpt2/tokenizer.json.zst")); }},
        {"qwen3", [] { return Tokenizer::load(test::fixture("tokenizers/qwen3")); }},
        {"llama2-style", llama2_style_tokenizer},
#ifdef BLOCKATTN_HAVE_SENTENCEPIECE
        {"spm-tiny",
         [] { return Tokenizer::from_file(test::fixture("tokenizers/spm/tiny.model")); }},
        {"blockattn-10m",
         [] {
           return Tokenizer::from_file(test::fixture("../../models/blockattn-10m/tokenizer.model"));
         }},
#endif
    };
    std::vector<std::unique_ptr<Subject>> out;
    for (auto& [name, fn] : load) {
      auto s = std::make_unique<Subject>();
      s->name = name;
      s->tok = fn();
      s->byte_token.assign(256, -1);
      size_t missing = 0;
      for (int b = 0; b < 256; ++b) {
        char piece[8];
        std::snprintf(piece, sizeof piece, "<0x%02X>", b);
        if (auto id = s->tok->token_to_id(piece))
          s->byte_token[b] = *id;
        else
          ++missing;
      }
      for (int32_t id = 0; id < s->tok->vocab_size(); ++id) {
        if (s->tok->is_special(id)) s->special.push_back(id);
        if (missing == 0) continue;
        const std::string text = s->tok->decode({id});  // byte-level BPE: one byte per token
        if (text.size() == 1 && s->byte_token[static_cast<unsigned char>(text[0])] < 0) {
          s->byte_token[static_cast<unsigned char>(text[0])] = id;
          --missing;
        }
      }
      EXPECT_EQ(missing, 0u) << name << ": not every byte has a token";
      out.push_back(std::move(s));
    }
    return out;
  }();
  return all;
}

// The tokens of a random piece of text, or of bytes that are part of a character (possibly
// never completed), or arbitrary ids: what a sampler at a high temperature can produce.
std::vector<int32_t> random_sequence(const Subject& s, std::mt19937& rng, size_t len) {
  static const char* const kPieces[] = {"Hello",
                                        " world",
                                        ",",
                                        " the",
                                        "\n",
                                        "  ",
                                        "   x",
                                        "\xe2\x82\xac",
                                        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                                        "\xf0\x9f\x99\x82",
                                        "na\xc3\xafve",
                                        " caf\xc3\xa9",
                                        "\t",
                                        "x",
                                        " 42",
                                        "STOP",
                                        "'s",
                                        " \xf0\x9f\x98\x80\xf0\x9f\x98\x81"};
  const int32_t vocab = s.tok->vocab_size();
  std::vector<int32_t> ids;
  auto byte = [&](int b) { ids.push_back(s.byte_token[b]); };
  while (ids.size() < len) {
    switch (rng() % 12) {
      case 0:
      case 1:
      case 2:
        ids.push_back(static_cast<int32_t>(rng() % vocab));
        break;
      case 3:  // one arbitrary byte: a lone continuation byte, a lead byte never completed...
        byte(static_cast<int>(rng() % 256));
        break;
      case 4: {  // a whole character byte by byte, sometimes cut short
        const std::string c =
            (rng() % 2) ? "\xe2\x82\xac" : ((rng() % 2) ? "\xf0\x9f\x99\x82" : "\xc3\xa9");
        const size_t n = rng() % 4 == 0 ? 1 + rng() % c.size() : c.size();
        for (size_t i = 0; i < n; ++i) byte(static_cast<unsigned char>(c[i]));
        break;
      }
      case 5:
        if (!s.special.empty()) ids.push_back(s.special[rng() % s.special.size()]);
        break;
      case 6:
        if (rng() % 4 == 0) ids.push_back(rng() % 2 ? -1 : vocab + 3);  // no such token: skipped
        break;
      default: {
        for (int32_t id : s.tok->encode(kPieces[rng() % std::size(kPieces)])) ids.push_back(id);
        break;
      }
    }
  }
  ids.resize(len);
  return ids;
}

std::string decode_prefix(const Tokenizer& tok, const std::vector<int32_t>& ids, size_t n) {
  return tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + n));
}

size_t first_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t cut = std::string::npos;
  for (const auto& s : stops) cut = std::min(cut, text.find(s));
  return cut;
}

// Streams `ids` and checks every promise against decoding prefixes all at once.
void check_stream(const Tokenizer& tok, const std::vector<int32_t>& ids,
                  const std::vector<std::string>& stops) {
  TextStream stream(tok, stops);
  std::string emitted;
  std::string expected;
  bool stopped = false;
  for (size_t i = 0; i < ids.size() && !stopped; ++i) {
    stopped = stream.push(ids[i]);
    ASSERT_EQ(stream.tokens(), i + 1);
    const std::string piece = stream.take_ready();
    ASSERT_EQ(find_invalid_utf8(piece), std::string::npos) << "token " << i;
    emitted += piece;
    // As it stands: the full decoding, less an incomplete character at the end.
    const std::string full = replace_invalid_utf8(decode_prefix(tok, ids, i + 1));
    const size_t cut = first_stop(full, stops);
    if (stopped) {
      ASSERT_NE(cut, std::string::npos)
          << "stop reported at token " << i << " but none in the text";
      expected = full.substr(0, cut);
      ASSERT_EQ(stream.text(), expected) << "token " << i;
    } else {
      ASSERT_EQ(cut, std::string::npos) << "stop string missed at token " << i;
      ASSERT_TRUE(stream.text() == full || stream.text() + kFffd == full)
          << "token " << i << ": " << testing::PrintToString(stream.text()) << " vs "
          << testing::PrintToString(full);
    }
    ASSERT_TRUE(starts_with(stream.text(), emitted)) << "token " << i << ": emitted text changed";
  }
  if (!stopped) expected = replace_invalid_utf8(tok.decode(ids));
  emitted += stream.finish();
  EXPECT_EQ(stream.text(), expected);
  EXPECT_EQ(emitted, expected);
  EXPECT_EQ(stream.finish(), "");
  EXPECT_THROW(stream.push(0), InputError);
}

// A random substring of `text` that is whole characters, has no U+FFFD, and is 1-8 bytes long.
std::string random_stop(const std::string& text, std::mt19937& rng) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.empty()) return "";
  starts.push_back(text.size());
  const size_t a = rng() % (starts.size() - 1);
  size_t b = a + 1 + rng() % 3;
  b = std::min(b, starts.size() - 1);
  std::string s = text.substr(starts[a], starts[b] - starts[a]);
  if (s.size() > 8 || s.find(kFffd) != std::string::npos) return "";
  return s;
}

TEST(TextStream, MatchesFullDecodeOnRandomSequences) {
  for (const auto& s : subjects()) {
    SCOPED_TRACE(s->name);
    std::mt19937 rng(1234);
    for (int seq = 0; seq < 240; ++seq) {
      // Mostly short, some long enough for the decode window to move forward several times.
      const size_t len = seq % 6 == 0 ? 100 + rng() % 200 : 1 + rng() % 60;
      const std::vector<int32_t> ids = random_sequence(*s, rng, len);
      std::string listed;  // all of them (PrintToString stops at 32), to replay a failure
      for (int32_t id : ids) listed += (listed.empty() ? "" : ",") + std::to_string(id);
      SCOPED_TRACE("sequence " + std::to_string(seq) + ": " + listed);
      std::vector<std::string> stops;
      if (seq % 3 == 1) {
        // One that occurs (somewhere, maybe only once later tokens complete it), one that does not.
        const std::string stop = random_stop(replace_invalid_utf8(s->tok->decode(ids)), rng);
        if (!stop.empty()) stops.push_back(stop);
        stops.push_back("\x01never\x02");
      }
      check_stream(*s->tok, ids, stops);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(TextStream, LongRealOutputMatchesFullDecode) {
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "Paragraph " + std::to_string(i) +
            ": the caf\xc3\xa9 sold \xe2\x82\xac"
            "3 coffee \xf0\x9f\x99\x82, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e text, "
            "and   spaces\n\n";
  for (const auto& s : subjects()) {
    SCOPED_TRACE(s->name);
    const std::vector<int32_t> ids = s->tok->encode(text);
    ASSERT_GT(ids.size(), 500u);
    TextStream stream(*s->tok, {});
    std::string emitted;
    for (int32_t id : ids) {
      EXPECT_FALSE(stream.push(id));
      emitted += stream.take_ready();
    }
    emitted += stream.finish();
    EXPECT_EQ(emitted, s->tok->decode(ids));
    EXPECT_EQ(stream.text(), emitted);
    EXPECT_EQ(stream.tokens(), ids.size());
  }
}

// Pushes `ids`, returning what take_ready() gave after each token.
std::vector<std::string> pieces(TextStream& stream, const std::vector<int32_t>& ids,
                                size_t* stop_at = nullptr) {
  std::vector<std::string> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    const bool stop = stream.push(ids[i]);
    out.push_back(stream.take_ready());
    if (stop) {
      if (stop_at) *stop_at = i;
      break;
    }
  }
  return out;
}

const Tokenizer& gpt2() { return *subjects()[0]->tok; }

TEST(TextStream, StopStringSpanningTokensIsCutExactly) {
  const Tokenizer& tok = gpt2();
  const std::vector<int32_t> ids = tok.encode("The quick brown fox jumps over the lazy dog");
  ASSERT_EQ(tok.decode({ids[2]}), " brown");
  ASSERT_EQ(tok.decode({ids[4]}), " jumps");
  TextStream stream(tok, {"n fox ju", "lazy"});
  size_t stop_at = 0;
  const std::vector<std::string> got = pieces(stream, ids, &stop_at);
  EXPECT_EQ(stop_at, 4u);  // the token that completes the stop string
  // "n", then "n fox" may begin the stop string: held back, never shown.
  EXPECT_EQ(got, (std::vector<std::string>{"The", " quick", " brow", "", ""}));
  EXPECT_EQ(stream.text(), "The quick brow");
  EXPECT_TRUE(stream.push(ids[5]));  // ignored after the stop
  EXPECT_EQ(stream.tokens(), 5u);
  EXPECT_EQ(stream.take_ready(), "");
  EXPECT_EQ(stream.finish(), "");
  EXPECT_EQ(stream.text(), "The quick brow");
}

TEST(TextStream, StopStringAtTheVeryStart) {
  const Tokenizer& tok = gpt2();
  const std::vector<int32_t> ids = tok.encode("The end");
  TextStream stream(tok, {"The"});
  EXPECT_TRUE(stream.push(ids[0]));
  EXPECT_EQ(stream.take_ready(), "");
  EXPECT_EQ(stream.text(), "");
  EXPECT_EQ(stream.finish(), "");

  TextStream partial(tok, {"Th"});  // the stop string ends inside the first token
  EXPECT_TRUE(partial.push(ids[0]));
  EXPECT_EQ(partial.text(), "");
}

TEST(TextStream, HoldsBackOnlyWhatMayStartAStopString) {
  const Tokenizer& tok = gpt2();
  TextStream stream(tok, {"</answer>", "\n\nUser:"});
  std::string emitted;
  for (const char* piece :
       {"The answer", " is", " 42", " </", "b", ">", " done", "\n", "\n", "User", "!"}) {
    for (int32_t id : tok.encode(piece)) {
      ASSERT_FALSE(stream.push(id));
      emitted += stream.take_ready();
    }
    // Exactly the longest end of the text that is a proper prefix of a stop string is held.
    const std::string& text = stream.text();
    size_t held = 0;
    for (const std::string stop : {"</answer>", "\n\nUser:"})
      for (size_t k = std::min(text.size(), stop.size() - 1); k > held; --k)
        if (text.compare(text.size() - k, k, stop, 0, k) == 0) held = k;
    EXPECT_EQ(emitted, text.substr(0, text.size() - held))
        << "after " << testing::PrintToString(piece);
  }
  EXPECT_EQ(stream.finish(), "");
  EXPECT_EQ(emitted, "The answer is 42 </b> done\n\nUser!");
}

TEST(TextStream, ReplacesInvalidUtf8WithReplacementCharacter) {
  const Subject& s = *subjects()[0];  // gpt2: byte-level BPE, any byte sequence is possible
  const Tokenizer& tok = *s.tok;
  auto b = [&](int byte) { return s.byte_token[byte]; };
  const int32_t a = *tok.token_to_id("A"), c = *tok.token_to_id("C");
  TextStream stream(tok, {});
  EXPECT_FALSE(stream.push(a));
  EXPECT_EQ(stream.take_ready(), "A");
  stream.push(b(0x80));  // a lone continuation byte can never become a character
  EXPECT_EQ(stream.take_ready(), kFffd);
  stream.push(b(0xE2));  // the start of a 3-byte character: wait
  EXPECT_EQ(stream.take_ready(), "");
  stream.push(b(0x82));
  EXPECT_EQ(stream.take_ready(), "");
  EXPECT_EQ(stream.text(), "A" + kFffd);  // the incomplete character is not shown
  stream.push(c);  // ...and it never completes: one U+FFFD for the truncated sequence
  EXPECT_EQ(stream.take_ready(), kFffd + "C");
  stream.push(b(0xE2));
  stream.push(b(0x82));
  stream.push(b(0xAC));
  EXPECT_EQ(stream.take_ready(), "\xe2\x82\xac");
  stream.push(b(0xF0));
  stream.push(b(0x9F));
  EXPECT_EQ(stream.take_ready(), "");
  EXPECT_EQ(stream.finish(), kFffd);  // truncated at the end
  EXPECT_EQ(stream.text(), "A" + kFffd + kFffd + "C\xe2\x82\xac" + kFffd);
  EXPECT_EQ(tok.decode({a, b(0x80), b(0xE2), b(0x82), c}),
            "A\x80\xe2\x82"
            "C");  // raw bytes
}

TEST(TextStream, ReplaceInvalidUtf8FollowsUnicodePractice) {
  // Expected values are Python's bytes.decode("utf-8", "replace").
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},
      {"plain \xe2\x82\xac \xf0\x9f\x99\x82", "plain \xe2\x82\xac \xf0\x9f\x99\x82"},
      {"\x80", kFffd},
      {"\xe2\x82", kFffd},
      {"\xe2\x82"
       "A",
       kFffd + "A"},
      {"\xed\xa0\x80", kFffd + kFffd + kFffd},  // surrogate
      {"\xf0\x9f\x98", kFffd},
      {"\xc0\xaf", kFffd + kFffd},                          // overlong
      {"\xf4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {"a\xff"
       "b",
       "a" + kFffd + "b"},
      {"\xe0\x80\x80", kFffd + kFffd + kFffd},
      {"\xf0\x9f\x98\x80\xe2", "\xf0\x9f\x98\x80" + kFffd},
      {"\xe2\x82\xe2\x82\xac", kFffd + "\xe2\x82\xac"},
      {"\xf1\x80\x80\xc3\xa9", kFffd + "\xc3\xa9"},
  };
  for (const auto& [in, want] : cases)
    EXPECT_EQ(replace_invalid_utf8(in), want) << testing::PrintToString(in);
}

#ifdef BLOCKATTN_HAVE_SENTENCEPIECE
TEST(TextStream, SentencePieceByteTokensJoinIntoCharacters) {
  auto tok = Tokenizer::from_file(test::fixture("tokenizers/spm/tiny.model"));
  const int32_t e2 = *tok->token_to_id("<0xE2>"), x82 = *tok->token_to_id("<0x82>"),
                xac = *tok->token_to_id("<0xAC>");
  const int32_t w = *tok->token_to_id("\xe2\x96\x81w");
  TextStream stream(*tok, {"\xe2\x82\xac w"});
  stream.push(w);
  EXPECT_EQ(stream.take_ready(), "w");  // the leading space of the first piece is not text
  stream.push(e2);
  stream.push(x82);
  EXPECT_EQ(stream.take_ready(), "");
  EXPECT_EQ(stream.text(), "w" + kFffd + kFffd);  // SentencePiece's reading so far, not final
  stream.push(xac);
  EXPECT_EQ(stream.take_ready(), "");  // "€" may begin the stop string
  EXPECT_EQ(stream.text(), "w\xe2\x82\xac");
  EXPECT_TRUE(stream.push(w));
  EXPECT_EQ(stream.text(), "w");
  EXPECT_EQ(stream.finish(), "");

  // A run cut short by a piece: SentencePiece itself replaces each byte of it.
  TextStream cut(*tok, {});
  for (int32_t id : {w, e2, x82, w}) cut.push(id);
  EXPECT_EQ(cut.finish(), tok->decode({w, e2, x82, w}));
  EXPECT_EQ(cut.text(), "w" + kFffd + kFffd + " w");
}
#endif

TEST(TextStream, RejectsInvalidStopStringsAndPushAfterFinish) {
  EXPECT_CONTAINS(test::error_of<InputError>([] {
                    TextStream(gpt2(), {"ok", "\xc3"});
                  }),
                  "stop string");
  TextStream stream(gpt2(), {"", "x"});  // empty stop strings are ignored
  EXPECT_FALSE(stream.push(*gpt2().token_to_id("A")));
  EXPECT_EQ(stream.finish(), "A");
  EXPECT_THROW(stream.push(0), InputError);
}

}  // namespace
}  // namespace blockattn
