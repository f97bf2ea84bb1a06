// OUT/metrics.jsonl: the training curve, one JSON object per line, appended as training goes
// (flushed per line, so a killed run keeps what it logged):
//   {"step": 200, "loss": 2.91, "lr": 0.002, "tokens_per_s": 1.4e6, "tokens": 13107200}
//   {"step": 200, "val_loss": 3.02, "val": {"corpus": 3.10, "synth": 2.61}}
// A resumed run appends; steps between its checkpoint and an interruption then appear twice,
// and readers keep the last line of each (step, kind).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace blockattn::train {

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path);  // IoError if it cannot be opened for appending
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void log_step(int64_t step, double loss, double lr, double tokens_per_s, int64_t tokens);
  void log_validation(int64_t step, double mean,
                      const std::vector<std::pair<std::string, double>>& per_source);

 private:
  void write(const std::string& line);
  std::FILE* file_;
};

}  // namespace blockattn::train
