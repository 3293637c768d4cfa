#pragma once

// HTTP/1.x proxy request heads: parsing, Basic credentials, and the replies Strait writes.
//
// Pure functions over caller-owned memory: no allocation, no sockets, no clock, no locale. The
// shard loop reads bytes into its buffer and calls ParseHttpRequestHead() after each read; the
// parsed head holds views into that buffer, so the buffer must stay put (no compaction, no
// reuse) for as long as the head is used.
//
//   HttpRequestHead head;
//   HttpParseResult result = ParseHttpRequestHead(buffer, kMaxHeadBytes, &head);
//   if (result.status == HttpParseStatus::kIncomplete) { read more; }
//   if (result.status == HttpParseStatus::kError) {
//     size_t n = WriteHttpErrorReply(ErrorToken::kBadRequest, HttpParseErrorText(result.error),
//                                    true, out, sizeof(out));   // then send and close
//   }
//   // kComplete: bytes from result.head_length on are early data for the target.
//
// What is accepted (a proxy's view of RFC 9112, strict where laxness lets two parsers disagree):
// - Request line `METHOD SP target SP HTTP/1.x CRLF`; method a token; single spaces; version
//   HTTP/1.0 or HTTP/1.1. Every line ends in CRLF; a bare CR or LF anywhere is an error.
// - CONNECT takes authority-form `host:port` (port 1..65535 required; host a name, a dotted quad
//   or a bracketed IPv6 literal; see net/host_syntax.h). Other methods take absolute-form
//   `http://host[:port][/path][?query]` (port 80 by default). `https://` absolute-form, origin-form
//   (`/path`), asterisk-form and userinfo (`user@host`) are errors: a proxy cannot serve them.
// - At most kMaxHttpHeaders header lines; names are tokens followed directly by `:`; values
//   hold no control byte but HTAB. Obsolete line folding is an error.
// - Request-smuggling guards: duplicate Content-Length, a Content-Length that is not a plain
//   decimal, Transfer-Encoding together with Content-Length, duplicate Host and duplicate
//   Proxy-Authorization are errors, and so is a Connection header naming Content-Length,
//   Transfer-Encoding or Host (a hop-by-hop framing header would desynchronise the origin).
// - No Host header is required: a CONNECT is routed by its target alone (DESIGN.md).
//
// A head over `max_head_bytes` is kHeadTooLarge. Strait answers it with 400 bad_request (not
// 431), so that every malformed request maps to the one ErrorToken row DESIGN.md gives it; the
// details say which limit was hit.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error_token.h"
#include "net/host_syntax.h"

namespace strait::net {

inline constexpr size_t kMaxHttpHeaders = 100;

enum class HttpParseStatus : uint8_t { kIncomplete, kComplete, kError };

enum class HttpParseError : uint8_t {
  kNone,
  kHeadTooLarge,        // no end of head within max_head_bytes
  kBareLineBreak,       // CR not followed by LF, or LF not preceded by CR
  kBadRequestLine,      // not `METHOD SP target SP version`
  kBadMethod,           // method is not a token
  kUnsupportedVersion,  // HTTP/x.y other than 1.0 and 1.1
  kBadTarget,           // target of the wrong form for its method, or malformed
  kOriginFormTarget,    // `/path`: a request for a server, not a proxy
  kHttpsAbsoluteForm,   // `https://...`: the client must use CONNECT for TLS
  kUserinfoInTarget,    // `http://user@host/` or `user@host:443`
  kBadHost,             // host fails net/host_syntax.h rules
  kBadPort,             // missing, zero, over 65535, or not plain decimal
  kBadHeaderName,       // empty, not a token, or whitespace before `:`
  kBadHeaderValue,      // a control byte (NUL, bare CR, ...) in a value
  kObsFold,             // a header line starting with SP or HTAB
  kTooManyHeaders,      // more than kMaxHttpHeaders
  kDuplicateHost,
  kDuplicateProxyAuthorization,
  kDuplicateContentLength,
  kBadContentLength,  // not 1..19 decimal digits
  kContentLengthWithTransferEncoding,
  kConnectionNamesFramingHeader,  // Connection lists Content-Length, Transfer-Encoding or Host
};

struct HttpParseResult {
  HttpParseStatus status = HttpParseStatus::kIncomplete;
  HttpParseError error = HttpParseError::kNone;
  // For kError: the part of the input at fault (a line, a header, the target), possibly empty.
  std::string_view offending;
  // For kComplete: bytes of the head including the final CRLF CRLF; later bytes are early data.
  size_t head_length = 0;
};

struct HttpHeader {
  std::string_view name;
  std::string_view value;  // without leading and trailing spaces and tabs
};

// A parsed request head. Every view points into the bytes given to ParseHttpRequestHead().
// About 3.4 KiB, nearly all of it the header array: keep one per connection in its state rather
// than on a small stack.
struct HttpRequestHead {
  std::string_view method;
  std::string_view target;   // the request-target as sent
  std::string_view version;  // "HTTP/1.1" or "HTTP/1.0"
  uint8_t version_minor = 1;
  bool is_connect = false;

  // The target's authority (`host:port`, `[v6]:port`, `host`), its host without brackets, the
  // host's kind and address, and the port (explicit, or 80 for absolute-form without one).
  std::string_view authority;
  std::string_view host;
  HostAddress host_address;
  uint16_t port = 0;

  // Absolute-form only: from the first `/` or `?` after the authority to the end of the target,
  // possibly empty (meaning `/`).
  std::string_view path;

  // Values of the headers Strait itself reads; empty when absent. `has_*` tells an empty value
  // apart from a missing header.
  std::string_view proxy_authorization;
  bool has_proxy_authorization = false;
  std::string_view host_header;
  bool has_host_header = false;
  std::string_view transfer_encoding;
  bool has_transfer_encoding = false;
  int64_t content_length = -1;  // -1: no Content-Length header

  HttpHeader headers[kMaxHttpHeaders];
  size_t header_count = 0;
};

// Parses the request head at the start of `bytes`. `bytes` may hold less than a head (kIncomplete:
// call again with more), exactly one, or a head followed by early data (see head_length).
// kIncomplete is returned only while bytes.size() < max_head_bytes; at or past it without an end
// of head the result is kError/kHeadTooLarge. On kComplete `*head` is filled; on other results it
// is unspecified. Costs one pass over the head; repeated calls on a growing buffer rescan it, so a
// client dribbling a head byte by byte costs O(max_head_bytes^2) in the worst case (8 KiB: ~32 M
// byte comparisons in total, bounded by the caller's handshake deadline).
// TODO: each call rescans the head from its first byte; taking the previous call's scan offset
// would make a dribbled head linear.
HttpParseResult ParseHttpRequestHead(std::string_view bytes, size_t max_head_bytes,
                                     HttpRequestHead* head);

// Short English text for an error, used as the specifics in Proxy-Status details.
std::string_view HttpParseErrorText(HttpParseError error);

// Decodes a `Proxy-Authorization` value of the RFC 7617 Basic scheme: `Basic` (any letter case),
// one or more spaces, then standard base64 (padding optional, no other bytes). The decoded text
// goes into `scratch`, must hold a `:` and no control byte; it is split at the first `:` into
// `user` (which therefore has none) and `password` (which may). Both views point into `scratch`.
// Returns false, leaving the outputs unspecified, on any other input or when `scratch_size` is
// smaller than the decoded length (3/4 of the base64 length suffices).
bool DecodeBasicCredentials(std::string_view authorization_value, char* scratch,
                            size_t scratch_size, std::string_view* user,
                            std::string_view* password);

// Longest `details` specifics written into a reply, before escaping; longer input is cut.
inline constexpr size_t kMaxProxyStatusDetails = 200;

// Largest reply WriteHttpErrorReply() can produce; a buffer this size never fails.
inline constexpr size_t kMaxHttpErrorReplyBytes = 640;

// Writes a complete error reply for `token` into `out`:
//   HTTP/1.1 <status> <phrase>
//   Proxy-Authenticate: Basic realm="strait"            (status 407 only)
//   Proxy-Status: strait; error=<RFC 9209 type>; details="<reason token>: <details>"
//   Content-Length: 0
//   Connection: close
// Proxy-Status is written only when `include_proxy_status`; `: <details>` only when `details` is
// not empty. `details` is cut to kMaxProxyStatusDetails bytes, `"` and `\` are escaped and bytes
// outside printable ASCII dropped, so it is always a valid RFC 8941 string. Returns the length
// written, or 0 (nothing usable) when `cap` is too small or `token` is kNone.
size_t WriteHttpErrorReply(ErrorToken token, std::string_view details, bool include_proxy_status,
                           char* out, size_t cap);

// Largest reply WriteHttpConnectEstablished() can produce for an exit id of `exit_id_size` bytes.
constexpr size_t MaxConnectEstablishedBytes(size_t exit_id_size) { return 128 + 2 * exit_id_size; }

// Writes the CONNECT success reply:
//   HTTP/1.1 200 Connection established
//   Proxy-Status: strait; next-hop=<exit id>; details="session_moved"
// The exit id goes out as an RFC 8941 token when it is one (`de-fra-3`), else as a string
// (`"17"`), and is omitted when empty; `details` only when `session_moved`. Without
// `include_proxy_status` the reply is the status line alone. Returns the length, or 0 when `cap`
// is too small.
size_t WriteHttpConnectEstablished(std::string_view exit_id, bool session_moved,
                                   bool include_proxy_status, char* out, size_t cap);

// Writes `head` (an absolute-form request; 0 for a CONNECT) as the request to send to the origin:
// request line in origin-form (`GET /path?q HTTP/1.1`, `/` for an empty path), `Host` set to the
// target's authority (RFC 9112: a proxy replaces any Host the client sent), and every header
// except the hop-by-hop ones: Connection and every header it names, Proxy-Connection,
// Proxy-Authorization, Proxy-Authenticate, Keep-Alive, TE, Upgrade. Transfer-Encoding and Trailer
// pass, because the body is relayed byte for byte and keeps its framing. Ends with
// `Connection: close`, since the relay carries one request per connection. Kept headers are
// written `Name: value`. Returns the length, or 0 when `cap` is too small;
// MaxForwardedHeadBytes() of the parsed head_length always suffices.
size_t WriteForwardedRequestHead(const HttpRequestHead& head, char* out, size_t cap);

// An upper bound for WriteForwardedRequestHead(): the request line grows by at most 2 bytes, each
// kept header by at most 1 (the space after `:`), and `Connection: close` adds 19.
constexpr size_t MaxForwardedHeadBytes(size_t head_length) {
  return head_length + kMaxHttpHeaders + 32;
}

// True for RFC 9110 token characters (tchar).
bool IsHttpTokenChar(char c);

// ASCII case-insensitive equality, for header names and schemes.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace strait::net
