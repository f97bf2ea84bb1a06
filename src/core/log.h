// Minimal leveled logging to stderr. The CLI sets the level from --verbose / --quiet.
#pragma once

#include <sstream>
#include <string>

namespace blockattn {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_message(LogLevel level, const std::string& msg);

}  // namespace blockattn

#define BA_LOG(level, expr)                                            \
  do {                                                                 \
    if (static_cast<int>(level) >= static_cast<int>(::blockattn::log_level())) { \
      std::ostringstream ba_log_os_;                                   \
      ba_log_os_ << expr;                                              \
      ::blockattn::log_message(level, ba_log_os_.str());               \
    }                                                                  \
  } while (0)
#define BA_DEBUG(expr) BA_LOG(::blockattn::LogLevel::kDebug, expr)
#define BA_INFO(expr) BA_LOG(::blockattn::LogLevel::kInfo, expr)
#define BA_WARN(expr) BA_LOG(::blockattn::LogLevel::kWarn, expr)
