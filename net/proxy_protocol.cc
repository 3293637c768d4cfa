#include "net/proxy_protocol.h"

#include <netinet/in.h>

#include <cstring>

#include "net/host_syntax.h"

namespace strait::net {
namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

constexpr uint8_t kV2CommandLocal = 0x0;
constexpr uint8_t kV2CommandProxy = 0x1;

constexpr uint8_t kV2TcpIpv4 = 0x11;
constexpr uint8_t kV2UdpIpv4 = 0x12;
constexpr uint8_t kV2TcpIpv6 = 0x21;
constexpr uint8_t kV2UdpIpv6 = 0x22;
constexpr uint8_t kV2Unspecified = 0x00;
constexpr uint8_t kV2UnixStream = 0x31;
constexpr uint8_t kV2UnixDatagram = 0x32;

ProxyHeaderResult Error(ProxyHeaderError error) {
  ProxyHeaderResult result;
  result.status = ProxyHeaderStatus::kError;
  result.error = error;
  return result;
}

ProxyHeaderResult Complete(size_t consumed) {
  ProxyHeaderResult result;
  result.status = ProxyHeaderStatus::kComplete;
  result.consumed = consumed;
  return result;
}

// True when `bytes` is a prefix of `signature` or starts with it.
bool MatchesSignature(std::string_view bytes, std::string_view signature) {
  size_t length = bytes.size() < signature.size() ? bytes.size() : signature.size();
  return bytes.substr(0, length) == signature.substr(0, length);
}

void ResetAddresses(ProxyHeader* header) {
  std::memset(&header->source, 0, sizeof(header->source));
  std::memset(&header->destination, 0, sizeof(header->destination));
  header->source.ss_family = AF_UNSPEC;
  header->destination.ss_family = AF_UNSPEC;
}

// `address` is 4 bytes and `port_be` 2 bytes, both in network order.
void SetIpv4(sockaddr_storage* out, const void* address, const void* port_be) {
  sockaddr_in ipv4 = {};
  ipv4.sin_family = AF_INET;
  std::memcpy(&ipv4.sin_addr, address, 4);
  std::memcpy(&ipv4.sin_port, port_be, 2);
  std::memcpy(out, &ipv4, sizeof(ipv4));
}

void SetIpv6(sockaddr_storage* out, const void* address, const void* port_be) {
  sockaddr_in6 ipv6 = {};
  ipv6.sin6_family = AF_INET6;
  std::memcpy(&ipv6.sin6_addr, address, 16);
  std::memcpy(&ipv6.sin6_port, port_be, 2);
  std::memcpy(out, &ipv6, sizeof(ipv6));
}

// Splits off the text up to the next single space; false when there is none.
bool NextField(std::string_view* rest, std::string_view* field) {
  size_t space = rest->find(' ');
  if (space == std::string_view::npos) {
    return false;
  }
  *field = rest->substr(0, space);
  rest->remove_prefix(space + 1);
  return true;
}

ProxyHeaderResult ParseV1Line(std::string_view line, size_t consumed, ProxyHeader* header) {
  std::string_view rest = line.substr(kV1Signature.size());
  if (rest == "UNKNOWN" || rest.substr(0, 8) == "UNKNOWN ") {
    header->local = true;  // whatever follows UNKNOWN is to be ignored
    return Complete(consumed);
  }

  std::string_view family;
  if (!NextField(&rest, &family)) {
    bool known = rest == "TCP4" || rest == "TCP6";
    return Error(known ? ProxyHeaderError::kV1BadFormat : ProxyHeaderError::kV1BadFamily);
  }
  bool ipv6 = family == "TCP6";
  if (!ipv6 && family != "TCP4") {
    return Error(ProxyHeaderError::kV1BadFamily);
  }

  std::string_view source;
  std::string_view destination;
  std::string_view source_port_text;
  if (!NextField(&rest, &source) || !NextField(&rest, &destination) ||
      !NextField(&rest, &source_port_text)) {
    return Error(ProxyHeaderError::kV1BadFormat);
  }
  std::string_view destination_port_text = rest;  // the last field runs to the CRLF

  uint8_t source_address[16];
  uint8_t destination_address[16];
  bool addresses_ok =
      ipv6 ? ParseIpv6(source, source_address) && ParseIpv6(destination, destination_address)
           : ParseIpv4(source, source_address) && ParseIpv4(destination, destination_address);
  if (!addresses_ok) {
    return Error(ProxyHeaderError::kV1BadAddress);
  }
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  if (!ParsePort(source_port_text, true, &source_port) ||
      !ParsePort(destination_port_text, true, &destination_port)) {
    return Error(ProxyHeaderError::kV1BadPort);
  }

  uint8_t source_port_be[2] = {static_cast<uint8_t>(source_port >> 8),
                               static_cast<uint8_t>(source_port & 0xff)};
  uint8_t destination_port_be[2] = {static_cast<uint8_t>(destination_port >> 8),
                                    static_cast<uint8_t>(destination_port & 0xff)};
  if (ipv6) {
    SetIpv6(&header->source, source_address, source_port_be);
    SetIpv6(&header->destination, destination_address, destination_port_be);
  } else {
    SetIpv4(&header->source, source_address, source_port_be);
    SetIpv4(&header->destination, destination_address, destination_port_be);
  }
  return Complete(consumed);
}

ProxyHeaderResult ParseV1(std::string_view bytes, ProxyHeader* header) {
  size_t scan = bytes.size() < kMaxProxyV1Bytes ? bytes.size() : kMaxProxyV1Bytes;
  for (size_t i = 0; i < scan; ++i) {
    if (bytes[i] == '\n') {
      return Error(ProxyHeaderError::kV1BareLineBreak);  // a CR would have been seen first
    }
    if (bytes[i] != '\r') {
      continue;
    }
    if (i + 1 == kMaxProxyV1Bytes) {
      return Error(ProxyHeaderError::kV1TooLong);  // its LF would be byte 108
    }
    if (i + 1 == bytes.size()) {
      return ProxyHeaderResult{};  // the LF may be on its way
    }
    if (bytes[i + 1] != '\n') {
      return Error(ProxyHeaderError::kV1BareLineBreak);
    }
    header->version = 1;
    return ParseV1Line(bytes.substr(0, i), i + 2, header);
  }
  if (bytes.size() >= kMaxProxyV1Bytes) {
    return Error(ProxyHeaderError::kV1TooLong);
  }
  return ProxyHeaderResult{};
}

ProxyHeaderResult ParseV2(std::string_view bytes, size_t max_header_bytes, ProxyHeader* header) {
  if (bytes.size() < kProxyV2HeaderBytes) {
    return ProxyHeaderResult{};
  }
  auto version_command = static_cast<uint8_t>(bytes[12]);
  auto family = static_cast<uint8_t>(bytes[13]);
  size_t address_length =
      static_cast<size_t>(static_cast<uint8_t>(bytes[14])) << 8 | static_cast<uint8_t>(bytes[15]);
  size_t total = kProxyV2HeaderBytes + address_length;

  if (version_command >> 4 != 2) {
    return Error(ProxyHeaderError::kV2BadVersion);
  }
  uint8_t command = version_command & 0x0f;
  if (command != kV2CommandLocal && command != kV2CommandProxy) {
    return Error(ProxyHeaderError::kV2BadCommand);
  }
  // LOCAL ignores the family byte altogether; PROXY must name a combination the spec defines.
  bool known_family = family == kV2Unspecified || family == kV2TcpIpv4 || family == kV2UdpIpv4 ||
                      family == kV2TcpIpv6 || family == kV2UdpIpv6 || family == kV2UnixStream ||
                      family == kV2UnixDatagram;
  if (command == kV2CommandProxy && !known_family) {
    return Error(ProxyHeaderError::kV2BadFamily);
  }
  if (total > max_header_bytes) {
    return Error(ProxyHeaderError::kV2TooLong);
  }
  bool ipv4 = family == kV2TcpIpv4 || family == kV2UdpIpv4;
  bool ipv6 = family == kV2TcpIpv6 || family == kV2UdpIpv6;
  if (command == kV2CommandProxy &&
      ((ipv4 && address_length < 12) || (ipv6 && address_length < 36))) {
    return Error(ProxyHeaderError::kV2AddressTooShort);
  }
  if (bytes.size() < total) {
    return ProxyHeaderResult{};
  }

  header->version = 2;
  const char* addresses = bytes.data() + kProxyV2HeaderBytes;
  if (command == kV2CommandLocal || (!ipv4 && !ipv6)) {
    header->local = true;
  } else if (ipv4) {
    SetIpv4(&header->source, addresses, addresses + 8);
    SetIpv4(&header->destination, addresses + 4, addresses + 10);
  } else {
    SetIpv6(&header->source, addresses, addresses + 32);
    SetIpv6(&header->destination, addresses + 16, addresses + 34);
  }
  return Complete(total);
}

}  // namespace

ProxyHeaderResult ParseProxyHeader(std::string_view bytes, size_t max_header_bytes,
                                   ProxyHeader* header) {
  if (bytes.empty()) {
    return ProxyHeaderResult{};
  }
  header->version = 0;
  header->local = false;
  ResetAddresses(header);
  if (MatchesSignature(bytes, kV1Signature)) {
    return bytes.size() < kV1Signature.size() ? ProxyHeaderResult{} : ParseV1(bytes, header);
  }
  if (MatchesSignature(bytes, kV2Signature)) {
    return bytes.size() < kV2Signature.size() ? ProxyHeaderResult{}
                                              : ParseV2(bytes, max_header_bytes, header);
  }
  return Error(ProxyHeaderError::kNotProxyProtocol);
}

std::string_view ProxyHeaderErrorText(ProxyHeaderError error) {
  switch (error) {
    case ProxyHeaderError::kNone:
      return "no error";
    case ProxyHeaderError::kNotProxyProtocol:
      return "no PROXY protocol signature";
    case ProxyHeaderError::kV1TooLong:
      return "PROXY v1 line longer than 107 bytes";
    case ProxyHeaderError::kV1BareLineBreak:
      return "PROXY v1 line not ended by CRLF";
    case ProxyHeaderError::kV1BadFamily:
      return "PROXY v1 protocol other than TCP4, TCP6 or UNKNOWN";
    case ProxyHeaderError::kV1BadFormat:
      return "PROXY v1 line with wrong fields or spacing";
    case ProxyHeaderError::kV1BadAddress:
      return "PROXY v1 address not of the announced family";
    case ProxyHeaderError::kV1BadPort:
      return "PROXY v1 port invalid";
    case ProxyHeaderError::kV2BadVersion:
      return "PROXY v2 version is not 2";
    case ProxyHeaderError::kV2BadCommand:
      return "PROXY v2 command other than LOCAL or PROXY";
    case ProxyHeaderError::kV2BadFamily:
      return "PROXY v2 unknown address family or transport";
    case ProxyHeaderError::kV2TooLong:
      return "PROXY v2 header over the configured limit";
    case ProxyHeaderError::kV2AddressTooShort:
      return "PROXY v2 address block too short for its family";
  }
  return "malformed PROXY protocol header";
}

}  // namespace strait::net
