#include "serve/server_metrics.h"

namespace blockattn::serve {

ServerMetrics::ServerMetrics()
    : requests_(registry_.counter("blockattn_requests_total",
                                  "HTTP requests by endpoint and status", {"endpoint", "status"})),
      errors_(registry_.counter("blockattn_errors_total", "Error responses by OpenAI error type",
                                {"type"})),
      prompt_tokens_(registry_.counter("blockattn_prompt_tokens_total",
                                       "Prompt tokens of finished requests (sinks included)")),
      generated_tokens_(registry_.counter("blockattn_generated_tokens_total", "Generated tokens")),
      finished_(registry_.counter("blockattn_requests_finished_total",
                                  "Generation requests ended, by reason", {"reason"})),
      ttft_(registry_.histogram("blockattn_time_to_first_token_seconds",
                                "Request start to the first sampled token",
                                latency_buckets_seconds())),
      inter_token_(registry_.histogram("blockattn_inter_token_latency_seconds",
                                       "Time between consecutive generated tokens of a request",
                                       latency_buckets_seconds())),
      duration_(registry_.histogram("blockattn_request_duration_seconds",
                                    "HTTP request duration by endpoint", latency_buckets_seconds(),
                                    {"endpoint"})),
      queue_(registry_.gauge("blockattn_queue_depth", "Requests waiting for a slot")),
      running_(
          registry_.gauge("blockattn_requests_running", "Requests being prefilled or decoded")),
      cache_hits_(registry_.counter("blockattn_block_cache_hits_total",
                                    "Blocks reused, by the tier that had them", {"tier"})),
      cache_misses_(registry_.counter("blockattn_block_cache_misses_total",
                                      "Blocks computed (found in no tier)")),
      cache_evictions_(registry_.counter("blockattn_block_cache_evictions_total",
                                         "Block entries evicted to stay within a tier's budget",
                                         {"tier"})),
      cache_corrupt_(registry_.counter("blockattn_block_cache_corrupt_total",
                                       "Corrupt block entries found and dropped", {"tier"})),
      cache_errors_(registry_.counter(
          "blockattn_block_cache_errors_total",
          "Block-cache backend failures (connection lost, timeout, error reply), by tier",
          {"tier"})),
      cache_writes_dropped_(registry_.counter(
          "blockattn_block_cache_writes_dropped_total",
          "New block entries never written to the lower tiers (the write queue was full)")),
      cache_bytes_(registry_.gauge("blockattn_block_cache_bytes",
                                   "Bytes held by each block-cache tier", {"tier"})),
      cache_entries_(registry_.gauge("blockattn_block_cache_entries",
                                     "Blocks held by each block-cache tier", {"tier"})) {}

void ServerMetrics::on_request(const std::string& endpoint, int status, double seconds) {
  requests_.inc(1, {endpoint, std::to_string(status)});
  duration_.observe(seconds, {endpoint});
}

void ServerMetrics::on_error(const std::string& type) { errors_.inc(1, {type}); }

void ServerMetrics::on_finished(const GenerateResult& result, const std::string& reason) {
  prompt_tokens_.inc(result.timings.prompt_tokens);
  generated_tokens_.inc(static_cast<double>(result.tokens.size()));
  finished_.inc(1, {reason});
}

void ServerMetrics::observe_ttft(double seconds) { ttft_.observe(seconds); }
void ServerMetrics::observe_inter_token(double seconds) { inter_token_.observe(seconds); }
void ServerMetrics::set_queue_depth(int n) { queue_.set(n); }
void ServerMetrics::set_running(int n) { running_.set(n); }

void ServerMetrics::advance(MetricsRegistry::Counter& c, const std::string& key, uint64_t now,
                            const std::vector<std::string>& labels) {
  uint64_t& last = last_[key];
  if (now > last) c.inc(static_cast<double>(now - last), labels);
  last = now;
}

std::string ServerMetrics::render(const CacheStats& s) {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    advance(cache_hits_, "hits/memory", s.memory_hits, {"memory"});
    advance(cache_misses_, "misses", s.misses, {});
    advance(cache_evictions_, "evictions/memory", s.memory_evictions, {"memory"});
    advance(cache_writes_dropped_, "writes_dropped", s.writes_dropped, {});
    cache_bytes_.set(static_cast<double>(s.memory_bytes), {"memory"});
    cache_entries_.set(static_cast<double>(s.memory_entries), {"memory"});
    for (const TierCacheStats& t : s.tiers) {
      advance(cache_hits_, "hits/" + t.name, t.hits, {t.name});
      advance(cache_evictions_, "evictions/" + t.name, t.evictions, {t.name});
      advance(cache_corrupt_, "corrupt/" + t.name, t.corrupt_dropped, {t.name});
      advance(cache_errors_, "errors/" + t.name, t.errors, {t.name});
      cache_bytes_.set(static_cast<double>(t.bytes), {t.name});
    }
  }
  return registry_.render();
}

}  // namespace blockattn::serve
