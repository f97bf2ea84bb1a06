// `blockattn serve`: the OpenAI-compatible HTTP server with the block API (docs/server.md).
//
// Threads: cpp-httplib's pool runs the handlers (parse, validate, tokenize, wait for results,
// write); one Scheduler thread runs all generation (scheduler.h); a signal thread turns
// SIGTERM/SIGINT into a drain. The model loads after the port is bound, so /health answers 503
// until it is ready.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "blockattn/engine.h"
#include "segment/segment.h"

namespace blockattn::serve {

// The segmenter behind POST /v1/segment and a request's "segment" option.
struct SegmentService {
  segment::SegmentOptions defaults;  // method learned, its tuned threshold, its scorer
  segment::TokenCounter count;       // counts with the served model's tokenizer
  std::shared_ptr<const void> keep_alive;
};

struct ServerConfig {
  EngineConfig engine;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string alias;                  // model id; "" = the model directory's name
  std::string api_key;                // "" = no authentication
  int parallel = 4;                   // requests generating at once
  int max_queue = 64;                 // requests waiting beyond those; then 503
  double max_body_mb = 16;            // request bodies above this: 413
  int max_blocks = 256;               // blocks per request
  int max_registered_blocks = 65536;  // ids held by POST /v1/blocks
  double request_timeout_s = 600;     // generation time limit per request
  double io_timeout_s = 30;           // a client that sends or reads nothing this long is dropped
  double drain_timeout_s = 30;        // on SIGTERM: how long in-flight requests may still run
  std::function<SegmentService()> make_segmenter;  // loaded with the model; null: /v1/segment 501
};

// Runs until SIGTERM/SIGINT (then drains and returns 0) or a start-up failure (prints one line,
// returns 1). Throws nothing.
int run_server(const ServerConfig& config);

}  // namespace blockattn::serve
