// `blockattn serve`: the OpenAI-compatible server with the block API (docs/server.md).
#include <cstdlib>
#include <memory>

#include "adapter_options.h"
#include "blockattn/error.h"
#include "cache_options.h"
#include "commands.h"
#include "option_checks.h"
#include "segment_methods.h"
#include "serve/http_server.h"

namespace blockattn::cli {

namespace {

struct ServeOptions {
  serve::ServerConfig server;
  CacheSizeOptions cache_sizes;
  std::string segmenter = MethodArgs{}.segmenter;
};

int run(ServeOptions& o) {
  serve::ServerConfig& c = o.server;
  apply_cache_sizes(o.cache_sizes, c.engine.cache);
  if (c.api_key.empty()) {
    if (const char* key = std::getenv("BLOCKATTN_API_KEY")) c.api_key = key;
  }
  if (c.port < 0 || c.port > 65535) throw InputError("--port must be in 0..65535");
  if (c.parallel < 1 || c.parallel > 256) throw InputError("--parallel must be in 1..256");
  if (c.max_queue < 0 || c.max_queue > 4096) throw InputError("--max-queue must be in 0..4096");
  if (!(c.max_body_mb > 0 && c.max_body_mb <= 4096))
    throw InputError("--max-body-mb must be in (0, 4096]");
  if (c.max_blocks < 1) throw InputError("--max-blocks must be >= 1");
  if (!(c.request_timeout_s > 0)) throw InputError("--timeout must be > 0");
  if (!(c.io_timeout_s > 0 && c.io_timeout_s <= 3600))
    throw InputError("--io-timeout must be in (0, 3600]");
  const std::string model_dir = c.engine.model_dir, segmenter = o.segmenter;
  if (!segmenter.empty() && segmenter != "none") {
    c.make_segmenter = [model_dir, segmenter] {
      MethodArgs a;
      a.method = "learned";
      a.tokenizer = model_dir;  // the hard cap counts the served model's tokens
      a.segmenter = segmenter;
      SegmenterSetup s = make_segmenter(a);
      serve::SegmentService svc;
      svc.defaults = s.options;
      svc.count = s.count;
      auto keep = std::make_shared<SegmenterSetup>(std::move(s));
      svc.keep_alive = keep;
      return svc;
    };
  }
  return serve::run_server(c);
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  serve::ServerConfig& c = o->server;
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve the model over HTTP: an OpenAI-compatible API (/v1/chat/completions, "
      "/v1/completions,\n"
      "/v1/models) plus the block API (context blocks given explicitly, each block's KV computed "
      "once\n"
      "and reused by every later request), /v1/segment, /tokenize, /detokenize, /health and "
      "/metrics.\n"
      "See docs/server.md. Stops cleanly on SIGTERM or Ctrl-C (running requests finish first).");
  cmd->add_option("-m,--model", c.engine.model_dir,
                  "Model directory (config.json, *.safetensors, tokenizer)")
      ->required();
  cmd->add_option("--host", c.host,
                  "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--port", c.port, "TCP port")->capture_default_str();
  cmd->add_option("--alias", c.alias, "Model id clients use (default: the model directory's name)");
  cmd->add_option("--api-key", c.api_key,
                  "Require 'Authorization: Bearer KEY' on every endpoint but /health (or set "
                  "BLOCKATTN_API_KEY)");
  cmd->add_option("-p,--parallel", c.parallel,
                  "Requests generating at once; their decode steps share one forward")
      ->capture_default_str();
  cmd->add_option("--max-queue", c.max_queue,
                  "Requests that may wait for a slot; beyond that: 503 with Retry-After")
      ->capture_default_str();
  cmd->add_option("--max-body-mb", c.max_body_mb, "Largest request body in MiB (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-blocks", c.max_blocks, "Most context blocks in one request")
      ->capture_default_str();
  cmd->add_option("--timeout", c.request_timeout_s,
                  "Seconds a request may generate before it is cut")
      ->capture_default_str();
  cmd->add_option("--io-timeout", c.io_timeout_s,
                  "Seconds a client may stall sending or reading before it is dropped")
      ->capture_default_str();
  cmd->add_option("--drain-timeout", c.drain_timeout_s,
                  "On SIGTERM: seconds running requests may still take")
      ->capture_default_str();
  add_cache_options(cmd, c.engine.cache, o->cache_sizes);
  add_adapter_options(cmd, c.engine);
  cmd->add_option("--segmenter", o->segmenter,
                  "Learned segmenter for /v1/segment and \"segment\" (none: off)")
      ->capture_default_str();
  cmd->add_option("--sinks", c.engine.sink_tokens,
                  "Block sink tokens per block (default: the model's setting)")
      ->check(integer_in(0, 64));
  cmd->add_option("--device", c.engine.device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--dtype", c.engine.dtype,
                  "auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16")
      ->capture_default_str();
  return [o] { return run(*o); };
}

}  // namespace blockattn::cli
