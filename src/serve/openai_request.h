// Parsing and validation of the OpenAI-compatible request bodies (torch-free: runs under the
// sanitizers and the fuzzers). Every problem is an ApiError naming the field, before any model
// work: a request that parses is one the engine can start.
//
// Accepted (chat = POST /v1/chat/completions, completion = POST /v1/completions):
//   model (string, optional), messages (chat) | prompt (completion: a string or [string]),
//   max_tokens | max_completion_tokens (int >= 1), temperature (finite, >= 0), top_p (0, 1],
//   top_k (int >= 0), seed (int), stop (string or list of <= 4 strings), n (1 only),
//   logprobs (chat: bool, completion: int 0..5), top_logprobs (chat: int 0..20), user (string),
//   stream (bool), stream_options.include_usage (bool),
//   and the block API: blocks ([{"text"} | {"id"}], <= limits.max_blocks), attention
//   ("block" | "full"), segment ({"max_tokens": int >= 1}); ignore_eos (bool, benchmarks: as vLLM
//   and llama.cpp accept it).
// Unknown fields are ignored, as the OpenAI API's clients expect (they send extras freely).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "blockattn/engine.h"

namespace blockattn::serve {

struct RequestLimits {
  int max_blocks = 256;
  int max_stop = 4;
};

// A context block of a request: text, or the id of a block registered with POST /v1/blocks.
struct BlockRef {
  std::string text;
  std::string id;  // "blk_<32 hex>" when the block is given by id
};

struct CompletionRequest {
  bool chat = true;
  std::string model;         // "" = the server's model
  GenerateRequest generate;  // blocks are filled by the server (from `blocks`)
  std::vector<BlockRef> blocks;
  std::optional<int> max_tokens;  // as given; absent = up to the context
  std::optional<size_t> segment_max_tokens;
  bool stream = false;
  bool include_usage = false;
  int logprobs = -1;  // -1: none; else how many alternatives per token (0..20)
};

// body: the raw request body. Throws ApiError (400) for malformed JSON, invalid UTF-8, a field of
// the wrong type or out of range.
CompletionRequest parse_completion_request(const std::string& body, bool chat,
                                           const RequestLimits& limits);

// "blk_<32 hex>" -> the 32 hex digits of the block's content address; ApiError 400
// (code block_not_found) naming `param` when it is not of that form.
std::string parse_block_id(const std::string& id, const std::string& param);
std::string block_id_of_key(const std::string& key_hex);  // "blk_" + key

}  // namespace blockattn::serve
