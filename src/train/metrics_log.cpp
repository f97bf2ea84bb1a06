#include "train/metrics_log.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"

namespace blockattn::train {

MetricsLog::MetricsLog(const std::string& path) : file_(std::fopen(path.c_str(), "a")) {
  if (!file_) throw IoError("cannot open " + path + " for appending");
}

MetricsLog::~MetricsLog() { std::fclose(file_); }

void MetricsLog::write(const std::string& line) {
  std::fputs((line + "\n").c_str(), file_);
  std::fflush(file_);
}

void MetricsLog::log_step(int64_t step, double loss, double lr, double tokens_per_s,
                          int64_t tokens) {
  write(nlohmann::json{{"step", step},
                       {"loss", loss},
                       {"lr", lr},
                       {"tokens_per_s", tokens_per_s},
                       {"tokens", tokens}}
            .dump());
}

void MetricsLog::log_validation(int64_t step, double mean,
                                const std::vector<std::pair<std::string, double>>& per_source) {
  nlohmann::json val = nlohmann::json::object();
  for (const auto& [name, loss] : per_source) val[name.empty() ? "data" : name] = loss;
  write(nlohmann::json{{"step", step}, {"val_loss", mean}, {"val", val}}.dump());
}

}  // namespace blockattn::train
