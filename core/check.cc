#include "core/check.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace strait {
namespace {

std::atomic<uint64_t> bug_count{0};

#ifdef NDEBUG
std::atomic<int64_t> last_bug_log_s{0};

int64_t MonotonicSeconds() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return now.tv_sec;
}
#endif

}  // namespace

void CheckFailed(const char* file, int line, const char* condition) {
  // stdio rather than the logger: the logger itself may be what is broken.
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

void ReportBug([[maybe_unused]] const char* file, [[maybe_unused]] int line,
               [[maybe_unused]] const char* message) {
  bug_count.fetch_add(1, std::memory_order_relaxed);
#ifndef NDEBUG
  CheckFailed(file, line, message);
#else
  int64_t now_s = MonotonicSeconds();
  int64_t last_s = last_bug_log_s.load(std::memory_order_relaxed);
  if (now_s != last_s &&
      last_bug_log_s.compare_exchange_strong(last_s, now_s, std::memory_order_relaxed)) {
    std::fprintf(stderr, "%s:%d: bug: %s (%llu so far)\n", file, line, message,
                 static_cast<unsigned long long>(bug_count.load(std::memory_order_relaxed)));
  }
#endif
}

uint64_t BugCount() { return bug_count.load(std::memory_order_relaxed); }

}  // namespace strait
