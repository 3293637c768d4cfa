#pragma once

// SOCKS5 (RFC 1928) with username/password authentication (RFC 1929): incremental parsers for the
// three client messages and writers for the server's answers.
//
// Pure functions over caller-owned memory: no allocation, no sockets. Each parser looks at the
// start of `bytes` and answers kIncomplete (read more and call again with the longer buffer),
// kComplete with the number of bytes consumed, or kError with what to tell the client. A client
// may pipeline greeting, authentication and request in one write, so the caller feeds each parser
// the bytes the previous one left:
//
//   Socks5Greeting greeting;
//   Socks5ParseResult r = ParseSocks5Greeting(bytes, allow_no_auth, &greeting);
//   // kComplete: send WriteSocks5MethodSelection(greeting.method); if it is 0xFF, close.
//   bytes.remove_prefix(r.consumed);
//   Socks5Credentials credentials;
//   r = ParseSocks5Auth(bytes, &credentials);   // when method 0x02 was chosen
//   ...
//   Socks5Request request;
//   r = ParseSocks5Request(bytes, &request);
//   // kComplete: connect, then WriteSocks5Reply(0x00, &bound_address); bytes after
//   // r.consumed are early data for the target.
//
// Parsed views (user name, password, domain) point into `bytes`; keep that buffer while they are
// used. Decisions beyond the RFCs:
// - PLEN 0 (an empty password) is accepted although RFC 1929 says 1..255: curl sends it when the
//   proxy URL names a user without a password (`socks5h://alice_c_us@host`), and it lets a client
//   on an allowlisted network carry only its routing string. The credential check decides whether
//   an empty password is good enough. ULEN 0 is refused: every account has a name.
// - A domain must pass the same host syntax as HTTP targets (net/host_syntax.h), so the two front
//   ends accept the same names; an IP literal sent as a domain is recognised as an address.
// - Port 0 is refused, as in HTTP.
// - Framing errors (wrong version, reserved byte, malformed domain or port) close the connection
//   without an answer (DESIGN.md's bad_request row); an unsupported command answers 0x07 and an
//   unsupported address type 0x08, as RFC 1928 defines.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error_token.h"
#include "net/host_syntax.h"

namespace strait::net {

inline constexpr uint8_t kSocks5Version = 0x05;
inline constexpr uint8_t kSocks5AuthVersion = 0x01;  // RFC 1929 subnegotiation version

inline constexpr uint8_t kSocks5MethodNoAuth = 0x00;
inline constexpr uint8_t kSocks5MethodUserPass = 0x02;
inline constexpr uint8_t kSocks5MethodNoAcceptable = 0xff;

inline constexpr uint8_t kSocks5CommandConnect = 0x01;

inline constexpr uint8_t kSocks5AddressIpv4 = 0x01;
inline constexpr uint8_t kSocks5AddressDomain = 0x03;
inline constexpr uint8_t kSocks5AddressIpv6 = 0x04;

// RFC 1928 REP values (section 6).
inline constexpr uint8_t kSocks5ReplySucceeded = 0x00;
inline constexpr uint8_t kSocks5ReplyGeneralFailure = 0x01;
inline constexpr uint8_t kSocks5ReplyNotAllowed = 0x02;
inline constexpr uint8_t kSocks5ReplyNetworkUnreachable = 0x03;
inline constexpr uint8_t kSocks5ReplyHostUnreachable = 0x04;
inline constexpr uint8_t kSocks5ReplyConnectionRefused = 0x05;
inline constexpr uint8_t kSocks5ReplyTtlExpired = 0x06;
inline constexpr uint8_t kSocks5ReplyCommandNotSupported = 0x07;
inline constexpr uint8_t kSocks5ReplyAddressTypeNotSupported = 0x08;

// Longest messages: a greeting with 255 methods, an authentication with two 255-byte fields, a
// request with a 255-byte domain. A buffer of kMaxSocks5HandshakeBytes holds all three.
inline constexpr size_t kMaxSocks5GreetingBytes = 2 + 255;
inline constexpr size_t kMaxSocks5AuthBytes = 3 + 255 + 255;
inline constexpr size_t kMaxSocks5RequestBytes = 4 + 1 + 255 + 2;
inline constexpr size_t kMaxSocks5HandshakeBytes =
    kMaxSocks5GreetingBytes + kMaxSocks5AuthBytes + kMaxSocks5RequestBytes;

// Largest reply WriteSocks5Reply() writes (IPv6 bound address).
inline constexpr size_t kMaxSocks5ReplyBytes = 4 + 16 + 2;

enum class Socks5ParseStatus : uint8_t { kIncomplete, kComplete, kError };

enum class Socks5ParseError : uint8_t {
  kNone,
  kBadVersion,              // VER is not 5 (greeting, request)
  kNoMethods,               // NMETHODS is 0
  kBadAuthVersion,          // RFC 1929 VER is not 1
  kEmptyUsername,           // ULEN is 0
  kUnsupportedCommand,      // CMD is not CONNECT (BIND, UDP ASSOCIATE, or unknown)
  kBadReserved,             // RSV is not 0
  kUnsupportedAddressType,  // ATYP is not 1, 3 or 4
  kBadDomain,               // empty, or fails the host syntax
  kBadPort,                 // port 0
};

struct Socks5ParseResult {
  Socks5ParseStatus status = Socks5ParseStatus::kIncomplete;
  Socks5ParseError error = Socks5ParseError::kNone;
  // For kError: what to send before closing. kReply sends a request reply with `reply_code`;
  // kAuthFailure sends RFC 1929 status 0x01; kClose sends nothing.
  Socks5Action action = Socks5Action::kClose;
  uint8_t reply_code = 0;
  // For kComplete: bytes of the message, which the next parser must not see.
  size_t consumed = 0;
};

struct Socks5Greeting {
  bool offered_no_auth = false;
  bool offered_user_pass = false;
  // What the server answers: 0x02 whenever offered (so a client that has credentials sends its
  // routing string), else 0x00 if offered and allowed, else 0xFF (then close).
  uint8_t method = kSocks5MethodNoAcceptable;
};

struct Socks5Credentials {
  std::string_view user;      // 1..255 bytes, any values
  std::string_view password;  // 0..255 bytes, any values
};

struct Socks5Request {
  uint8_t address_type = 0;  // as sent: kSocks5AddressIpv4, ...Domain or ...Ipv6
  // The target: kIpv4 / kIpv6 with `address` filled, or kName with `domain` to resolve. A domain
  // that spells an IP literal ("10.0.0.1") comes out as that address, with `domain` still set.
  HostAddress address;
  std::string_view domain;  // ATYP 3 only
  uint16_t port = 0;
};

// Parses `VER NMETHODS METHODS...` and chooses the method (see Socks5Greeting::method).
Socks5ParseResult ParseSocks5Greeting(std::string_view bytes, bool allow_no_auth,
                                      Socks5Greeting* greeting);

// Parses the RFC 1929 `VER ULEN UNAME PLEN PASSWD` message.
Socks5ParseResult ParseSocks5Auth(std::string_view bytes, Socks5Credentials* credentials);

// Parses `VER CMD RSV ATYP DST.ADDR DST.PORT`. Errors are reported as soon as the bytes that show
// them have arrived (a BIND is refused after two bytes).
Socks5ParseResult ParseSocks5Request(std::string_view bytes, Socks5Request* request);

// Short English text for an error, for logs.
std::string_view Socks5ParseErrorText(Socks5ParseError error);

// Writers: each returns the bytes written, or 0 when `cap` is too small.

// `05 <method>`.
size_t WriteSocks5MethodSelection(uint8_t method, char* out, size_t cap);

// `01 00` on success, `01 01` on failure.
size_t WriteSocks5AuthStatus(bool success, char* out, size_t cap);

// `05 <reply_code> 00 <ATYP> <BND.ADDR> <BND.PORT>`. `bound` is an AF_INET or AF_INET6 address
// (the exit-side socket's local address, which RFC 1928 asks for); nullptr or any other family
// writes the IPv4 zero address and port 0, as servers do for failures.
size_t WriteSocks5Reply(uint8_t reply_code, const sockaddr* bound, char* out, size_t cap);

}  // namespace strait::net
