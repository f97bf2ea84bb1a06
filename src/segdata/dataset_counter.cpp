#include "segdata/dataset_counter.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/parallel.h"

namespace blockattn::segment {

DatasetCounter DatasetCounter::from_tokenizer_file(const std::string& path) {
  std::shared_ptr<const Tokenizer> tok(Tokenizer::from_file(path).release());
  DatasetCounter c;
  c.tokenizer_ = tok;
  c.fn_ = [t = tok.get()](std::string_view s) { return t->encode(s, false).size(); };
  c.description_ = tok->kind() + " tokenizer " + path + " (fingerprint " + tok->fingerprint() + ")";
  return c;
}

DatasetCounter DatasetCounter::approximate(double bytes_per_token) {
  if (!(bytes_per_token > 0))
    throw InputError("approximate token count: bytes per token must be > 0");
  DatasetCounter c;
  c.fn_ = [bytes_per_token](std::string_view s) {
    return static_cast<size_t>(std::ceil(static_cast<double>(s.size()) / bytes_per_token));
  };
  char buf[64];
  std::snprintf(buf, sizeof buf, "approximate: %.2f bytes/token", bytes_per_token);
  c.description_ = buf;
  return c;
}

DatasetCounter DatasetCounter::custom(Fn fn, std::string description) {
  DatasetCounter c;
  c.fn_ = std::move(fn);
  c.description_ = std::move(description);
  return c;
}

std::vector<size_t> DatasetCounter::count_many(const std::vector<std::string_view>& texts,
                                               unsigned threads) const {
  std::vector<size_t> out(texts.size());
  const unsigned n =
      std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(texts.size() / 64 + 1)));
  if (n == 1) {
    for (size_t i = 0; i < texts.size(); ++i) out[i] = fn_(texts[i]);
    return out;
  }
  // Work stealing in small batches: block sizes vary by orders of magnitude.
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  run_workers(n, [&](size_t) {
    try {
      for (;;) {
        const size_t b = next.fetch_add(64);
        if (b >= texts.size() || failed) return;
        const size_t e = std::min(texts.size(), b + 64);
        for (size_t i = b; i < e; ++i) out[i] = fn_(texts[i]);
      }
    } catch (...) {
      failed = true;  // the other workers stop at their next batch
      throw;
    }
  });
  return out;
}

}  // namespace blockattn::segment
