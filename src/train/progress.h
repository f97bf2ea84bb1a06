// The one-line training progress display on stderr (torch-free).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace blockattn::train {

class ProgressLine {
 public:
  // On a terminal the line is redrawn in place every step; otherwise a plain line is printed
  // every `every` steps (and on the last).
  ProgressLine(std::FILE* out, int64_t total_steps, int64_t every);
  void update(int64_t step, double loss, double lr, double tokens_per_s, double eta_s);
  // Prints a whole line (ending the in-place one first).
  void message(const std::string& line);

 private:
  std::FILE* out_;
  bool tty_;
  int64_t total_, every_;
  bool dirty_ = false;
};

std::string format_duration(double seconds);  // "1h02m", "3m07s", "12s"

}  // namespace blockattn::train
