// A Prometheus metrics registry rendered in the text exposition format 0.0.4 (GET /metrics).
// Torch-free, so it lives in the base library and runs under the sanitizers.
//
// Threading: every method of the registry and of its families may be called from any thread.
// Each family has its own mutex (an increment locks only its family); the registry's mutex is
// taken only to declare a family and, briefly, by render() to list them. Families live as long
// as the registry and never move, so the references counter()/gauge()/histogram() return may be
// kept and used without further lookups.
//
// Naming and rendering rules:
//   - family names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and do not
//     start with "__" (reserved by Prometheus); a histogram may not have a label "le";
//   - a counter is rendered as `<name>_total` (HELP, TYPE and samples) unless its name already
//     ends in "_total": the Prometheus convention, which promtool's linter enforces;
//   - families render in declaration order, the samples of a family sorted by label values;
//   - a family without labels always renders its sample (0 before the first event), so a
//     dashboard sees it from the first scrape; a labelled family renders only label sets used;
//   - label values must be valid UTF-8 (InputError otherwise), the format requires it;
//   - numbers: integral values print as integers ("3", "1000000"), others in the shortest form
//     that reads back exactly ("0.25", "1e-05"); infinities and NaN as "+Inf", "-Inf", "NaN".
// Units are the caller's: by convention a family name ends in its base unit (`_seconds`,
// `_bytes`), and latency_buckets_seconds() is meant for `_seconds` histograms.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace blockattn::serve {

// Histogram bounds for latencies from 1 ms to 60 s, in seconds (1-2.5-5 steps, then 30 and 60).
std::vector<double> latency_buckets_seconds();

class MetricsRegistry {
 private:
  // What the three kinds share: identity, label checking and the per-family lock.
  class Family {
   public:
    virtual ~Family() = default;
    Family(const Family&) = delete;
    Family& operator=(const Family&) = delete;

   protected:
    Family(std::string name, std::string help, std::vector<std::string> label_names);
    // Throws InputError unless `values` has one valid UTF-8 value per label name.
    void check_label_values(const std::vector<std::string>& values) const;
    // Appends `{a="x",b="y"}` (plus `extra` as a last, already formatted pair) or nothing.
    void append_labels(std::string& out, const std::vector<std::string>& values,
                       const std::string& extra = "") const;
    void append_header(std::string& out, const char* type) const;
    virtual const char* type() const = 0;
    virtual void render(std::string& out) const = 0;

    std::string name_;  // as rendered (counters: with the _total suffix)
    std::string help_;
    std::vector<std::string> label_names_;
    mutable std::mutex mu_;

    friend class MetricsRegistry;
  };

 public:
  // One double per label set: what counters and gauges share.
  class ScalarFamily : public Family {
   public:
    // Current value; 0 for a label set never written.
    double value(const std::vector<std::string>& label_values = {}) const;

   protected:
    using Family::Family;
    void render(std::string& out) const override;
    std::map<std::vector<std::string>, double> values_;
  };

  // Monotonically increasing value (requests, tokens, bytes).
  class Counter : public ScalarFamily {
   public:
    // Throws InputError for v < 0 or NaN (a counter never goes down) and wrong label values.
    void inc(double v = 1, const std::vector<std::string>& label_values = {});

   private:
    using ScalarFamily::ScalarFamily;
    const char* type() const override { return "counter"; }
    friend class MetricsRegistry;
  };

  // A value that goes up and down (queue depth, bytes held). NaN and infinities are stored as is.
  class Gauge : public ScalarFamily {
   public:
    void set(double v, const std::vector<std::string>& label_values = {});
    void add(double v, const std::vector<std::string>& label_values = {});

   private:
    using ScalarFamily::ScalarFamily;
    const char* type() const override { return "gauge"; }
    friend class MetricsRegistry;
  };

  // Observations counted into fixed buckets; rendered cumulatively (`le` = upper bound, always
  // ending with "+Inf"), with `_sum` and `_count`.
  class Histogram : public Family {
   public:
    // Throws InputError for NaN (it belongs to no bucket and would poison _sum).
    void observe(double v, const std::vector<std::string>& label_values = {});
    uint64_t count(const std::vector<std::string>& label_values = {}) const;
    double sum(const std::vector<std::string>& label_values = {}) const;
    const std::vector<double>& upper_bounds() const { return bounds_; }

   private:
    struct Cell {
      std::vector<uint64_t> buckets;  // per bound, not cumulative; the last is (last bound, +Inf]
      double sum = 0;
      uint64_t count = 0;
    };
    Histogram(std::string name, std::string help, std::vector<std::string> label_names,
              std::vector<double> bounds);
    const char* type() const override { return "histogram"; }
    void render(std::string& out) const override;
    Cell& cell(const std::vector<std::string>& label_values);  // under mu_
    std::vector<double> bounds_;  // finite, strictly increasing; +Inf is implied
    std::map<std::vector<std::string>, Cell> cells_;
    friend class MetricsRegistry;
  };

  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Declare a family, or return the one already declared under `name`. Declaring a name again
  // with another kind, other label names or (histograms) other bounds throws InputError, as do
  // invalid names; the help text of the first declaration is kept. A counter's name is compared
  // without the _total suffix, so "x" and "x_total" are the same counter.
  // Histogram bounds must be strictly increasing and not NaN; a trailing +Inf is accepted and
  // dropped (the +Inf bucket is always there).
  Counter& counter(const std::string& name, const std::string& help,
                   std::vector<std::string> label_names = {});
  Gauge& gauge(const std::string& name, const std::string& help,
               std::vector<std::string> label_names = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> upper_bounds, std::vector<std::string> label_names = {});

  // Every family in the text exposition format 0.0.4, each line ending in "\n".
  std::string render() const;

 private:
  // Finds `rendered_name` (checking it is of type T) or creates it with `make`.
  template <class T, class Make>
  T& declare(const std::string& rendered_name, const std::vector<std::string>& label_names,
             Make make);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;     // declaration order
  std::unordered_map<std::string, Family*> by_name_;  // rendered name -> family
  // Every sample name a family writes (a histogram's _bucket/_sum/_count too) -> its family, so
  // that a gauge "x_count" cannot be declared beside a histogram "x": the scrape would be
  // ambiguous.
  std::unordered_map<std::string, Family*> sample_names_;
};

// Formats a sample value as the rules above say; exposed for tests and other exporters.
std::string format_metric_value(double v);

}  // namespace blockattn::serve
