// The OpenAI request parser (torch-free, so it also runs under ASan/UBSan): what it accepts and
// the status, type, param and code of what it refuses.
#include <gtest/gtest.h>

#include "serve/api_error.h"
#include "serve/openai_request.h"

namespace blockattn::serve {
namespace {

CompletionRequest chat(const std::string& body) {
  return parse_completion_request(body, true, RequestLimits{});
}

ApiError refusal(const std::string& body, bool is_chat = true, RequestLimits limits = {}) {
  try {
    parse_completion_request(body, is_chat, limits);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "", "");
}

const std::string kUser = R"("messages": [{"role": "user", "content": "Hi?"}])";

TEST(OpenAiRequest, ParsesAChatRequestWithBlocks) {
  CompletionRequest r =
      chat(R"({"model": "m", )" + kUser + R"(, "max_tokens": 7, "temperature": 0.5,
      "top_p": 0.9, "top_k": 40, "seed": 3, "stop": ["\n", "END"], "stream": true,
      "stream_options": {"include_usage": true}, "blocks": [{"text": "doc a"}, {"id": "blk_0123456789abcdef0123456789ABCDEF"}],
      "attention": "full", "segment": {"max_tokens": 64}, "logprobs": true, "top_logprobs": 2, "user": "u1",
      "some_unknown_field": {"ignored": true}})");
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.generate.messages.size(), 1u);
  EXPECT_EQ(r.generate.messages[0].role, "user");
  EXPECT_EQ(r.generate.messages[0].content, "Hi?");
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.generate.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.generate.sampling.top_p, 0.9f);
  EXPECT_EQ(r.generate.sampling.top_k, 40);
  EXPECT_EQ(r.generate.sampling.seed, 3u);
  EXPECT_EQ(r.generate.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  ASSERT_EQ(r.blocks.size(), 2u);
  EXPECT_EQ(r.blocks[0].text, "doc a");
  EXPECT_EQ(r.blocks[1].id, "blk_0123456789abcdef0123456789ABCDEF");
  EXPECT_EQ(r.generate.mode, AttentionMode::kFull);
  EXPECT_EQ(r.segment_max_tokens, 64u);
  EXPECT_EQ(r.logprobs, 2);
  EXPECT_EQ(r.generate.top_logprobs, 2);
}

TEST(OpenAiRequest, ContentPartsAndCompletionPrompts) {
  CompletionRequest r = chat(R"({"messages": [{"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]})");
  ASSERT_EQ(r.generate.messages.size(), 2u);
  EXPECT_EQ(r.generate.messages[0].role, "system");
  EXPECT_EQ(r.generate.messages[1].content, "ab");
  CompletionRequest c =
      parse_completion_request(R"({"prompt": ["Once upon"], "logprobs": 3})", false, {});
  EXPECT_EQ(c.generate.query, "Once upon");
  EXPECT_FALSE(c.generate.chat_template);
  EXPECT_EQ(c.logprobs, 3);
  EXPECT_FALSE(c.max_tokens.has_value());
}

TEST(OpenAiRequest, RefusesEachBadFieldNamingIt) {
  struct Case {
    std::string body, param, code;
  };
  const std::vector<Case> cases = {
      {"{", "", "invalid_json"},
      {"[1, 2]", "", "invalid_json"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 1e999})", "",
       "invalid_json"},
      {"{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\"}]}", "", "invalid_json"},
      {R"({"messages": "hi"})", "messages", "invalid_type"},
      {R"({"messages": []})", "messages", "empty_messages"},
      {R"({"messages": [{"role": "assistant", "content": "x"}]})", "messages", "empty_messages"},
      {R"({"messages": [{"role": "robot", "content": "x"}]})", "messages[0].role", "invalid_value"},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content", "missing_field"},
      {"{" + kUser + R"(, "temperature": -0.1})", "temperature", "invalid_value"},
      {"{" + kUser + R"(, "temperature": "hot"})", "temperature", "invalid_type"},
      {"{" + kUser + R"(, "top_p": 0})", "top_p", "invalid_value"},
      {"{" + kUser + R"(, "top_p": 1.5})", "top_p", "invalid_value"},
      {"{" + kUser + R"(, "top_k": -1})", "top_k", "invalid_value"},
      {"{" + kUser + R"(, "top_k": 2.5})", "top_k", "invalid_type"},
      {"{" + kUser + R"(, "max_tokens": 0})", "max_tokens", "invalid_value"},
      {"{" + kUser + R"(, "max_completion_tokens": -3})", "max_completion_tokens", "invalid_value"},
      {"{" + kUser + R"(, "max_tokens": 99999999999})", "max_tokens", "context_length_exceeded"},
      {"{" + kUser + R"(, "n": 2})", "n", "invalid_value"},
      {"{" + kUser + R"(, "stop": ["a", "b", "c", "d", "e"]})", "stop", "invalid_value"},
      {"{" + kUser + R"(, "stop": [1]})", "stop[0]", "invalid_type"},
      {"{" + kUser + R"(, "top_logprobs": 3})", "top_logprobs", "invalid_value"},
      {"{" + kUser + R"(, "logprobs": true, "top_logprobs": 21})", "top_logprobs", "invalid_value"},
      {"{" + kUser + R"(, "attention": "sparse"})", "attention", "invalid_value"},
      {"{" + kUser + R"(, "blocks": "doc"})", "blocks", "invalid_type"},
      {"{" + kUser + R"(, "blocks": ["doc"]})", "blocks[0]", "invalid_type"},
      {"{" + kUser + R"(, "blocks": [{"text": "a", "id": "b"}]})", "blocks[0]", "invalid_value"},
      {"{" + kUser + R"(, "blocks": [{"text": ""}]})", "blocks[0].text", "invalid_value"},
      {"{" + kUser + R"(, "blocks": [{"id": "blk_xyz"}]})", "blocks[0].id", "block_not_found"},
      {"{" + kUser + R"(, "segment": {"max_tokens": 0}})", "segment.max_tokens", "invalid_value"},
      {"{" + kUser + R"(, "stream": "yes"})", "stream", "invalid_type"},
  };
  for (const Case& c : cases) {
    ApiError e = refusal(c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.type, "invalid_request_error") << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_EQ(e.code, c.code) << c.body << ": " << e.what();
  }
  ApiError empty = refusal(R"({"prompt": ""})", false);
  EXPECT_EQ(empty.code, "empty_prompt");
  ApiError echo = refusal(R"({"prompt": "x", "echo": true})", false);
  EXPECT_EQ(echo.param, "echo");
}

TEST(OpenAiRequest, BlockLimitIsEnforced) {
  RequestLimits limits;
  limits.max_blocks = 2;
  ApiError e = refusal(
      "{" + kUser + R"(, "blocks": [{"text": "a"}, {"text": "b"}, {"text": "c"}]})", true, limits);
  EXPECT_EQ(e.code, "too_many_blocks");
  EXPECT_EQ(parse_completion_request("{" + kUser + R"(, "blocks": [{"text": "a"}, {"text": "b"}]})",
                                     true, limits)
                .blocks.size(),
            2u);
}

TEST(OpenAiRequest, BlockIdsRoundTrip) {
  const std::string key = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(parse_block_id(block_id_of_key(key), "id"), key);
  EXPECT_EQ(parse_block_id("blk_0123456789ABCDEF0123456789ABCDEF", "id"), key);
  for (const char* bad :
       {"", "blk_", "0123456789abcdef0123456789abcdef", "blk_0123456789abcdef0123456789abcdeg",
        "blk_0123456789abcdef0123456789abcdef0"}) {
    try {
      parse_block_id(bad, "id");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code, "block_not_found");
    }
  }
}

}  // namespace
}  // namespace blockattn::serve
