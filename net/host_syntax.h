#pragma once

// Syntax of the target hosts and ports that clients name: shared by the HTTP and SOCKS5 codecs so
// both front ends accept exactly the same targets.
//
// A host is an IPv4 dotted quad, an IPv6 literal (RFC 4291 text, no zone id) or a DNS name of
// letters, digits, `-` and `_`. A name whose last label looks numeric (`127.1`, `2130706433`,
// `0x7f.1`) is refused unless it is a canonical dotted quad: resolvers and inet_aton() read such
// names as IPv4 in shorthand forms, which would let a client slip a private address past the
// target policy under a name that does not look like one.
//
// Everything here is pure: no allocation, no locale, no system calls.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strait::net {

enum class HostKind : uint8_t { kName, kIpv4, kIpv6 };

enum class HostError : uint8_t {
  kNone,
  kEmpty,
  kTooLong,       // a name over kMaxHostNameLength bytes
  kBadCharacter,  // a byte outside [A-Za-z0-9._-]
  kEmptyLabel,    // `a..b`, a leading dot, or a lone dot
  kLabelTooLong,  // a label over 63 bytes
  kNumericName,   // the last label is numeric but the whole is no dotted quad
  kBadIpv6,       // contains `:` but is no IPv6 literal
};

// A DNS name's limit in text form, without a trailing dot (RFC 1035 allows 255 octets on the
// wire, which is 253 characters of text).
inline constexpr size_t kMaxHostNameLength = 253;

// What ClassifyHost() found; `address` holds the 4 or 16 bytes of an IP literal in network order.
struct HostAddress {
  HostKind kind = HostKind::kName;
  uint8_t address[16] = {};
};

// Decides whether `host` (no brackets) is a name, an IPv4 or an IPv6 literal and validates it.
// A single trailing dot on a name is allowed (an absolute name). Returns kNone and fills `out`,
// or the first problem found; `out` is then unspecified.
HostError ClassifyHost(std::string_view host, HostAddress* out);

// Strict dotted quad: four decimal numbers 0..255 without leading zeros, separated by single dots.
bool ParseIpv4(std::string_view text, uint8_t out[4]);

// RFC 4291 text form: up to eight groups of 1..4 hex digits, at most one `::`, optionally a dotted
// quad as the last 32 bits. No zone id (`%eth0`), no brackets.
bool ParseIpv6(std::string_view text, uint8_t out[16]);

// Decimal port without sign or leading zeros. Accepts 0 only when `allow_zero`.
bool ParsePort(std::string_view text, bool allow_zero, uint16_t* port);

// Short English text for an error, for Proxy-Status details ("bad character in host").
std::string_view HostErrorText(HostError error);

}  // namespace strait::net
