// The server's Prometheus metrics (GET /metrics): one place that names every family, so the
// scheduler and the HTTP handlers record events without knowing the exposition format.
//
// Families (docs/server.md lists them with their meaning):
//   blockattn_requests_total{endpoint,status}      counter
//   blockattn_errors_total{type}                   counter (OpenAI error types)
//   blockattn_prompt_tokens_total                  counter
//   blockattn_generated_tokens_total               counter
//   blockattn_requests_finished_total{reason}      counter (stop, length, cancelled, timeout,
//   error) blockattn_time_to_first_token_seconds          histogram
//   blockattn_inter_token_latency_seconds          histogram
//   blockattn_request_duration_seconds{endpoint}   histogram
//   blockattn_queue_depth, blockattn_requests_running   gauges
//   blockattn_block_cache_hits_total{tier}, blockattn_block_cache_misses_total,
//   blockattn_block_cache_evictions_total{tier}, blockattn_block_cache_bytes{tier},
//   blockattn_block_cache_entries{tier}, blockattn_block_cache_corrupt_total{tier},
//   blockattn_block_cache_errors_total{tier}, blockattn_block_cache_writes_dropped_total
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "blockattn/engine.h"
#include "serve/metrics.h"

namespace blockattn::serve {

class ServerMetrics {
 public:
  ServerMetrics();

  void on_request(const std::string& endpoint, int status, double seconds);
  void on_error(const std::string& type);
  // A job ended (scheduler): tokens and the reason.
  void on_finished(const GenerateResult& result, const std::string& reason);
  void observe_ttft(double seconds);
  void observe_inter_token(double seconds);
  void set_queue_depth(int n);
  void set_running(int n);

  // Brings the block-cache families up to `stats` (counters advance by the difference since the
  // last call), then renders everything.
  std::string render(const CacheStats& stats);

 private:
  MetricsRegistry registry_;
  MetricsRegistry::Counter& requests_;
  MetricsRegistry::Counter& errors_;
  MetricsRegistry::Counter& prompt_tokens_;
  MetricsRegistry::Counter& generated_tokens_;
  MetricsRegistry::Counter& finished_;
  MetricsRegistry::Histogram& ttft_;
  MetricsRegistry::Histogram& inter_token_;
  MetricsRegistry::Histogram& duration_;
  MetricsRegistry::Gauge& queue_;
  MetricsRegistry::Gauge& running_;
  MetricsRegistry::Counter& cache_hits_;
  MetricsRegistry::Counter& cache_misses_;
  MetricsRegistry::Counter& cache_evictions_;
  MetricsRegistry::Counter& cache_corrupt_;
  MetricsRegistry::Counter& cache_errors_;
  MetricsRegistry::Counter& cache_writes_dropped_;
  MetricsRegistry::Gauge& cache_bytes_;
  MetricsRegistry::Gauge& cache_entries_;

  std::mutex cache_mu_;
  std::map<std::string, uint64_t> last_;  // "<family>/<tier>" -> value at the last render
  void advance(MetricsRegistry::Counter& c, const std::string& key, uint64_t now,
               const std::vector<std::string>& labels);
};

}  // namespace blockattn::serve
