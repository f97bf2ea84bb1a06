// The Prometheus registry (src/serve/metrics.h): exact exposition text, histogram invariants,
// escaping, the errors it promises, exact counting under contention, and promtool's verdict.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <thread>

#include "blockattn/error.h"
#include "core/io.h"
#include "expect_error.h"
#include "serve/metrics.h"
#include "test_util.h"

namespace blockattn::serve {
namespace {

using test::error_of;

TEST(Metrics, RendersExactTextFormat) {
  MetricsRegistry r;
  auto& requests = r.counter("http_requests", "Requests served", {"method", "code"});
  auto& queue = r.gauge("queue_depth", "Jobs waiting");
  auto& latency = r.histogram("latency_seconds", "Request latency", {0.1, 0.5, 1});
  r.counter("errors_total", "Errors by type", {"type"});  // labelled and never used
  requests.inc(1, {"POST", "500"});
  requests.inc(1, {"GET", "200"});
  requests.inc(2, {"GET", "200"});
  queue.set(3.5);
  latency.observe(0.0625);
  latency.observe(0.5);  // on a bound: `le` is inclusive
  latency.observe(2);
  EXPECT_EQ(r.render(),
            "# HELP http_requests_total Requests served\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "http_requests_total{method=\"POST\",code=\"500\"} 1\n"
            "# HELP queue_depth Jobs waiting\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 3.5\n"
            "# HELP latency_seconds Request latency\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 1\n"
            "latency_seconds_bucket{le=\"0.5\"} 2\n"
            "latency_seconds_bucket{le=\"1\"} 2\n"
            "latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "latency_seconds_sum 2.5625\n"
            "latency_seconds_count 3\n"
            "# HELP errors_total Errors by type\n"
            "# TYPE errors_total counter\n");
  EXPECT_EQ(requests.value({"GET", "200"}), 3);
  EXPECT_EQ(requests.value({"GET", "404"}), 0);
  EXPECT_EQ(queue.value(), 3.5);
  EXPECT_EQ(latency.count(), 3u);
  EXPECT_EQ(latency.sum(), 2.5625);
}

TEST(Metrics, UnusedUnlabelledFamiliesRenderZero) {
  MetricsRegistry r;
  r.counter("tokens_total", "Tokens");
  r.gauge("running", "Running");
  r.histogram("wait_seconds", "Wait", {1, 2}, {});
  EXPECT_EQ(r.render(),
            "# HELP tokens_total Tokens\n# TYPE tokens_total counter\ntokens_total 0\n"
            "# HELP running Running\n# TYPE running gauge\nrunning 0\n"
            "# HELP wait_seconds Wait\n# TYPE wait_seconds histogram\n"
            "wait_seconds_bucket{le=\"1\"} 0\nwait_seconds_bucket{le=\"2\"} 0\n"
            "wait_seconds_bucket{le=\"+Inf\"} 0\nwait_seconds_sum 0\nwait_seconds_count 0\n");
}

// The sample lines of `text` whose name is `name` and whose labels contain `labels`.
std::vector<std::pair<std::string, double>> samples(const std::string& text,
                                                    const std::string& name,
                                                    const std::string& labels = "") {
  std::vector<std::pair<std::string, double>> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t end = line.find_first_of("{ ");
    if (line.compare(0, end, name) != 0 || end != name.size()) continue;
    if (!labels.empty() && line.find(labels) == std::string::npos) continue;
    const size_t space = line.rfind(' ');
    out.emplace_back(line.substr(0, space), std::stod(line.substr(space + 1)));
  }
  return out;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry r;
  auto& h = r.histogram("step_seconds", "Step time", latency_buckets_seconds(), {"phase"});
  const std::vector<double> bounds = latency_buckets_seconds();
  std::mt19937 rng(7);
  std::lognormal_distribution<double> dist(-3, 2.5);  // below 1 ms to beyond 60 s
  const char* phase[2] = {"decode", "prefill"};
  std::vector<double> seen[2];
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < (p ? 37 : 1000); ++i) seen[p].push_back(dist(rng));
    seen[p].push_back(bounds[3]);  // exactly on a bound: counted there (`le` is inclusive)
    seen[p].push_back(1000);       // beyond the last bound: only in +Inf
    for (double v : seen[p]) h.observe(v, {phase[p]});
  }
  const std::string text = r.render();
  for (int p = 0; p < 2; ++p) {
    const std::string label = std::string("phase=\"") + phase[p] + "\"";
    auto buckets = samples(text, "step_seconds_bucket", label);
    ASSERT_EQ(buckets.size(), bounds.size() + 1);
    double sum = 0;
    for (double v : seen[p]) sum += v;
    for (size_t i = 0; i < buckets.size(); ++i) {
      // Cumulative: bucket i counts every observation <= its bound, not just those above the
      // previous one.
      const double bound = i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
      const auto expect =
          std::count_if(seen[p].begin(), seen[p].end(), [&](double v) { return v <= bound; });
      EXPECT_EQ(buckets[i].second, expect) << buckets[i].first;
      if (i) {
        EXPECT_LE(buckets[i - 1].second, buckets[i].second);
      }
    }
    EXPECT_NE(buckets.back().first.find("le=\"+Inf\""), std::string::npos);
    auto count = samples(text, "step_seconds_count", label);
    ASSERT_EQ(count.size(), 1u);
    EXPECT_EQ(count[0].second, buckets.back().second);  // +Inf == _count
    EXPECT_EQ(count[0].second, seen[p].size());
    EXPECT_EQ(h.count({phase[p]}), seen[p].size());
    EXPECT_DOUBLE_EQ(h.sum({phase[p]}), sum);
    auto text_sum = samples(text, "step_seconds_sum", label);
    ASSERT_EQ(text_sum.size(), 1u);
    EXPECT_DOUBLE_EQ(text_sum[0].second, sum);  // the shortest form reads back exactly
  }
}

TEST(Metrics, LatencyBucketsSpanMillisecondToMinute) {
  const std::vector<double> b = latency_buckets_seconds();
  ASSERT_GE(b.size(), 8u);
  EXPECT_EQ(b.front(), 0.001);
  EXPECT_EQ(b.back(), 60);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

TEST(Metrics, EscapesHelpAndLabelValues) {
  MetricsRegistry r;
  auto& c = r.counter("odd_total", "Back\\slash and\nnewline \"quoted\"", {"v"});
  c.inc(1, {"a\\b\"c\nd é"});
  EXPECT_EQ(r.render(),
            "# HELP odd_total Back\\\\slash and\\nnewline \"quoted\"\n"
            "# TYPE odd_total counter\n"
            "odd_total{v=\"a\\\\b\\\"c\\nd é\"} 1\n");
}

TEST(Metrics, FormatsNumbersAsPrometheusReadsThem) {
  EXPECT_EQ(format_metric_value(3), "3");
  EXPECT_EQ(format_metric_value(-2), "-2");
  EXPECT_EQ(format_metric_value(0), "0");
  EXPECT_EQ(format_metric_value(-0.0), "0");
  EXPECT_EQ(format_metric_value(1e6), "1000000");
  EXPECT_EQ(format_metric_value(123456789012.0), "123456789012");
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(0.1), "0.1");
  EXPECT_EQ(format_metric_value(1e-5), "1e-05");
  EXPECT_EQ(format_metric_value(1.5e300), "1.5e+300");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  for (double v : {0.1 + 0.2, 1.0 / 3, 2.5e-7, 6.02214076e23})
    EXPECT_EQ(std::stod(format_metric_value(v)), v) << format_metric_value(v);
}

TEST(Metrics, WrongLabelCountThrows) {
  MetricsRegistry r;
  auto& c = r.counter("a_total", "A", {"x", "y"});
  auto& g = r.gauge("b", "B");
  auto& h = r.histogram("c_seconds", "C", {1}, {"x"});
  EXPECT_CONTAINS(error_of<InputError>([&] { c.inc(1, {"only one"}); }), "a_total");
  EXPECT_THROW(c.inc(), InputError);
  EXPECT_THROW(c.value({"1", "2", "3"}), InputError);
  EXPECT_THROW(g.set(1, {"x"}), InputError);
  EXPECT_THROW(g.add(1, {"x"}), InputError);
  EXPECT_THROW(h.observe(1), InputError);
  EXPECT_THROW(h.count({"1", "2"}), InputError);
  EXPECT_THROW(c.inc(1, {"ok", "\xff"}), InputError);  // label values must be UTF-8
  // Nothing was recorded by the failed calls.
  EXPECT_EQ(r.render(),
            "# HELP a_total A\n# TYPE a_total counter\n"
            "# HELP b B\n# TYPE b gauge\nb 0\n"
            "# HELP c_seconds C\n# TYPE c_seconds histogram\n");
}

TEST(Metrics, InvalidNamesThrow) {
  MetricsRegistry r;
  EXPECT_CONTAINS(error_of<InputError>([&] { r.counter("9lives", "x"); }), "9lives");
  EXPECT_THROW(r.gauge("", "x"), InputError);
  EXPECT_THROW(r.gauge("has-dash", "x"), InputError);
  EXPECT_THROW(r.gauge("has space", "x"), InputError);
  EXPECT_THROW(r.histogram("é_seconds", "x", {1}), InputError);
  EXPECT_CONTAINS(error_of<InputError>([&] { r.gauge("ok", "x", {"bad:label"}); }), "bad:label");
  EXPECT_THROW(r.gauge("ok2", "x", {"1st"}), InputError);
  EXPECT_THROW(r.gauge("ok3", "x", {"__reserved"}), InputError);
  EXPECT_THROW(r.gauge("ok4", "x", {"a", "a"}), InputError);
  EXPECT_THROW(r.histogram("ok5", "x", {1}, {"le"}), InputError);
  EXPECT_THROW(r.histogram("ok6", "x", {1, 1}), InputError);
  EXPECT_THROW(r.histogram("ok7", "x", {2, 1}), InputError);
  EXPECT_THROW(r.histogram("ok8", "x", {std::nan("")}), InputError);
  EXPECT_THROW(r.gauge("ok9", "bad help \xc3"), InputError);
  // Colons are allowed in family names (recording-rule style), and a trailing +Inf bound is.
  r.gauge("job:ok", "x");
  auto& h = r.histogram("inf_seconds", "x", {1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.upper_bounds(), std::vector<double>{1});
  // None of the failed declarations left a family behind.
  EXPECT_EQ(r.render(),
            "# HELP job:ok x\n# TYPE job:ok gauge\njob:ok 0\n"
            "# HELP inf_seconds x\n# TYPE inf_seconds histogram\n"
            "inf_seconds_bucket{le=\"1\"} 0\ninf_seconds_bucket{le=\"+Inf\"} 0\n"
            "inf_seconds_sum 0\ninf_seconds_count 0\n");
}

TEST(Metrics, RedeclaringReturnsTheSameFamily) {
  MetricsRegistry r;
  auto& a = r.counter("hits", "Hits", {"tier"});
  EXPECT_EQ(&r.counter("hits", "other help is ignored", {"tier"}), &a);
  EXPECT_EQ(&r.counter("hits_total", "the suffix names the same counter", {"tier"}), &a);
  auto& h = r.histogram("d_seconds", "D", {1, 2});
  EXPECT_EQ(&r.histogram("d_seconds", "D", {1, 2, std::numeric_limits<double>::infinity()}), &h);
  EXPECT_CONTAINS(error_of<InputError>([&] { r.gauge("hits_total", "x", {"tier"}); }), "counter");
  EXPECT_THROW(r.counter("hits", "Hits", {"other"}), InputError);
  EXPECT_THROW(r.histogram("d_seconds", "D", {1, 3}), InputError);
}

TEST(Metrics, SampleNameCollisionsThrow) {
  MetricsRegistry r;
  r.histogram("req_seconds", "R", {1});
  EXPECT_CONTAINS(error_of<InputError>([&] { r.gauge("req_seconds_count", "x"); }), "req_seconds");
  EXPECT_THROW(r.gauge("req_seconds_bucket", "x"), InputError);
  EXPECT_THROW(r.gauge("req_seconds_sum", "x"), InputError);
  r.gauge("wait_sum", "x");
  EXPECT_CONTAINS(error_of<InputError>([&] { r.histogram("wait", "x", {1}); }), "wait_sum");
  // A counter's samples carry _total, so these do not collide with the histogram's.
  r.counter("req_seconds_sum", "x");
}

TEST(Metrics, CounterRejectsNegativeAndNaN) {
  MetricsRegistry r;
  auto& c = r.counter("n_total", "N");
  EXPECT_CONTAINS(error_of<InputError>([&] { c.inc(-1); }), "n_total");
  EXPECT_THROW(c.inc(std::nan("")), InputError);
  c.inc(0);
  c.inc(2.5);
  EXPECT_EQ(c.value(), 2.5);
  auto& h = r.histogram("h_seconds", "H", {1});
  EXPECT_THROW(h.observe(std::nan("")), InputError);
  h.observe(std::numeric_limits<double>::infinity());  // +Inf bucket only
  EXPECT_EQ(h.count(), 1u);
  auto& g = r.gauge("g", "G");
  g.set(4);
  g.add(-6.5);
  EXPECT_EQ(g.value(), -2.5);
}

TEST(Metrics, ConcurrentIncrementsSumExactly) {
  MetricsRegistry r;
  auto& c = r.counter("events_total", "Events", {"worker"});
  auto& total = r.counter("all_events_total", "Events of all workers");
  auto& h = r.histogram("event_seconds", "Event latency", latency_buckets_seconds());
  auto& g = r.gauge("in_flight", "Events in flight");
  constexpr int kThreads = 8, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        total.inc();
        c.inc(1, {std::to_string(t % 2)});
        h.observe(0.001 * (i % 100));
        g.add(1);
        g.add(-1);
        // Families declared and rendered while others count: neither may block nor corrupt.
        if (i % 5000 == 0) {
          r.counter("declared_late_total", "Declared from several threads").inc();
          EXPECT_FALSE(r.render().empty());
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(total.value(), kThreads * kPerThread);
  EXPECT_EQ(c.value({"0"}) + c.value({"1"}), kThreads * kPerThread);
  EXPECT_EQ(c.value({"0"}), kThreads / 2 * kPerThread);
  EXPECT_EQ(h.count(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(g.value(), 0);
  EXPECT_EQ(r.counter("declared_late_total", "").value(), kThreads * (kPerThread / 5000));
  EXPECT_NE(r.render().find("all_events_total 160000\n"), std::string::npos);
}

// promtool (Debian package `prometheus`) parses and lints the exposition text: the strongest
// check that what we render is what a Prometheus server accepts.
TEST(Metrics, PromtoolAcceptsRender) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    FAIL() << "promtool is not on PATH: install the Debian package `prometheus` "
              "(apt-get install prometheus) to run this test";
  MetricsRegistry r;
  auto& req = r.counter("blockattn_requests", "HTTP requests by endpoint and status",
                        {"endpoint", "status"});
  req.inc(1, {"/v1/completions", "200"});
  req.inc(3, {"/v1/chat/completions", "400"});
  req.inc(1, {"odd \"path\"\\with\nnewline é", "404"});
  r.counter("blockattn_generated_tokens_total", "Generated tokens").inc(123456789);
  r.counter("blockattn_unused_total", "Never incremented", {"type"});
  auto& g = r.gauge("blockattn_block_cache_bytes", "Bytes held by each tier", {"tier"});
  g.set(1.5e12, {"memory"});
  g.set(std::nan(""), {"disk"});
  r.gauge("blockattn_queue_depth", "Help with a \\ backslash\nand a newline").set(-3);
  auto& h = r.histogram("blockattn_request_duration_seconds", "Request duration",
                        latency_buckets_seconds(), {"endpoint"});
  for (double v : {0.0004, 0.003, 0.2, 7.0, 120.0}) h.observe(v, {"/v1/completions"});
  r.histogram("blockattn_time_to_first_token_seconds", "TTFT", latency_buckets_seconds())
      .observe(1e-5);
  r.histogram("blockattn_empty_seconds", "No observations", {0.5});

  test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::ofstream(dir / "metrics.txt") << r.render();
  const std::string cmd =
      "promtool check metrics < " + (dir / "metrics.txt") + " > " + (dir / "out.txt") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "promtool check metrics failed:\n"
                   << read_file(dir / "out.txt") << "\non:\n"
                   << r.render();
}

}  // namespace
}  // namespace blockattn::serve
