#include "serve/http_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "blockattn/error.h"
#include "core/log.h"
#include "serve/api_error.h"
#include "serve/json_fields.h"
#include "serve/openai_request.h"
#include "serve/scheduler.h"
#include "serve/server_metrics.h"

namespace blockattn::serve {

namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json error_body(const ApiError& e) {
  Json err = {{"message", e.what()}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return Json{{"error", err}};
}

std::string format_mib(double mib) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", mib);
  return buf;
}

// Written by the SIGTERM/SIGINT handler, read by Server::run.
int stop_pipe[2] = {-1, -1};
extern "C" void on_stop_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  const ssize_t n = ::write(stop_pipe[1], &b, 1);  // async-signal-safe
  (void)n;
}

Json usage_json(const GenerateResult& result) {
  const int completion = static_cast<int>(result.tokens.size());
  return {{"prompt_tokens", result.timings.prompt_tokens},
          {"completion_tokens", completion},
          {"total_tokens", result.timings.prompt_tokens + completion}};
}

// OpenAI's finish reasons: the answer ended by itself, or was cut.
std::string openai_finish(const std::string& reason) {
  return reason == "eos" || reason == "stop" ? "stop" : "length";
}

// Registered block ids (POST /v1/blocks) -> their text, so requests can name blocks by id.
class BlockRegistry {
 public:
  explicit BlockRegistry(size_t capacity) : capacity_(capacity) {}
  bool put(const std::string& key, const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    if (texts_.count(key)) return true;
    if (texts_.size() >= capacity_) return false;
    texts_.emplace(key, text);
    return true;
  }
  std::optional<std::string> get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = texts_.find(key);
    if (it == texts_.end()) return std::nullopt;
    return it->second;
  }
  bool erase(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return texts_.erase(key) > 0;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return texts_.size();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> texts_;
};

class Server {
 public:
  explicit Server(const ServerConfig& config)
      : config_(config), registry_(static_cast<size_t>(std::max(0, config.max_registered_blocks))) {
    model_id_ = config.alias;
    if (model_id_.empty()) {
      std::filesystem::path p(config.engine.model_dir);
      if (p.filename().empty()) p = p.parent_path();
      model_id_ = p.filename().string();
    }
  }

  int run();

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  void routes();
  void route(const char* method, const std::string& pattern, const std::string& endpoint,
             Handler h);
  void reply(httplib::Response& res, int status, const Json& body) const;
  void reply_error(httplib::Response& res, const ApiError& e);
  Engine& engine() const;  // ApiError 503 while loading

  void completions(const httplib::Request& req, httplib::Response& res, bool chat);
  std::vector<std::string> resolve_blocks(const CompletionRequest& r);
  void post_blocks(const httplib::Request& req, httplib::Response& res);
  void delete_block(const httplib::Request& req, httplib::Response& res);
  void block_stats(httplib::Response& res);
  void post_segment(const httplib::Request& req, httplib::Response& res);
  void tokenize(const httplib::Request& req, httplib::Response& res);
  void detokenize(const httplib::Request& req, httplib::Response& res);

  std::vector<segment::Block> cut(const std::string& text,
                                  const segment::SegmentOptions& opts) const;
  Json blockattn_report(const CompletionRequest& r, const GenerateResult& result) const;
  Json logprobs_json(bool chat, const std::vector<TokenLogprob>& lps) const;
  Json final_response(bool chat, const std::string& id, const CompletionRequest& r,
                      const GenerateResult& result) const;
  // What a completion handler hands its response writer: the job and how to answer it.
  struct Reply {
    std::shared_ptr<Job> job;
    std::shared_ptr<const CompletionRequest> request;
    std::string id;
    bool chat = true;
    std::optional<JobEvent> first;  // taken from the job before the status was chosen
  };
  bool stream_events(Reply& reply, httplib::DataSink& sink) const;  // SSE chunks, then [DONE]
  bool send_whole(Reply& reply, httplib::DataSink& sink) const;     // one JSON object
  Json chunk(bool chat, const std::string& id, const std::string& text, const Json& logprobs,
             const Json& finish_reason) const;

  const ServerConfig config_;
  std::string model_id_;
  httplib::Server http_;
  ServerMetrics metrics_;
  BlockRegistry registry_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Scheduler> scheduler_;
  std::optional<SegmentService> segmenter_;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> next_id_{1};
  int64_t context_ = 0;
};

void Server::reply(httplib::Response& res, int status, const Json& body) const {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

void Server::reply_error(httplib::Response& res, const ApiError& e) {
  metrics_.on_error(e.type);
  reply(res, e.status, error_body(e));
}

Engine& Server::engine() const {
  if (!ready_)
    throw ApiError(503, "unavailable_error", "the model is still loading", "", "loading");
  return *engine_;
}

void Server::route(const char* method, const std::string& pattern, const std::string& endpoint,
                   Handler h) {
  auto wrapped = [this, endpoint, h](const httplib::Request& req, httplib::Response& res) {
    const auto t0 = Clock::now();
    try {
      // After the body is read (so a refused request leaves the connection usable): every
      // endpoint but /health needs the key when one is set.
      if (!config_.api_key.empty() && endpoint != "/health") {
        const std::string auth = req.get_header_value("Authorization");
        if (auth != "Bearer " + config_.api_key)
          throw ApiError(401, "authentication_error",
                         auth.empty() ? "missing API key: send 'Authorization: Bearer <key>'"
                                      : "invalid API key",
                         "", "invalid_api_key");
      }
      h(req, res);
    } catch (const ApiError& e) {
      reply_error(res, e);
    } catch (const ContextLengthError& e) {
      reply_error(res, bad_request("messages", e.what(), "context_length_exceeded"));
    } catch (const InputError& e) {
      reply_error(res, bad_request("", e.what()));
    } catch (const QueueFullError& e) {
      res.set_header("Retry-After", "1");
      reply_error(res,
                  ApiError(503, "unavailable_error", e.what(), "",
                           scheduler_ && scheduler_->draining() ? "shutting_down" : "queue_full"));
    } catch (const std::bad_alloc&) {
      reply_error(res, ApiError(500, "server_error", "out of memory while handling the request"));
    } catch (const std::exception& e) {
      BA_WARN(std::string("request failed: ") + e.what());
      reply_error(res, ApiError(500, "server_error", e.what()));
    }
    metrics_.on_request(endpoint, res.status,
                        std::chrono::duration<double>(Clock::now() - t0).count());
  };
  const std::string m = method;
  if (m == "GET")
    http_.Get(pattern, wrapped);
  else if (m == "POST")
    http_.Post(pattern, wrapped);
  else
    http_.Delete(pattern, wrapped);
}

void Server::routes() {
  route("GET", "/health", "/health", [this](const httplib::Request&, httplib::Response& res) {
    if (!ready_)
      throw ApiError(503, "unavailable_error", "the model is still loading", "", "loading");
    reply(res, 200, {{"status", "ok"}});
  });
  route("GET", "/v1/models", "/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    Json model = {{"id", model_id_},
                  {"object", "model"},
                  {"created", unix_time()},
                  {"owned_by", "blockattn"}};
    if (ready_) {
      ModelInfo info = engine_->info();
      model["meta"] = {{"architecture", info.architecture},
                       {"parameters", info.parameters},
                       {"context_length", info.context_length},
                       {"sink_tokens", info.sink_tokens},
                       {"dtype", info.dtype},
                       {"device", info.device}};
    }
    reply(res, 200, {{"object", "list"}, {"data", Json::array({model})}});
  });
  route(
      "POST", "/v1/chat/completions", "/v1/chat/completions",
      [this](const httplib::Request& req, httplib::Response& res) { completions(req, res, true); });
  route("POST", "/v1/completions", "/v1/completions",
        [this](const httplib::Request& req, httplib::Response& res) {
          completions(req, res, false);
        });
  route("POST", "/v1/blocks", "/v1/blocks",
        [this](const httplib::Request& req, httplib::Response& res) { post_blocks(req, res); });
  route("GET", "/v1/blocks/stats", "/v1/blocks/stats",
        [this](const httplib::Request&, httplib::Response& res) { block_stats(res); });
  route("DELETE", R"(/v1/blocks/([^/]+))", "/v1/blocks/{id}",
        [this](const httplib::Request& req, httplib::Response& res) { delete_block(req, res); });
  route("POST", "/v1/segment", "/v1/segment",
        [this](const httplib::Request& req, httplib::Response& res) { post_segment(req, res); });
  route("POST", "/tokenize", "/tokenize",
        [this](const httplib::Request& req, httplib::Response& res) { tokenize(req, res); });
  route("POST", "/detokenize", "/detokenize",
        [this](const httplib::Request& req, httplib::Response& res) { detokenize(req, res); });
  route("GET", "/metrics", "/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const std::string text = metrics_.render(ready_ ? engine_->cache_stats() : CacheStats{});
    res.status = 200;
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });

  // Before the body is read: bodies whose size httplib cannot bound. (The answer asks the client
  // to close; httplib 0.11 cannot drop a connection from a handler, so a client that keeps sending
  // its chunks sees them answered as malformed requests.)
  http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](const ApiError& e) {
      reply_error(res, e);
      res.set_header("Connection", "close");
      metrics_.on_request(req.path, e.status, 0);
      return httplib::Server::HandlerResponse::Handled;
    };
    // httplib 0.11 enforces --max-body-mb on Content-Length only: a chunked body could grow
    // without bound, so request bodies must say their length.
    if (req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos)
      return refuse(
          ApiError(411, "invalid_request_error",
                   "request bodies must have a Content-Length (chunked uploads are not accepted)",
                   "", "length_required"));
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // What httplib answers by itself (unknown path, body too large, bad request line) gets an
  // OpenAI-style body too.
  http_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      reply_error(
          res, ApiError(404, "invalid_request_error", "no endpoint " + req.method + " " + req.path,
                        "", "unknown_endpoint"));
    } else if (res.status == 413) {
      reply_error(res, ApiError(413, "invalid_request_error",
                                "the request body is larger than the server's limit of " +
                                    format_mib(config_.max_body_mb) + " MiB (--max-body-mb)",
                                "", "request_too_large"));
    } else {
      reply_error(
          res,
          ApiError(res.status, res.status >= 500 ? "server_error" : "invalid_request_error",
                   "the request could not be handled (HTTP " + std::to_string(res.status) + ")"));
    }
  });
}

// ------------------------------------------------------------------------- chat/completions

std::vector<segment::Block> Server::cut(const std::string& text,
                                        const segment::SegmentOptions& opts) const {
  if (!segmenter_)
    throw ApiError(501, "invalid_request_error", "this server has no segmenter (--segmenter)", "",
                   "no_segmenter");
  try {
    return segment::segment(text, opts, segmenter_->count);
  } catch (const InputError& e) {
    throw bad_request("text", e.what());
  }
}

std::vector<std::string> Server::resolve_blocks(const CompletionRequest& r) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < r.blocks.size(); ++i) {
    const BlockRef& b = r.blocks[i];
    if (!b.id.empty()) {
      std::optional<std::string> text =
          registry_.get(parse_block_id(b.id, "blocks[" + std::to_string(i) + "].id"));
      if (!text)
        throw bad_request("blocks[" + std::to_string(i) + "].id", "no block has id " + b.id,
                          "block_not_found");
      texts.push_back(*text);
    } else if (r.segment_max_tokens) {
      segment::SegmentOptions opts = segmenter_ ? segmenter_->defaults : segment::SegmentOptions{};
      opts.max_tokens = *r.segment_max_tokens;
      for (const segment::Block& piece : cut(b.text, opts))
        texts.push_back(b.text.substr(piece.begin, piece.end - piece.begin));
    } else {
      texts.push_back(b.text);
    }
  }
  if (static_cast<int>(texts.size()) > config_.max_blocks)
    throw bad_request("segment",
                      "segmentation made " + std::to_string(texts.size()) +
                          " blocks, more than the limit of " + std::to_string(config_.max_blocks),
                      "too_many_blocks");
  return texts;
}

Json Server::blockattn_report(const CompletionRequest& r, const GenerateResult& result) const {
  Json blocks = Json::array();
  for (size_t i = 0; i < result.blocks.size(); ++i) {
    const BlockReport& b = result.blocks[i];
    Json tier = b.tier.empty() ? Json(nullptr) : Json(b.tier);
    blocks.push_back({{"index", i},
                      {"id", block_id_of_key(b.key)},
                      {"tokens", b.tokens},
                      {"reused", b.reused},
                      {"tier", tier}});
  }
  const GenerateTimings& t = result.timings;
  return {{"attention", r.generate.mode == AttentionMode::kBlock ? "block" : "full"},
          {"blocks", blocks},
          {"prompt_tokens", t.prompt_tokens},
          {"ttft_ms", t.ttft_ms},
          {"prefill_ms", t.prefill_ms},
          {"decode_tokens_per_s", t.decode_tokens_per_s}};
}

Json Server::logprobs_json(bool chat, const std::vector<TokenLogprob>& lps) const {
  auto bytes_of = [](const std::string& s) {
    Json b = Json::array();
    for (unsigned char c : s) b.push_back(static_cast<int>(c));
    return b;
  };
  if (chat) {
    Json content = Json::array();
    for (const TokenLogprob& lp : lps) {
      Json top = Json::array();
      for (const auto& [id, value] : lp.top) {
        const std::string text = engine_->detokenize({id});
        top.push_back({{"token", text}, {"logprob", value}, {"bytes", bytes_of(text)}});
      }
      content.push_back({{"token", lp.text},
                         {"logprob", lp.logprob},
                         {"bytes", bytes_of(lp.text)},
                         {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  Json tokens = Json::array(), values = Json::array(), tops = Json::array(),
       offsets = Json::array();
  size_t offset = 0;
  for (const TokenLogprob& lp : lps) {
    tokens.push_back(lp.text);
    values.push_back(lp.logprob);
    Json top = Json::object();
    for (const auto& [id, value] : lp.top) top[engine_->detokenize({id})] = value;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += lp.text.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", values},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

Json Server::final_response(bool chat, const std::string& id, const CompletionRequest& r,
                            const GenerateResult& result) const {
  Json choice = {
      {"index", 0}, {"finish_reason", openai_finish(result.finish_reason)}, {"logprobs", nullptr}};
  if (r.logprobs >= 0) choice["logprobs"] = logprobs_json(chat, result.logprobs);
  if (chat)
    choice["message"] = {{"role", "assistant"}, {"content", result.text}};
  else
    choice["text"] = result.text;
  return {{"id", id},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", unix_time()},
          {"model", model_id_},
          {"choices", Json::array({choice})},
          {"usage", usage_json(result)},
          {"blockattn", blockattn_report(r, result)}};
}

Json Server::chunk(bool chat, const std::string& id, const std::string& text, const Json& logprobs,
                   const Json& finish_reason) const {
  Json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", logprobs}};
  if (chat) {
    choice["delta"] = Json::object();
    if (!text.empty() || finish_reason.is_null()) choice["delta"]["content"] = text;
  } else {
    choice["text"] = text;
  }
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", unix_time()},
          {"model", model_id_},
          {"choices", Json::array({choice})}};
}

void Server::completions(const httplib::Request& req, httplib::Response& res, bool chat) {
  Engine& eng = engine();
  RequestLimits limits;
  limits.max_blocks = config_.max_blocks;
  auto r = std::make_shared<CompletionRequest>(parse_completion_request(req.body, chat, limits));
  if (!r->model.empty() && r->model != model_id_)
    throw ApiError(
        404, "invalid_request_error",
        "the model '" + r->model + "' does not exist (this server serves '" + model_id_ + "')",
        "model", "model_not_found");
  if (scheduler_->draining()) throw QueueFullError("the server is shutting down");
  GenerateRequest g = r->generate;
  g.blocks = resolve_blocks(*r);
  if (r->max_tokens && *r->max_tokens >= context_)
    throw bad_request(r->max_tokens ? "max_tokens" : "",
                      "max_tokens " + std::to_string(*r->max_tokens) +
                          " is not smaller than the model's context of " +
                          std::to_string(context_) + " tokens",
                      "context_length_exceeded");
  g.max_new_tokens = r->max_tokens.value_or(static_cast<int>(context_));
  std::unique_ptr<Session> session;
  try {
    session = eng.start(g);
  } catch (const ContextLengthError& e) {
    throw bad_request(chat ? "messages" : "prompt", e.what(), "context_length_exceeded");
  } catch (const InputError& e) {
    throw bad_request(chat ? "messages" : "prompt", e.what());
  }
  if (r->max_tokens && session->max_new_tokens() < *r->max_tokens)
    throw bad_request("max_tokens",
                      "the prompt's " + std::to_string(session->prompt_tokens()) +
                          " tokens plus max_tokens " + std::to_string(*r->max_tokens) +
                          " exceed the model's context of " + std::to_string(context_) + " tokens",
                      "context_length_exceeded");
  std::shared_ptr<Job> job = scheduler_->submit(std::move(session));
  const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_++);

  // Wait for the first event so that a failed prefill still gets its own status.
  const auto deadline =
      Clock::now() + std::chrono::duration<double>(config_.request_timeout_s + 30);
  std::optional<JobEvent> first;
  while (!first) {
    first = job->next(std::chrono::milliseconds(200));
    if (!first && Clock::now() > deadline) {
      job->cancel();
      throw ApiError(500, "server_error", "the request did not start in time");
    }
  }
  if (first->kind == JobEvent::kError) {
    if (first->error_is_input) throw bad_request(chat ? "messages" : "prompt", first->error);
    throw ApiError(500, "server_error", first->error);
  }

  auto reply = std::make_shared<Reply>(Reply{job, r, id, chat, std::move(first)});
  res.status = 200;
  if (r->stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, reply](size_t, httplib::DataSink& sink) { return stream_events(*reply, sink); });
  } else {
    res.set_chunked_content_provider(
        "application/json",
        [this, reply](size_t, httplib::DataSink& sink) { return send_whole(*reply, sink); });
  }
}

bool Server::stream_events(Reply& reply, httplib::DataSink& sink) const {
  Job& job = *reply.job;
  const bool chat = reply.chat;
  auto write = [&](const std::string& bytes) {
    if (sink.write(bytes.data(), bytes.size())) return true;
    job.cancel();  // the client went away: free its slot
    return false;
  };
  auto send = [&](const Json& j) {
    return write("data: " + j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n");
  };
  if (chat) {
    Json role = chunk(chat, reply.id, "", nullptr, nullptr);
    role["choices"][0]["delta"] = {{"role", "assistant"}, {"content", ""}};
    if (!send(role)) return false;
  }
  std::optional<JobEvent> ev = std::move(reply.first);
  for (;;) {
    if (!ev) ev = job.next(std::chrono::milliseconds(1000));
    if (!ev) {
      // Nothing new for a second: an SSE comment keeps proxies happy and finds dead clients.
      if (!write(": keep-alive\n\n")) return false;
      continue;
    }
    if (ev->kind == JobEvent::kToken) {
      Json lp = nullptr;
      if (ev->logprob) lp = logprobs_json(chat, {*ev->logprob});
      if (!send(chunk(chat, reply.id, ev->text, lp, nullptr))) return false;
      ev.reset();
      continue;
    }
    if (ev->kind == JobEvent::kError) {
      send(error_body(ApiError(500, "server_error", ev->error)));
    } else {
      const GenerateResult& result = job.result();
      Json last = chunk(chat, reply.id, "", nullptr, openai_finish(result.finish_reason));
      last["blockattn"] = blockattn_report(*reply.request, result);
      if (!send(last)) return false;
      if (reply.request->include_usage) {
        Json usage = chunk(chat, reply.id, "", nullptr, nullptr);
        usage["choices"] = Json::array();
        usage["usage"] = usage_json(result);
        usage["blockattn"] = last["blockattn"];
        if (!send(usage)) return false;
      }
    }
    write("data: [DONE]\n\n");
    sink.done();
    return true;
  }
}

// Not streamed: the whole answer as one JSON object. While it is being generated a space is sent
// every second (leading whitespace is valid JSON), so a client that went away is noticed and its
// slot freed.
bool Server::send_whole(Reply& reply, httplib::DataSink& sink) const {
  Job& job = *reply.job;
  std::optional<JobEvent> ev = std::move(reply.first);
  auto last_beat = Clock::now();
  for (;;) {
    if (Clock::now() - last_beat >= std::chrono::seconds(1)) {
      last_beat = Clock::now();
      if (!sink.write(" ", 1)) {
        job.cancel();
        return false;
      }
    }
    if (!ev) ev = job.next(std::chrono::milliseconds(250));
    if (!ev || ev->kind == JobEvent::kToken) {
      ev.reset();
      continue;
    }
    const Json body = ev->kind == JobEvent::kError
                          ? error_body(ApiError(500, "server_error", ev->error))
                          : final_response(reply.chat, reply.id, *reply.request, job.result());
    const std::string text = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    sink.write(text.data(), text.size());
    sink.done();
    return true;
  }
}

// ------------------------------------------------------------------------------- block API

void Server::post_blocks(const httplib::Request& req, httplib::Response& res) {
  Engine& eng = engine();
  const Json body = parse_json_object(req.body);
  std::vector<std::string> texts;
  if (auto text = get_string(body, "text", "text")) texts.push_back(*text);
  if (const Json* blocks = field(body, "blocks")) {
    if (!blocks->is_array()) throw wrong_type("blocks", "an array");
    for (size_t i = 0; i < blocks->size(); ++i) {
      const Json& b = (*blocks)[i];
      const std::string p = "blocks[" + std::to_string(i) + "]";
      if (b.is_string())
        texts.push_back(b.get<std::string>());
      else if (b.is_object() && get_string(b, "text", p + ".text"))
        texts.push_back(*get_string(b, "text", p + ".text"));
      else
        throw wrong_type(p, "{\"text\": ...}");
    }
  }
  if (texts.empty())
    throw bad_request("blocks", "give 'blocks': [{\"text\": ...}, ...]", "missing_field");
  if (static_cast<int>(texts.size()) > config_.max_blocks)
    throw bad_request("blocks",
                      "at most " + std::to_string(config_.max_blocks) + " blocks per request",
                      "too_many_blocks");
  Json data = Json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty())
      throw bad_request("blocks[" + std::to_string(i) + "]", "a block's text must not be empty");
    EncodedBlock b;
    try {
      b = eng.encode_block(texts[i]);
    } catch (const InputError& e) {
      throw bad_request("blocks[" + std::to_string(i) + "]", e.what());
    }
    if (!registry_.put(b.key, texts[i]))
      throw ApiError(507, "server_error",
                     "the server holds its limit of " +
                         std::to_string(config_.max_registered_blocks) +
                         " registered blocks; DELETE some first",
                     "blocks", "too_many_registered_blocks");
    data.push_back({{"id", block_id_of_key(b.key)},
                    {"object", "block"},
                    {"tokens", b.tokens},
                    {"reused", b.reused},
                    {"tier", b.tier.empty() ? Json(nullptr) : Json(b.tier)}});
  }
  reply(res, 200, {{"object", "list"}, {"data", data}});
}

void Server::delete_block(const httplib::Request& req, httplib::Response& res) {
  Engine& eng = engine();
  const std::string id = req.matches[1];
  std::string key;
  try {
    key = parse_block_id(id, "id");
  } catch (const ApiError&) {
    throw ApiError(404, "invalid_request_error", "no block has id " + id, "id", "block_not_found");
  }
  const bool registered = registry_.erase(key);
  const bool cached = eng.forget_block(key);
  if (!registered && !cached)
    throw ApiError(404, "invalid_request_error", "no block has id " + id, "id", "block_not_found");
  reply(res, 200, {{"id", id}, {"object", "block"}, {"deleted", true}});
}

void Server::block_stats(httplib::Response& res) {
  const CacheStats s = engine().cache_stats();
  Json tiers = Json::array();
  for (const TierCacheStats& t : s.tiers)
    tiers.push_back({{"name", t.name},
                     {"hits", t.hits},
                     {"misses", t.misses},
                     {"puts", t.puts},
                     {"put_failures", t.put_failures},
                     {"corrupt_dropped", t.corrupt_dropped},
                     {"evictions", t.evictions},
                     {"errors", t.errors},
                     {"bytes", t.bytes}});
  reply(res, 200,
        {{"memory",
          {{"entries", s.memory_entries},
           {"bytes", s.memory_bytes},
           {"budget_bytes", s.memory_budget},
           {"hits", s.memory_hits},
           {"misses", s.misses},
           {"evictions", s.memory_evictions}}},
         {"lower_hits", s.lower_hits},
         {"writes_dropped", s.writes_dropped},
         {"tiers", tiers},
         {"registered", registry_.size()}});
}

void Server::post_segment(const httplib::Request& req, httplib::Response& res) {
  engine();
  const Json body = parse_json_object(req.body);
  std::optional<std::string> text = get_string(body, "text", "text");
  if (!text) throw bad_request("text", "'text' is required", "missing_field");
  if (!segmenter_)
    throw ApiError(501, "invalid_request_error", "this server has no segmenter (--segmenter)", "",
                   "no_segmenter");
  segment::SegmentOptions opts = segmenter_->defaults;
  if (auto cap = get_int(body, "max_tokens", "max_tokens")) {
    if (*cap < 1 || *cap > (1 << 24)) throw bad_request("max_tokens", "'max_tokens' must be >= 1");
    opts.max_tokens = static_cast<size_t>(*cap);
  }
  if (auto min = get_int(body, "min_tokens", "min_tokens")) {
    if (*min < 0 || static_cast<size_t>(*min) > opts.max_tokens)
      throw bad_request("min_tokens", "'min_tokens' must be in 0..max_tokens");
    opts.min_tokens = static_cast<size_t>(*min);
  }
  if (auto th = get_number(body, "threshold", "threshold")) {
    if (*th < 0 || *th > 1) throw bad_request("threshold", "'threshold' must be in [0, 1]");
    opts.threshold = *th;
  }
  if (auto method = get_string(body, "method", "method")) {
    try {
      opts.method = segment::parse_method(*method);
    } catch (const InputError& e) {
      throw bad_request("method", e.what());
    }
    if (opts.method == segment::Method::kSemantic)
      throw bad_request("method", "the semantic method is not served (use learned or a baseline)");
    if (opts.method != segment::Method::kLearned) opts.scorer = nullptr;
  }
  Json data = Json::array();
  for (const segment::Block& b : cut(*text, opts))
    data.push_back({{"text", text->substr(b.begin, b.end - b.begin)},
                    {"start", b.begin},
                    {"end", b.end},
                    {"tokens", b.tokens},
                    {"score", b.score}});
  reply(res, 200,
        {{"object", "list"}, {"method", segment::method_name(opts.method)}, {"data", data}});
}

void Server::tokenize(const httplib::Request& req, httplib::Response& res) {
  Engine& eng = engine();
  const Json body = parse_json_object(req.body);
  std::optional<std::string> content = get_string(body, "content", "content");
  if (!content) throw bad_request("content", "'content' is required", "missing_field");
  const bool special = get_bool(body, "add_special", "add_special").value_or(false);
  std::vector<int32_t> ids;
  try {
    ids = eng.tokenize(*content, special);
  } catch (const InputError& e) {
    throw bad_request("content", e.what());
  }
  reply(res, 200, {{"tokens", ids}});
}

void Server::detokenize(const httplib::Request& req, httplib::Response& res) {
  Engine& eng = engine();
  const Json body = parse_json_object(req.body);
  const Json* tokens = field(body, "tokens");
  if (!tokens) throw bad_request("tokens", "'tokens' is required", "missing_field");
  if (!tokens->is_array()) throw wrong_type("tokens", "an array of integers");
  std::vector<int32_t> ids;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const Json& t = (*tokens)[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
      throw wrong_type("tokens[" + std::to_string(i) + "]", "a token id");
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  try {
    reply(res, 200, {{"content", eng.detokenize(ids)}});
  } catch (const InputError& e) {
    throw bad_request("tokens", e.what());
  }
}

// ------------------------------------------------------------------------------------ run

int Server::run() {
  // SIGTERM/SIGINT: a handler (whichever thread the signal lands on, libtorch's and OpenBLAS's
  // included) writes the signal number to a pipe that this thread reads once the model is up.
  if (::pipe2(stop_pipe, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "error: cannot create the signal pipe\n");
    return 1;
  }
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const auto io = std::chrono::duration<double>(config_.io_timeout_s);
  const auto io_s = std::chrono::duration_cast<std::chrono::seconds>(io).count();
  const auto io_us = std::chrono::duration_cast<std::chrono::microseconds>(io).count() % 1000000;
  http_.set_read_timeout(io_s, io_us);
  http_.set_write_timeout(io_s, io_us);
  http_.set_payload_max_length(static_cast<size_t>(config_.max_body_mb * 1024 * 1024));
  // Enough handler threads for every slot and queue place, plus the cheap endpoints.
  const size_t threads = static_cast<size_t>(config_.parallel + config_.max_queue + 8);
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  routes();

  if (!http_.bind_to_port(config_.host, config_.port)) {
    std::fprintf(stderr,
                 "error: cannot listen on %s:%d (in use, or not an address of this machine)\n",
                 config_.host.c_str(), config_.port);
    return 1;
  }
  std::thread listener([this] { http_.listen_after_bind(); });
  std::fprintf(stderr, "blockattn serve: listening on http://%s:%d (loading %s)\n",
               config_.host.c_str(), config_.port, config_.engine.model_dir.c_str());

  int code = 0;
  std::atomic<bool> load_done{false};
  std::thread loader([&] {
    try {
      engine_ = Engine::create(config_.engine);
      context_ = engine_->info().context_length;
      if (config_.make_segmenter) segmenter_ = config_.make_segmenter();
      SchedulerConfig sc;
      sc.parallel = config_.parallel;
      sc.max_queue = config_.max_queue;
      sc.request_timeout_s = config_.request_timeout_s;
      scheduler_ = std::make_unique<Scheduler>(*engine_, sc, &metrics_);
      ready_ = true;
      const ModelInfo info = engine_->info();
      std::fprintf(stderr,
                   "blockattn serve: model '%s' ready (%s, %s on %s, %d sink tokens); %d slots\n",
                   model_id_.c_str(), info.architecture.c_str(), info.dtype.c_str(),
                   info.device.c_str(), info.sink_tokens, config_.parallel);
      // The tier chain, one line: "memory 0 blocks, 0 MiB; disk DIR (...); redis HOST:PORT/DB".
      std::string tiers = engine_->cache_stats().describe;
      for (size_t nl; (nl = tiers.find('\n')) != std::string::npos;) tiers.replace(nl, 1, "; ");
      std::fprintf(stderr, "blockattn serve: block cache: %s\n", tiers.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      code = 1;
      // Wake the waiting thread so the process exits.
      on_stop_signal(0);
    }
    load_done = true;
  });

  unsigned char sig = 0;
  while (::read(stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
  }
  loader.join();
  if (code == 0) {
    std::fprintf(stderr,
                 "blockattn serve: %s received, finishing %d running and %d queued requests\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", scheduler_ ? scheduler_->running() : 0,
                 scheduler_ ? scheduler_->queued() : 0);
    if (scheduler_) {
      const int cancelled = scheduler_->drain(
          Clock::now() + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(config_.drain_timeout_s)));
      if (cancelled > 0)
        std::fprintf(stderr, "blockattn serve: cancelled %d requests at the drain deadline\n",
                     cancelled);
    }
  }
  http_.stop();  // waits for the handlers still writing their last bytes
  listener.join();
  scheduler_.reset();
  engine_.reset();
  if (code == 0) std::fprintf(stderr, "blockattn serve: stopped\n");
  return code;
}

}  // namespace

int run_server(const ServerConfig& config) {
  try {
    Server server(config);
    return server.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace blockattn::serve
