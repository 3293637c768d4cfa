#pragma once

// Early-return helpers for absl::Status code at boundaries (config, admin, start-up). Debian's
// abseil 20220623 ships neither macro, so the project carries its own.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STRAIT_STATUS_CONCAT_INNER(a, b) a##b
#define STRAIT_STATUS_CONCAT(a, b) STRAIT_STATUS_CONCAT_INNER(a, b)

// Returns the status of `expr` from the enclosing function unless it is OK.
#define STRAIT_RETURN_IF_ERROR(expr)         \
  do {                                       \
    ::absl::Status strait_status_ = (expr);  \
    if (!strait_status_.ok()) [[unlikely]] { \
      return strait_status_;                 \
    }                                        \
  } while (0)

// `STRAIT_ASSIGN_OR_RETURN(auto value, MakeValue());` declares `value` from an OK StatusOr, or
// returns its error status from the enclosing function.
#define STRAIT_ASSIGN_OR_RETURN(lhs, expr) \
  STRAIT_ASSIGN_OR_RETURN_IMPL(STRAIT_STATUS_CONCAT(strait_statusor_, __LINE__), lhs, expr)

#define STRAIT_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) [[unlikely]] {                      \
    return std::move(statusor).status();                  \
  }                                                       \
  lhs = std::move(statusor).value()
