#pragma once

// Logging: the process log (start-up, errors, warnings) and the access log (one line per
// tunnel) are separate spdlog loggers. The access log goes through spdlog's asynchronous queue
// so a shard never waits on the disk; the queue blocks rather than drops when full, because an
// access log with silent holes is worse than a briefly slower shard.
//
// Data-path warnings go through a LogRateLimiter so a flood of bad clients cannot flood the log.
// Tunnel lines start with `[s<shard> t<tunnel>]`.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace strait::core {

// Sets up both loggers. `level` is trace|debug|info|warn|error|off; `access_log` is "-" for
// stdout, "" for none, else a file path (appended to).
absl::Status InitLogging(const std::string& level, const std::string& access_log);

// Client-supplied text made safe for one log line: bytes outside printable ASCII, and `"` and
// `\`, become \xNN escapes, so no input can start a line or forge a field. LogToken also
// escapes spaces and `=`, for `key=value` fields; LogQuoted keeps spaces, for `key="..."`.
std::string LogToken(std::string_view text);
std::string LogQuoted(std::string_view text);

// Flushes and drops the loggers (at exit, so queued access lines reach the file).
void ShutdownLogging();

spdlog::logger& Log();

// Null when the access log is off.
spdlog::logger* AccessLog();

// Allows `per_second` lines per second and counts the rest, so the next allowed line can say how
// many were dropped. One per call site and thread (make it thread_local or a shard member).
class LogRateLimiter {
 public:
  explicit LogRateLimiter(uint32_t per_second = 10) : per_second_(per_second) {}

  // True if a line may be logged now; *dropped receives the lines suppressed since the last one.
  bool Allow(int64_t now_ms, uint64_t* dropped);

 private:
  uint32_t per_second_;
  int64_t window_start_ms_ = 0;
  uint32_t in_window_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace strait::core
