#pragma once

// ErrorToken: the one reason a tunnel was refused or failed, and everything a front end needs to
// say it — the HTTP status and reason phrase, the RFC 9209 Proxy-Status error type, the reason
// token written in `details`, the access log and the metrics, the SOCKS5 answer, and which side
// of the tunnel failed. The table is DESIGN.md's "Errors and exit information", row by row, and
// is the only place these mappings live.
//
//   ErrorToken token = ErrorToken::kTargetRefused;
//   HttpStatus(token).code == 502;
//   ProxyStatusError(token) == "connection_refused";
//   ReasonToken(token) == "target_refused";
//   Socks5Reply(token).code == 0x05;
//
// Every accessor is constexpr, allocates nothing and is safe from any thread. An out-of-range
// value (a cast from a corrupt byte) maps to kUnavailable's row rather than reading past the table.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strait {

enum class ErrorToken : uint8_t {
  kNone = 0,           // success; the 200 / SOCKS5 0x00 row
  kBadRequest,         // malformed request
  kAuthRequired,       // no credentials
  kAuthFailed,         // wrong credentials
  kBadRouting,         // invalid routing string (details name the part)
  kPolicyDenied,       // target or port not allowed
  kLimitExceeded,      // too many tunnels, rate, quota
  kNoExit,             // no exit matches the targeting (details name the constraint)
  kSessionExitGone,    // the exit of a strict sticky session is gone
  kTargetRefused,      // the target refused the connection
  kTargetUnreachable,  // the target is unreachable
  kDnsFailed,          // the target name does not resolve
  kTargetTimeout,      // connecting to the target timed out
  kUnavailable,        // draining or overloaded
};

inline constexpr size_t kErrorTokenCount = static_cast<size_t>(ErrorToken::kUnavailable) + 1;

// Which side of a tunnel caused the outcome (Pingora's habit: a log line says whose fault it was).
enum class TunnelSide : uint8_t {
  kNone,      // nothing failed
  kClient,    // the request, its credentials or what it asked for
  kExit,      // no usable exit
  kTarget,    // the target or its name
  kInternal,  // Strait itself (draining, overloaded)
};

struct HttpStatusLine {
  int code;
  std::string_view reason_phrase;
};

// What a SOCKS5 front end answers. RFC 1928 has no reply before authentication succeeds, so the
// rows that fail earlier say "close the connection" or "fail the RFC 1929 subnegotiation".
enum class Socks5Action : uint8_t {
  kReply,        // send a reply with `code`, then close unless it is 0x00
  kAuthFailure,  // send RFC 1929 status 0x01 and close
  kClose,        // close without an answer: the peer is not speaking the protocol
};

struct Socks5Answer {
  Socks5Action action;
  uint8_t code;            // the RFC 1928 REP field, for kReply
  uint8_t alternate_code;  // a second allowed code for the same token (0x03 for
                           // ENETUNREACH under kTargetUnreachable), else equal to `code`
};

struct ErrorTokenRow {
  ErrorToken token;
  HttpStatusLine http;
  std::string_view proxy_status_error;  // RFC 9209 error type; empty for kNone
  std::string_view reason_token;
  Socks5Answer socks5;
  TunnelSide failed_side;
};

// DESIGN.md's table, indexed by ErrorToken. Tests check every row against the document.
// One row per token reads better than clang-format's one field per line.
// clang-format off
inline constexpr ErrorTokenRow kErrorTokenTable[kErrorTokenCount] = {
    {ErrorToken::kNone,
     {200, "OK"},
     "",
     "ok",
     {Socks5Action::kReply, 0x00, 0x00},
     TunnelSide::kNone},
    {ErrorToken::kBadRequest,
     {400, "Bad Request"},
     "http_request_error",
     "bad_request",
     {Socks5Action::kClose, 0, 0},
     TunnelSide::kClient},
    {ErrorToken::kAuthRequired,
     {407, "Proxy Authentication Required"},
     "http_request_denied",
     "auth_required",
     {Socks5Action::kAuthFailure, 0, 0},
     TunnelSide::kClient},
    {ErrorToken::kAuthFailed,
     {407, "Proxy Authentication Required"},
     "http_request_denied",
     "auth_failed",
     {Socks5Action::kAuthFailure, 0, 0},
     TunnelSide::kClient},
    {ErrorToken::kBadRouting,
     {400, "Bad Request"},
     "http_request_error",
     "bad_routing",
     {Socks5Action::kAuthFailure, 0, 0},
     TunnelSide::kClient},
    {ErrorToken::kPolicyDenied,
     {403, "Forbidden"},
     "destination_ip_prohibited",
     "policy_denied",
     {Socks5Action::kReply, 0x02, 0x02},
     TunnelSide::kClient},
    {ErrorToken::kLimitExceeded,
     {429, "Too Many Requests"},
     "http_request_denied",
     "limit_exceeded",
     {Socks5Action::kReply, 0x02, 0x02},
     TunnelSide::kClient},
    {ErrorToken::kNoExit,
     {503, "Service Unavailable"},
     "destination_unavailable",
     "no_exit",
     {Socks5Action::kReply, 0x04, 0x04},
     TunnelSide::kExit},
    {ErrorToken::kSessionExitGone,
     {502, "Bad Gateway"},
     "destination_unavailable",
     "session_exit_gone",
     {Socks5Action::kReply, 0x04, 0x04},
     TunnelSide::kExit},
    {ErrorToken::kTargetRefused,
     {502, "Bad Gateway"},
     "connection_refused",
     "target_refused",
     {Socks5Action::kReply, 0x05, 0x05},
     TunnelSide::kTarget},
    {ErrorToken::kTargetUnreachable,
     {502, "Bad Gateway"},
     "destination_ip_unroutable",
     "target_unreachable",
     {Socks5Action::kReply, 0x04, 0x03},
     TunnelSide::kTarget},
    {ErrorToken::kDnsFailed,
     {502, "Bad Gateway"},
     "dns_error",
     "dns_failed",
     {Socks5Action::kReply, 0x04, 0x04},
     TunnelSide::kTarget},
    {ErrorToken::kTargetTimeout,
     {504, "Gateway Timeout"},
     "connection_timeout",
     "target_timeout",
     {Socks5Action::kReply, 0x06, 0x06},
     TunnelSide::kTarget},
    {ErrorToken::kUnavailable,
     {503, "Service Unavailable"},
     "proxy_internal_response",
     "unavailable",
     {Socks5Action::kReply, 0x01, 0x01},
     TunnelSide::kInternal},
};
// clang-format on

// The row of `token`; an out-of-range value gets kUnavailable's row.
constexpr const ErrorTokenRow& ErrorTokenInfo(ErrorToken token) {
  size_t index = static_cast<size_t>(token);
  if (index >= kErrorTokenCount) [[unlikely]] {
    index = static_cast<size_t>(ErrorToken::kUnavailable);
  }
  return kErrorTokenTable[index];
}

constexpr HttpStatusLine HttpStatus(ErrorToken token) { return ErrorTokenInfo(token).http; }

// The RFC 9209 error type for `error=` in Proxy-Status; empty for kNone.
constexpr std::string_view ProxyStatusError(ErrorToken token) {
  return ErrorTokenInfo(token).proxy_status_error;
}

// The reason token (`bad_request`, `auth_required`, ...): the first word of Proxy-Status
// `details`, the access log's error field and the metrics label. "ok" for kNone.
constexpr std::string_view ReasonToken(ErrorToken token) {
  return ErrorTokenInfo(token).reason_token;
}

constexpr Socks5Answer Socks5Reply(ErrorToken token) { return ErrorTokenInfo(token).socks5; }

// The side whose failure the token reports.
constexpr TunnelSide FailedSide(ErrorToken token) { return ErrorTokenInfo(token).failed_side; }

// "none", "client", "exit", "target", "internal": for the access log.
std::string_view TunnelSideName(TunnelSide side);

// The token whose ReasonToken() is `reason`, for parsing logs and configuration; false when none
// matches. Case-sensitive: reason tokens are lower case by definition.
bool ErrorTokenFromReason(std::string_view reason, ErrorToken* token);

// The table is indexed by the enum value; keep them in step.
static_assert([] {
  for (size_t i = 0; i < kErrorTokenCount; ++i) {
    if (static_cast<size_t>(kErrorTokenTable[i].token) != i) {
      return false;
    }
  }
  return true;
}());

}  // namespace strait
