#include "train/progress.h"

#include <unistd.h>

namespace blockattn::train {

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(t / 3600), (long long)(t % 3600 / 60));
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
  else std::snprintf(buf, sizeof buf, "%llds", (long long)t);
  return buf;
}

ProgressLine::ProgressLine(std::FILE* out, int64_t total, int64_t every)
    : out_(out), tty_(out && ::isatty(::fileno(out))), total_(total), every_(every > 0 ? every : 1) {}

void ProgressLine::update(int64_t step, double loss, double lr, double tps, double eta_s) {
  if (!out_) return;
  if (!tty_ && step % every_ != 0 && step != total_) return;
  std::fprintf(out_, "%sstep %lld/%lld  loss %.4f  lr %.3g  %.0f tok/s  ETA %s%s", tty_ ? "\r\033[K" : "",
               (long long)step, (long long)total_, loss, lr, tps, format_duration(eta_s).c_str(), tty_ ? "" : "\n");
  std::fflush(out_);
  dirty_ = tty_;
}

void ProgressLine::message(const std::string& line) {
  if (!out_) return;
  std::fprintf(out_, "%s%s\n", dirty_ ? "\n" : "", line.c_str());
  std::fflush(out_);
  dirty_ = false;
}

}  // namespace blockattn::train
