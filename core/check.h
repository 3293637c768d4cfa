#pragma once

// Invariant checks.
//
//   STRAIT_CHECK(cond)   always on; logs the failed condition and aborts. For states that mean
//                        memory or start-up is broken, never for anything a peer can cause.
//   STRAIT_DCHECK(cond)  debug builds only (compiled out with NDEBUG).
//   STRAIT_BUG(msg)      an impossible state reached at run time: debug builds abort, release
//                        builds count it in strait::BugCount() and carry on, logging at most
//                        once per second so a hot path cannot flood the log.

#include <atomic>
#include <cstdint>

namespace strait {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);
void ReportBug(const char* file, int line, const char* message);

// Number of STRAIT_BUG hits since start; exported as strait_bugs_total.
uint64_t BugCount();

}  // namespace strait

#define STRAIT_CHECK(cond)                              \
  do {                                                  \
    if (!(cond)) [[unlikely]] {                         \
      ::strait::CheckFailed(__FILE__, __LINE__, #cond); \
    }                                                   \
  } while (0)

#ifdef NDEBUG
#define STRAIT_DCHECK(cond) \
  do {                      \
    (void)sizeof(cond);     \
  } while (0)
#else
#define STRAIT_DCHECK(cond) STRAIT_CHECK(cond)
#endif

#define STRAIT_BUG(message) ::strait::ReportBug(__FILE__, __LINE__, message)
