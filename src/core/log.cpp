#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace blockattn {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarn)};
std::mutex g_mu;
}  // namespace

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log_message(LogLevel level, const std::string& msg) {
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s: %s\n", kNames[static_cast<int>(level)], msg.c_str());
}

}  // namespace blockattn
