#include "core/target_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace strait::core {
namespace {

struct Ipv4Range {
  uint32_t network;
  int prefix_length;
};

// IANA special-purpose IPv4 ranges that no public target lives in.
constexpr Ipv4Range kNonPublicIpv4[] = {
    {0x00000000, 8},   // "this network"; connecting to 0.0.0.0 reaches the local host
    {0x0a000000, 8},   // private
    {0x64400000, 10},  // shared address space (CGNAT)
    {0x7f000000, 8},   // loopback
    {0xa9fe0000, 16},  // link-local, cloud metadata
    {0xac100000, 12},  // private
    {0xc0000000, 24},  // IETF protocol assignments
    {0xc0000200, 24},  // documentation
    {0xc0a80000, 16},  // private
    {0xc6120000, 15},  // benchmarking
    {0xc6336400, 24},  // documentation
    {0xcb007100, 24},  // documentation
    {0xe0000000, 4},   // multicast
    {0xf0000000, 4},   // reserved and broadcast
};

bool IsNonPublicIpv4(uint32_t address) {
  for (const Ipv4Range& range : kNonPublicIpv4) {
    uint32_t mask = range.prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - range.prefix_length);
    if ((address & mask) == range.network) {
      return true;
    }
  }
  return false;
}

uint32_t Ipv4At(const uint8_t* bytes) {
  uint32_t value;
  std::memcpy(&value, bytes, 4);
  return ntohl(value);
}

bool IsNonPublicIpv6(const in6_addr& address) {
  const uint8_t* b = address.s6_addr;
  static constexpr uint8_t kZero[16] = {};
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64Prefix[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

  if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) {
    return true;  // unspecified, loopback
  }
  // Forms that carry an IPv4 address are judged by it: mapped (::ffff:0:0/96), the deprecated
  // compatible form (::/96, which some stacks still route as IPv4), and NAT64 (64:ff9b::/96).
  if (std::memcmp(b, kMappedPrefix, 12) == 0 || std::memcmp(b, kNat64Prefix, 12) == 0 ||
      std::memcmp(b, kZero, 12) == 0) {
    return IsNonPublicIpv4(Ipv4At(b + 12));
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 &&
      b[5] == 0x01) {
    return true;  // local-use NAT64 (64:ff9b:1::/48): translates into the operator's network
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    return IsNonPublicIpv4(Ipv4At(b + 2));  // 6to4 (2002::/16) embeds the IPv4 after the prefix
  }
  if ((b[0] & 0xfe) == 0xfc) {
    return true;  // unique local, includes fd00:ec2::254
  }
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
    return true;  // link-local
  }
  if (b[0] == 0xff) {
    return true;  // multicast
  }
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
    return true;  // documentation
  }
  return false;
}

}  // namespace

bool IsNonPublicAddress(const net::SocketAddress& address) {
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.get());
    return IsNonPublicIpv4(ntohl(v4->sin_addr.s_addr));
  }
  if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.get());
    return IsNonPublicIpv6(v6->sin6_addr);
  }
  return true;
}

TargetPolicy::TargetPolicy(TargetPolicyConfig config) : config_(std::move(config)) {}

bool TargetPolicy::PortAllowed(uint16_t port) const {
  if (std::find(config_.denied_ports.begin(), config_.denied_ports.end(), port) !=
      config_.denied_ports.end()) {
    return false;
  }
  return config_.allowed_ports.empty() ||
         std::find(config_.allowed_ports.begin(), config_.allowed_ports.end(), port) !=
             config_.allowed_ports.end();
}

void TargetPolicy::SetOwnListeners(std::vector<net::SocketAddress> listeners) {
  own_listeners_ = std::move(listeners);
}

bool TargetPolicy::IsOwnListener(const net::SocketAddress& target) const {
  for (const net::SocketAddress& listener : own_listeners_) {
    if (listener.port() != target.port()) {
      continue;
    }
    std::string listener_ip = listener.IpString();
    std::string target_ip = target.IpString();
    if (listener_ip == target_ip) {
      return true;
    }
    bool wildcard = listener_ip == "0.0.0.0" || listener_ip == "::";
    bool loopback = target_ip.rfind("127.", 0) == 0 || target_ip == "::1" ||
                    target_ip == "0.0.0.0" || target_ip == "::" ||
                    target_ip.rfind("::ffff:127.", 0) == 0;
    if (wildcard && loopback) {
      return true;
    }
  }
  return false;
}

TargetVerdict TargetPolicy::Check(const net::SocketAddress& target) const {
  if (!PortAllowed(target.port())) {
    return TargetVerdict::kPortDenied;
  }
  if (IsOwnListener(target)) {
    return TargetVerdict::kOwnListener;
  }
  if (!config_.allow_private && IsNonPublicAddress(target)) {
    return TargetVerdict::kPrivateAddress;
  }
  return TargetVerdict::kAllowed;
}

std::string_view TargetPolicy::VerdictText(TargetVerdict verdict) {
  switch (verdict) {
    case TargetVerdict::kAllowed:
      return "allowed";
    case TargetVerdict::kPrivateAddress:
      return "non-public address";
    case TargetVerdict::kPortDenied:
      return "port not allowed";
    case TargetVerdict::kOwnListener:
      return "listener of this proxy";
  }
  return "denied";
}

}  // namespace strait::core
