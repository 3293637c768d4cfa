#include "core/logging.h"

#include "fmt/format.h"
#include "spdlog/async.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace strait::core {
namespace {

std::shared_ptr<spdlog::logger> process_log;
std::shared_ptr<spdlog::logger> access_log;

std::string Escape(std::string_view text, bool escape_spaces) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    bool plain =
        byte > 0x20 && byte < 0x7f && c != '"' && c != '\\' && !(escape_spaces && c == '=');
    if (plain || (!escape_spaces && c == ' ')) {
      out.push_back(c);
      continue;
    }
    out += "\\x";
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

}  // namespace

std::string LogToken(std::string_view text) { return Escape(text, /*escape_spaces=*/true); }

std::string LogQuoted(std::string_view text) { return Escape(text, /*escape_spaces=*/false); }

absl::Status InitLogging(const std::string& level, const std::string& access_log_path) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(fmt::format("unknown log level '{}'", level));
  }
  process_log = spdlog::stderr_logger_mt("strait");
  process_log->set_level(parsed);
  process_log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %L %v");
  process_log->flush_on(spdlog::level::warn);

  access_log.reset();
  if (access_log_path.empty()) {
    return absl::OkStatus();
  }
  spdlog::init_thread_pool(64 * 1024, 1);
  try {
    std::shared_ptr<spdlog::sinks::sink> sink;
    if (access_log_path == "-") {
      sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(access_log_path);
    }
    access_log = std::make_shared<spdlog::async_logger>(
        "access", std::move(sink), spdlog::thread_pool(), spdlog::async_overflow_policy::block);
  } catch (const spdlog::spdlog_ex& error) {
    return absl::InvalidArgumentError(
        fmt::format("cannot open access log '{}': {}", access_log_path, error.what()));
  }
  access_log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %v");
  access_log->set_level(spdlog::level::info);
  // File sinks buffer; a line reaches the file within a second even when traffic is light.
  spdlog::register_logger(access_log);
  spdlog::flush_every(std::chrono::seconds(1));
  return absl::OkStatus();
}

void ShutdownLogging() {
  if (access_log) {
    access_log->flush();
  }
  if (process_log) {
    process_log->flush();
  }
  access_log.reset();
  spdlog::shutdown();
}

spdlog::logger& Log() {
  if (!process_log) {
    // Before InitLogging (tests, tools): a plain stderr logger.
    process_log = spdlog::stderr_logger_mt("strait");
    process_log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %L %v");
  }
  return *process_log;
}

spdlog::logger* AccessLog() { return access_log.get(); }

bool LogRateLimiter::Allow(int64_t now_ms, uint64_t* dropped) {
  if (now_ms - window_start_ms_ >= 1000) {
    window_start_ms_ = now_ms;
    in_window_ = 0;
  }
  if (in_window_ >= per_second_) {
    ++dropped_;
    return false;
  }
  ++in_window_;
  *dropped = dropped_;
  dropped_ = 0;
  return true;
}

}  // namespace strait::core
