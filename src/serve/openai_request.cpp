#include "serve/openai_request.h"

#include "core/hash.h"
#include "serve/json_fields.h"

namespace blockattn::serve {

namespace {

// A message's content: a string, or an array of {"type": "text", "text": ...} parts (joined).
std::string message_content(const Json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw wrong_type(param, "a string or an array of text parts");
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!part.is_object()) throw wrong_type(p, "an object");
    const std::optional<std::string> type = get_string(part, "type", p + ".type");
    if (type != "text")
      throw bad_request(p + ".type", "only text content parts are supported",
                        "unsupported_content");
    const std::optional<std::string> text = get_string(part, "text", p + ".text");
    if (!text) throw bad_request(p + ".text", "a text part needs 'text'", "missing_field");
    out += *text;
  }
  return out;
}

void parse_messages(const Json& body, GenerateRequest& g) {
  const Json* messages = field(body, "messages");
  if (!messages) throw bad_request("messages", "'messages' is required", "missing_field");
  if (!messages->is_array()) throw wrong_type("messages", "an array");
  if (messages->empty())
    throw bad_request("messages", "'messages' must not be empty", "empty_messages");
  bool has_user = false;
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    const std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw wrong_type(p, "an object");
    std::optional<std::string> role = get_string(m, "role", p + ".role");
    if (!role) throw bad_request(p + ".role", "every message needs a 'role'", "missing_field");
    if (*role == "developer") role = "system";  // the OpenAI API's newer name for it
    if (*role != "system" && *role != "user" && *role != "assistant")
      throw bad_request(p + ".role",
                        "role '" + *role + "' is not supported (system, user, assistant)");
    const Json* content = field(m, "content");
    if (!content)
      throw bad_request(p + ".content", "every message needs 'content'", "missing_field");
    ChatMessage msg{*role, message_content(*content, p + ".content")};
    has_user |= msg.role == "user" && !msg.content.empty();
    g.messages.push_back(std::move(msg));
  }
  if (!has_user)
    throw bad_request("messages", "the conversation needs a non-empty user message",
                      "empty_messages");
}

void parse_prompt(const Json& body, GenerateRequest& g) {
  const Json* prompt = field(body, "prompt");
  if (!prompt) throw bad_request("prompt", "'prompt' is required", "missing_field");
  if (prompt->is_array()) {
    if (prompt->size() != 1 || !(*prompt)[0].is_string())
      throw bad_request("prompt", "'prompt' must be a string (or a list of exactly one string)");
    g.query = (*prompt)[0].get<std::string>();
  } else if (prompt->is_string()) {
    g.query = prompt->get<std::string>();
  } else {
    throw wrong_type("prompt", "a string");
  }
  if (g.query.empty()) throw bad_request("prompt", "'prompt' must not be empty", "empty_prompt");
  g.chat_template = false;
}

void parse_blocks(const Json& body, const RequestLimits& limits, CompletionRequest& r) {
  const Json* blocks = field(body, "blocks");
  if (!blocks) return;
  if (!blocks->is_array()) throw wrong_type("blocks", "an array");
  if (static_cast<int64_t>(blocks->size()) > limits.max_blocks)
    throw bad_request("blocks",
                      "a request may have at most " + std::to_string(limits.max_blocks) +
                          " blocks, this one has " + std::to_string(blocks->size()),
                      "too_many_blocks");
  for (size_t i = 0; i < blocks->size(); ++i) {
    const Json& b = (*blocks)[i];
    const std::string p = "blocks[" + std::to_string(i) + "]";
    BlockRef ref;
    if (b.is_object()) {
      std::optional<std::string> text = get_string(b, "text", p + ".text");
      std::optional<std::string> id = get_string(b, "id", p + ".id");
      if (text.has_value() == id.has_value())
        throw bad_request(p, "a block has exactly one of 'text' and 'id'");
      if (text) ref.text = *text;
      if (id) {
        parse_block_id(*id, p + ".id");
        ref.id = *id;
      }
    } else {
      throw wrong_type(p, "an object {\"text\": ...} or {\"id\": ...}");
    }
    if (ref.id.empty() && ref.text.empty())
      throw bad_request(p + ".text", "a block's text must not be empty");
    r.blocks.push_back(std::move(ref));
  }
}

void parse_sampling(const Json& body, CompletionRequest& r) {
  GenerateRequest& g = r.generate;
  if (auto t = get_number(body, "temperature", "temperature")) {
    if (*t < 0) throw bad_request("temperature", "'temperature' must be >= 0");
    if (*t > 100) throw bad_request("temperature", "'temperature' must be <= 100");
    g.sampling.temperature = static_cast<float>(*t);
  }
  if (auto p = get_number(body, "top_p", "top_p")) {
    if (!(*p > 0 && *p <= 1)) throw bad_request("top_p", "'top_p' must be in (0, 1]");
    g.sampling.top_p = static_cast<float>(*p);
  }
  if (auto k = get_int(body, "top_k", "top_k")) {
    if (*k < 0) throw bad_request("top_k", "'top_k' must be >= 0");
    g.sampling.top_k = static_cast<int>(std::min<int64_t>(*k, INT32_MAX));
  }
  if (auto seed = get_int(body, "seed", "seed")) g.sampling.seed = static_cast<uint64_t>(*seed);
  if (const Json* stop = field(body, "stop")) {
    if (stop->is_string()) {
      g.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > 4) throw bad_request("stop", "'stop' may list at most 4 strings");
      for (size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string())
          throw wrong_type("stop[" + std::to_string(i) + "]", "a string");
        g.stop.push_back((*stop)[i].get<std::string>());
      }
    } else {
      throw wrong_type("stop", "a string or an array of strings");
    }
  }
}

void parse_lengths_and_modes(const Json& body, CompletionRequest& r) {
  std::optional<int64_t> max_tokens =
      get_int(body, "max_completion_tokens", "max_completion_tokens");
  std::string which = "max_completion_tokens";
  if (!max_tokens) {
    max_tokens = get_int(body, "max_tokens", "max_tokens");
    which = "max_tokens";
  }
  if (max_tokens) {
    if (*max_tokens < 1) throw bad_request(which, "'" + which + "' must be >= 1");
    if (*max_tokens > (1 << 24))
      throw bad_request(which, "'" + which + "' is larger than any context",
                        "context_length_exceeded");
    r.max_tokens = static_cast<int>(*max_tokens);
  }
  if (auto n = get_int(body, "n", "n"); n && *n != 1)
    throw bad_request("n", "only n = 1 is supported");
  if (auto a = get_string(body, "attention", "attention")) {
    if (*a == "block")
      r.generate.mode = AttentionMode::kBlock;
    else if (*a == "full")
      r.generate.mode = AttentionMode::kFull;
    else
      throw bad_request("attention", "'attention' must be \"block\" or \"full\"");
  }
  if (const Json* seg = field(body, "segment")) {
    if (!seg->is_object()) throw wrong_type("segment", "an object {\"max_tokens\": N}");
    std::optional<int64_t> cap = get_int(*seg, "max_tokens", "segment.max_tokens");
    if (!cap)
      throw bad_request("segment.max_tokens", "'segment' needs 'max_tokens'", "missing_field");
    if (*cap < 1 || *cap > (1 << 24))
      throw bad_request("segment.max_tokens", "'segment.max_tokens' must be >= 1");
    r.segment_max_tokens = static_cast<size_t>(*cap);
  }
  r.stream = get_bool(body, "stream", "stream").value_or(false);
  if (const Json* so = field(body, "stream_options")) {
    if (!so->is_object()) throw wrong_type("stream_options", "an object");
    r.include_usage =
        get_bool(*so, "include_usage", "stream_options.include_usage").value_or(false);
  }
  get_string(body, "user", "user");  // accepted, type-checked, not used
  r.generate.ignore_eos = get_bool(body, "ignore_eos", "ignore_eos").value_or(false);
}

void parse_logprobs(const Json& body, CompletionRequest& r) {
  if (r.chat) {
    const bool on = get_bool(body, "logprobs", "logprobs").value_or(false);
    std::optional<int64_t> top = get_int(body, "top_logprobs", "top_logprobs");
    if (top && (*top < 0 || *top > 20))
      throw bad_request("top_logprobs", "'top_logprobs' must be in 0..20");
    if (top && !on) throw bad_request("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    if (on) r.logprobs = static_cast<int>(top.value_or(0));
  } else {
    std::optional<int64_t> n = get_int(body, "logprobs", "logprobs");
    if (n && (*n < 0 || *n > 5)) throw bad_request("logprobs", "'logprobs' must be in 0..5");
    if (n) r.logprobs = static_cast<int>(*n);
    if (get_bool(body, "echo", "echo").value_or(false))
      throw bad_request("echo", "'echo' is not supported", "unsupported_parameter");
  }
  r.generate.top_logprobs = r.logprobs;
}

}  // namespace

std::string parse_block_id(const std::string& id, const std::string& param) {
  if (id.size() != 36 || id.compare(0, 4, "blk_") != 0 || !Hash128::from_hex(id.substr(4)))
    throw bad_request(param, "'" + id + "' is not a block id (blk_ followed by 32 hex digits)",
                      "block_not_found");
  std::string hex = id.substr(4);
  for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

std::string block_id_of_key(const std::string& key_hex) { return "blk_" + key_hex; }

CompletionRequest parse_completion_request(const std::string& body, bool chat,
                                           const RequestLimits& limits) {
  const Json j = parse_json_object(body);
  CompletionRequest r;
  r.chat = chat;
  if (auto model = get_string(j, "model", "model")) r.model = *model;
  if (chat)
    parse_messages(j, r.generate);
  else
    parse_prompt(j, r.generate);
  parse_blocks(j, limits, r);
  parse_sampling(j, r);
  parse_lengths_and_modes(j, r);
  parse_logprobs(j, r);
  return r;
}

}  // namespace blockattn::serve
