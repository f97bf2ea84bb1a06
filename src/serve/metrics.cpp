#include "serve/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <type_traits>

#include "blockattn/error.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace blockattn::serve {

namespace {

bool is_name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool valid_name(const std::string& s, bool colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (!is_name_char(s[i], i == 0, colon)) return false;
  return true;
}

void check_metric_name(const std::string& name) {
  if (!valid_name(name, true))
    throw InputError("metric name \"" + name + "\" does not match [a-zA-Z_:][a-zA-Z0-9_:]*");
}

// HELP text: backslash and newline escaped (the format's rule for HELP lines).
void append_help_escaped(std::string& out, const std::string& s) {
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

// Label values additionally escape the double quote that would end them.
void append_label_escaped(std::string& out, const std::string& s) {
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

}  // namespace

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return "0";  // -0 too: "-0" would only confuse a reader
  char buf[64];
  // Up to 2^53 every integer is exact, and counters of tokens or bytes should read as integers
  // ("1000000"), where the shortest form below would give "1e+06".
  if (std::trunc(v) == v && std::fabs(v) <= 9007199254740992.0) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // Shortest text that parses back to the same double ("0.25", "1e-05", "1.5e+20").
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::vector<double> latency_buckets_seconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

// ---------------------------------------------------------------- Family

MetricsRegistry::Family::Family(std::string name, std::string help,
                                std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  if (find_invalid_utf8(help_) != std::string::npos)
    throw InputError("metric " + name_ + ": help text is not valid UTF-8");
  for (size_t i = 0; i < label_names_.size(); ++i) {
    const std::string& l = label_names_[i];
    if (!valid_name(l, false) || l.compare(0, 2, "__") == 0)
      throw InputError("metric " + name_ + ": label name \"" + l +
                       "\" does not match [a-zA-Z_][a-zA-Z0-9_]* or starts with \"__\"");
    if (std::find(label_names_.begin(), label_names_.begin() + i, l) != label_names_.begin() + i)
      throw InputError("metric " + name_ + ": label name \"" + l + "\" given twice");
  }
}

void MetricsRegistry::Family::check_label_values(const std::vector<std::string>& values) const {
  if (values.size() != label_names_.size())
    throw InputError("metric " + name_ + ": " + std::to_string(values.size()) +
                     " label values for labels " + join(label_names_));
  for (size_t i = 0; i < values.size(); ++i)
    if (find_invalid_utf8(values[i]) != std::string::npos)
      throw InputError("metric " + name_ + ": value of label " + label_names_[i] +
                       " is not valid UTF-8");
}

void MetricsRegistry::Family::append_labels(std::string& out,
                                            const std::vector<std::string>& values,
                                            const std::string& extra) const {
  if (values.empty() && extra.empty()) return;
  out += '{';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += label_names_[i];
    out += "=\"";
    append_label_escaped(out, values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!values.empty()) out += ',';
    out += extra;
  }
  out += '}';
}

void MetricsRegistry::Family::append_header(std::string& out, const char* type) const {
  out += "# HELP " + name_ + ' ';
  append_help_escaped(out, help_);
  out += "\n# TYPE " + name_ + ' ' + type + '\n';
}

// ---------------------------------------------------------------- Counter, Gauge

void MetricsRegistry::Counter::inc(double v, const std::vector<std::string>& label_values) {
  if (std::isnan(v) || v < 0)
    throw InputError("counter " + name_ + ": increment must be >= 0, got " +
                     format_metric_value(v));
  check_label_values(label_values);
  std::lock_guard<std::mutex> lock(mu_);
  values_[label_values] += v;
}

double MetricsRegistry::ScalarFamily::value(const std::vector<std::string>& label_values) const {
  check_label_values(label_values);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(label_values);
  return it == values_.end() ? 0 : it->second;
}

void MetricsRegistry::ScalarFamily::render(std::string& out) const {
  append_header(out, type());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, v] : values_) {
    out += name_;
    append_labels(out, labels);
    out += ' ' + format_metric_value(v) + '\n';
  }
}

void MetricsRegistry::Gauge::set(double v, const std::vector<std::string>& label_values) {
  check_label_values(label_values);
  std::lock_guard<std::mutex> lock(mu_);
  values_[label_values] = v;
}

void MetricsRegistry::Gauge::add(double v, const std::vector<std::string>& label_values) {
  check_label_values(label_values);
  std::lock_guard<std::mutex> lock(mu_);
  values_[label_values] += v;
}

// ---------------------------------------------------------------- Histogram

MetricsRegistry::Histogram::Histogram(std::string name, std::string help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds)
    : Family(std::move(name), std::move(help), std::move(label_names)), bounds_(std::move(bounds)) {
  if (std::find(label_names_.begin(), label_names_.end(), "le") != label_names_.end())
    throw InputError("histogram " + name_ + ": label name \"le\" is reserved for the buckets");
  if (!bounds_.empty() && bounds_.back() == std::numeric_limits<double>::infinity())
    bounds_.pop_back();
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]))
      throw InputError("histogram " + name_ + ": bucket bound " + format_metric_value(bounds_[i]) +
                       " (only a last +Inf is allowed)");
    if (i && !(bounds_[i] > bounds_[i - 1]))
      throw InputError("histogram " + name_ + ": bucket bounds must increase strictly (" +
                       format_metric_value(bounds_[i - 1]) + " then " +
                       format_metric_value(bounds_[i]) + ")");
  }
}

MetricsRegistry::Histogram::Cell& MetricsRegistry::Histogram::cell(
    const std::vector<std::string>& label_values) {
  auto it = cells_.find(label_values);
  if (it == cells_.end()) {
    it = cells_.emplace(label_values, Cell()).first;
    it->second.buckets.assign(bounds_.size() + 1, 0);
  }
  return it->second;
}

void MetricsRegistry::Histogram::observe(double v, const std::vector<std::string>& label_values) {
  if (std::isnan(v)) throw InputError("histogram " + name_ + ": cannot observe NaN");
  check_label_values(label_values);
  // `le` is inclusive: v lands in the first bucket whose bound is >= v.
  const size_t b = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  std::lock_guard<std::mutex> lock(mu_);
  Cell& c = cell(label_values);
  ++c.buckets[b];
  c.sum += v;
  ++c.count;
}

uint64_t MetricsRegistry::Histogram::count(const std::vector<std::string>& label_values) const {
  check_label_values(label_values);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cells_.find(label_values);
  return it == cells_.end() ? 0 : it->second.count;
}

double MetricsRegistry::Histogram::sum(const std::vector<std::string>& label_values) const {
  check_label_values(label_values);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cells_.find(label_values);
  return it == cells_.end() ? 0 : it->second.sum;
}

void MetricsRegistry::Histogram::render(std::string& out) const {
  append_header(out, type());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, c] : cells_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += c.buckets[i];
      const std::string le = i < bounds_.size() ? format_metric_value(bounds_[i]) : "+Inf";
      out += name_ + "_bucket";
      append_labels(out, labels, "le=\"" + le + '"');
      out += ' ' + std::to_string(cumulative) + '\n';
    }
    out += name_ + "_sum";
    append_labels(out, labels);
    out += ' ' + format_metric_value(c.sum) + '\n';
    out += name_ + "_count";
    append_labels(out, labels);
    out += ' ' + std::to_string(c.count) + '\n';
  }
}

// ---------------------------------------------------------------- MetricsRegistry

template <class T, class Make>
T& MetricsRegistry::declare(const std::string& rendered_name,
                            const std::vector<std::string>& label_names, Make make) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_name_.find(rendered_name); it != by_name_.end()) {
    T* existing = dynamic_cast<T*>(it->second);
    if (!existing)
      throw InputError("metric " + rendered_name + " is already declared as a " +
                       it->second->type());
    if (existing->label_names_ != label_names)
      throw InputError("metric " + rendered_name + " is already declared with labels " +
                       join(existing->label_names_) + ", not " + join(label_names));
    return *existing;
  }
  std::unique_ptr<T> family = make();  // validates label names and (histograms) bounds
  std::vector<std::string> names = {rendered_name};
  if (std::is_same<T, Histogram>::value)
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      names.push_back(rendered_name + suffix);
  for (const std::string& n : names)
    if (auto it = sample_names_.find(n); it != sample_names_.end())
      throw InputError("metric " + rendered_name + " would write samples named " + n + ", which " +
                       it->second->name_ + " already writes");
  T& ref = *family;
  for (const std::string& n : names) sample_names_[n] = &ref;
  by_name_[rendered_name] = &ref;
  families_.push_back(std::move(family));
  return ref;
}

MetricsRegistry::Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                                   std::vector<std::string> label_names) {
  check_metric_name(name);
  const std::string rendered = ends_with(name, "_total") ? name : name + "_total";
  return declare<Counter>(rendered, label_names, [&] {
    std::unique_ptr<Counter> c(new Counter(rendered, help, label_names));
    if (c->label_names_.empty()) c->values_[{}] = 0;
    return c;
  });
}

MetricsRegistry::Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                               std::vector<std::string> label_names) {
  check_metric_name(name);
  return declare<Gauge>(name, label_names, [&] {
    std::unique_ptr<Gauge> g(new Gauge(name, help, label_names));
    if (g->label_names_.empty()) g->values_[{}] = 0;
    return g;
  });
}

MetricsRegistry::Histogram& MetricsRegistry::histogram(const std::string& name,
                                                       const std::string& help,
                                                       std::vector<double> upper_bounds,
                                                       std::vector<std::string> label_names) {
  check_metric_name(name);
  // Built first, so the bounds are validated and normalised (trailing +Inf dropped) before they
  // are compared with an existing family's.
  std::unique_ptr<Histogram> fresh(new Histogram(name, help, label_names, std::move(upper_bounds)));
  Histogram& h = declare<Histogram>(name, label_names, [&] {
    if (fresh->label_names_.empty()) fresh->cell({});
    return std::move(fresh);
  });
  if (fresh && h.bounds_ != fresh->bounds_)
    throw InputError("histogram " + name + " is already declared with other bucket bounds");
  return h;
}

std::string MetricsRegistry::render() const {
  std::vector<const Family*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    families.reserve(families_.size());
    for (const auto& f : families_) families.push_back(f.get());
  }
  // Families are rendered outside the registry lock: a scrape then never delays a declaration,
  // and each family's lock is held only while its own samples are written.
  std::string out;
  for (const Family* f : families) f->render(out);
  return out;
}

}  // namespace blockattn::serve
