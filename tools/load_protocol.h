#pragma once

// Wire formats spoken by strait_load, with no I/O: the proxy handshakes it sends (HTTP CONNECT
// with Basic auth, SOCKS5 with RFC 1929), the replies it parses (status line and Proxy-Status per
// RFC 9209, SOCKS5 replies), the one-line command protocol of the target server, and the
// routing-string usernames of the bench matrix.
//
// Parsers take the bytes received so far and say whether the message is complete; they never
// allocate and never read past the view they are given.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strait::load {

// ---- HTTP CONNECT ----

// Standard base64 (RFC 4648, with padding) of `input`.
std::string Base64Encode(std::string_view input);

// "CONNECT host:port HTTP/1.1" with Host and, when `user` is not empty, Proxy-Authorization:
// Basic. `authority` is the authority-form target, e.g. "127.0.0.1:19000".
std::string BuildHttpConnect(std::string_view authority, std::string_view user,
                             std::string_view password);

enum class ParseState : uint8_t {
  kIncomplete,  // more bytes needed
  kComplete,
  kMalformed,
};

// What a Proxy-Status header (RFC 9209) says about this proxy's hop. Views point into the
// buffer given to the parser.
struct ProxyStatus {
  bool present = false;
  std::string_view proxy_name;  // the first list member's name, e.g. "strait"
  std::string_view next_hop;    // next-hop parameter, unquoted
  std::string_view error;       // error parameter, e.g. "destination_unavailable"
  // The reason token: `details` up to its first ':' (DESIGN's convention
  // `details="no_exit: c=zz"`), or all of `details` when it has no ':'.
  std::string_view reason;
};

// Parses the value of one Proxy-Status header (its first list member only).
ProxyStatus ParseProxyStatus(std::string_view value);

struct HttpReply {
  ParseState state = ParseState::kIncomplete;
  int status = 0;                // e.g. 200, 407
  size_t header_bytes = 0;       // bytes up to and including the blank line
  ProxyStatus proxy_status;      // views into the parsed buffer
};

// Longest reply head accepted; a proxy sending more is treated as malformed.
inline constexpr size_t kMaxHttpReplyBytes = 8192;

// Parses an HTTP/1.x reply head from the start of `buffer`. Complete once the blank line has
// arrived; bytes after `header_bytes` belong to the tunnel.
HttpReply ParseHttpReply(std::string_view buffer);

// ---- SOCKS5 (RFC 1928) and username/password (RFC 1929) ----

// Greeting offering one method: 0x02 (username/password) when `with_auth`, else 0x00.
std::string BuildSocksGreeting(bool with_auth);

// RFC 1929 request. User and password longer than 255 bytes are cut to 255.
std::string BuildSocksAuth(std::string_view user, std::string_view password);

// CONNECT to an IPv4 address (network order bytes a.b.c.d) and port.
std::string BuildSocksConnectIpv4(uint32_t ipv4_host_order, uint16_t port);

struct SocksReply {
  ParseState state = ParseState::kIncomplete;
  uint8_t code = 0;    // method (greeting), status (auth) or REP (connect)
  size_t bytes = 0;    // length of the reply when complete
};

// Method selection: VER=5, METHOD.
SocksReply ParseSocksMethodReply(std::string_view buffer);
// RFC 1929 status: VER=1, STATUS (0 = success).
SocksReply ParseSocksAuthReply(std::string_view buffer);
// Connect reply: VER=5, REP, RSV, ATYP, BND.ADDR, BND.PORT (IPv4, IPv6 or domain).
SocksReply ParseSocksConnectReply(std::string_view buffer);

// ---- Target command protocol ----
//
// The client opens a connection to the target (directly or through a proxy) and sends one
// command line ending in '\n':
//   PING <token>   -> "PONG <token> <source ip>:<port>\n", then another command may follow
//   QUIT <token>   -> the same reply, then the target closes the connection first, so the
//                     TIME_WAIT state stays on the target's side (its listening port) rather
//                     than on an ephemeral port of the client or of the proxy's outbound leg
//   WHO            -> "<source ip>:<port>\n", then another command may follow
//   ECHO           -> every later byte is sent back until the client's EOF
//   SINK           -> later bytes are counted and dropped; at the client's EOF the target
//                     answers "SUNK <n>\n" and closes
//   SINK <n>       -> the next n bytes are dropped, then "SUNK <n>\n"; another command may follow
//   SOURCE         -> bytes are sent until the client's EOF, then the target closes its side
//   SOURCE <n>     -> n bytes are sent, then another command may follow
//   DUPLEX         -> SINK and SOURCE at once until the client's EOF, then the target closes
//   STATS          -> one line of totals, see TargetStats; then another command may follow
// Anything else gets "ERR <what>\n" and the connection is closed.

enum class CommandKind : uint8_t {
  kInvalid,
  kPing,
  kQuit,
  kWho,
  kEcho,
  kSink,
  kSource,
  kDuplex,
  kStats,
};

inline constexpr uint64_t kUnbounded = UINT64_MAX;
// Longest command line, '\n' included.
inline constexpr size_t kMaxCommandBytes = 128;

struct Command {
  CommandKind kind = CommandKind::kInvalid;
  uint64_t count = kUnbounded;  // SINK / SOURCE byte count
  std::string_view token;       // PING / QUIT token; for kInvalid, what was wrong
};

// Parses one command line without its '\n'.
Command ParseCommand(std::string_view line);

// Totals kept by the target, reported by STATS as
// "STATS tunnels=<n> pings=<n> bytes_in=<n> bytes_out=<n>\n". Payload bytes only: command and
// reply lines are not counted, so a client can compare them with the payload it moved.
struct TargetStats {
  uint64_t tunnels = 0;    // connections accepted, not counting STATS connections
  uint64_t pings = 0;      // PONG replies sent
  uint64_t bytes_in = 0;   // sunk or echoed bytes received
  uint64_t bytes_out = 0;  // sourced or echoed bytes sent
};

std::string FormatStats(const TargetStats& stats);
// False when `line` (without '\n') is not a STATS reply.
bool ParseStats(std::string_view line, TargetStats* stats);

// Parses "PONG <token> <address>" (without '\n'); false when it is not one. `address` is the
// source address as the target saw it.
bool ParsePong(std::string_view line, std::string_view* token, std::string_view* address);

// The IP part of "ip:port" or "[v6]:port"; the input when it has no port.
std::string_view AddressIp(std::string_view address);

// ---- Routing strings ----

enum class RoutingKind : uint8_t {
  kNone,        // no credentials at all
  kPlain,       // the account name alone (what peers accept); rotating for Strait
  kRotating,    // same string as kPlain, named for Strait's rows
  kStickyOne,   // every tunnel in one sticky session
  kStickyMany,  // `sessions` sticky sessions, tunnels spread over them
  kTargeted,    // country and city targeting
};

// Parses "none", "plain", "rotating", "sticky-one", "sticky-many", "targeted".
bool ParseRoutingKind(std::string_view name, RoutingKind* kind);
std::string_view RoutingKindName(RoutingKind kind);

// The username for tunnel number `sequence` of a run: e.g. "bench", "bench_s_one",
// "bench_s_m17", "bench_c_us_city_charlotte". Empty for kNone.
std::string RoutingUser(RoutingKind kind, std::string_view account, uint64_t sequence,
                        uint32_t sessions);

}  // namespace strait::load
