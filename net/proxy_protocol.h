#pragma once

// PROXY protocol v1 (text) and v2 (binary) headers, as load balancers prepend them to a
// connection to pass on the real client address (HAProxy's proxy-protocol.txt).
//
// Pure and allocation-free. The caller reads the first bytes of a connection accepted from a
// configured balancer address and calls ParseProxyHeader() after each read until it answers
// kComplete or kError. On kComplete, the bytes from `consumed` on belong to the proxied protocol
// (an HTTP head, a SOCKS5 greeting, a TLS ClientHello).
//
//   ProxyHeader header;
//   ProxyHeaderResult r = ParseProxyHeader(bytes, kDefaultMaxProxyHeaderBytes, &header);
//   if (r.status == ProxyHeaderStatus::kComplete && !header.local) {
//     client_address = header.source;   // for allowlists and logs
//   }
//
// The protocol carries no authentication: a header must be accepted only from balancer addresses
// the operator configured, and a connection from such an address must start with one (the spec
// forbids guessing). Both are the caller's job.
//
// Accepted:
// - v1: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n`, single spaces, addresses of the
//   announced family (dotted quads without leading zeros; RFC 4291 IPv6), ports 0..65535 without
//   leading zeros, at most 107 bytes with the CRLF. `PROXY UNKNOWN ...\r\n` is accepted with
//   whatever follows UNKNOWN ignored, and reports `local` (use the real connection's addresses).
// - v2: version 2; command LOCAL (addresses ignored, `local`) or PROXY; TCP or UDP over IPv4 or
//   IPv6 give addresses; UNSPEC and UNIX families are accepted as `local`, as the spec allows a
//   receiver that does not use them. TLVs after the addresses are skipped, unvalidated. The whole
//   header must fit in `max_header_bytes`.
//
// TODO: TLVs are neither exposed nor checked (no PP2_TYPE_CRC32C verification, no authority or
// VPC endpoint id for logs); a TLV iterator over the skipped bytes would add both.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strait::net {

// Longest v1 line with its CRLF (`PROXY UNKNOWN` with two full IPv6 addresses and ports).
inline constexpr size_t kMaxProxyV1Bytes = 107;

// Fixed part of a v2 header: signature, version/command, family, length.
inline constexpr size_t kProxyV2HeaderBytes = 16;

// A default bound for the whole v2 header. Balancers send 28 (IPv4) or 52 (IPv6) bytes plus a few
// small TLVs (a VPC endpoint id, a link id); 2 KiB leaves room for TLS TLVs with a certificate
// name and still keeps a hostile peer from parking 64 KiB per connection.
inline constexpr size_t kDefaultMaxProxyHeaderBytes = 2048;

enum class ProxyHeaderStatus : uint8_t { kIncomplete, kComplete, kError };

enum class ProxyHeaderError : uint8_t {
  kNone,
  kNotProxyProtocol,   // the bytes start with neither signature
  kV1TooLong,          // no CRLF within kMaxProxyV1Bytes
  kV1BareLineBreak,    // LF without CR, or CR not followed by LF
  kV1BadFamily,        // neither TCP4, TCP6 nor UNKNOWN
  kV1BadFormat,        // wrong number of fields or spacing
  kV1BadAddress,       // an address that is not of the announced family
  kV1BadPort,          // a port out of range, with a sign or leading zero
  kV2BadVersion,       // version nibble other than 2
  kV2BadCommand,       // command other than LOCAL and PROXY
  kV2BadFamily,        // family/transport byte the spec does not define
  kV2TooLong,          // the announced header exceeds max_header_bytes
  kV2AddressTooShort,  // length too small for the announced family
};

struct ProxyHeader {
  uint8_t version = 0;  // 1 or 2
  // True when the header gives no usable address (v1 UNKNOWN, v2 LOCAL, UNSPEC or UNIX): the
  // connection's own endpoints apply. `source` and `destination` are then AF_UNSPEC.
  bool local = false;
  // sockaddr_in or sockaddr_in6 with ports in network order, ready for logs and comparisons.
  sockaddr_storage source;
  sockaddr_storage destination;
};

struct ProxyHeaderResult {
  ProxyHeaderStatus status = ProxyHeaderStatus::kIncomplete;
  ProxyHeaderError error = ProxyHeaderError::kNone;
  size_t consumed = 0;  // for kComplete: the header's length
};

// Parses a v1 or v2 header at the start of `bytes` (the signature decides which). Errors are
// reported as soon as the bytes that show them have arrived. `*header` is filled on kComplete
// and unspecified otherwise. `max_header_bytes` bounds a v2 header; v1 is always bounded by
// kMaxProxyV1Bytes.
ProxyHeaderResult ParseProxyHeader(std::string_view bytes, size_t max_header_bytes,
                                   ProxyHeader* header);

// Short English text for an error, for logs.
std::string_view ProxyHeaderErrorText(ProxyHeaderError error);

}  // namespace strait::net
