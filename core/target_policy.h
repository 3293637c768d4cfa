#pragma once

// Which target addresses and ports a tunnel may reach.
//
// By default a proxy on the internet must not become a way into the network it runs in, so
// targets in loopback, private, shared (CGNAT), link-local (cloud metadata lives at
// 169.254.169.254 and fd00:ec2::254), multicast, reserved and unspecified ranges are refused
// with policy_denied. IPv4-mapped and NAT64 IPv6 forms are judged by the IPv4 address inside.
// `allow_private` lifts that for local use (the built-in demo configuration and tests).
//
// Immutable after construction; safe to share between shards.

#include <cstdint>
#include <string_view>
#include <vector>

#include "net/socket.h"

namespace strait::core {

struct TargetPolicyConfig {
  bool allow_private = false;
  std::vector<uint16_t> allowed_ports;  // empty: every port
  std::vector<uint16_t> denied_ports;
};

enum class TargetVerdict : uint8_t {
  kAllowed,
  kPrivateAddress,
  kPortDenied,
  kOwnListener,  // a tunnel back into the proxy itself would loop
};

class TargetPolicy {
 public:
  explicit TargetPolicy(TargetPolicyConfig config);

  // The proxy's own listening addresses, refused as targets whatever allow_private says: a
  // tunnel into the proxy turns one client connection into a chain of them. Call before the
  // policy is shared (it is not synchronized). A listener on 0.0.0.0 or :: also covers the
  // loopback addresses with its port.
  // TODO: other local addresses behind a wildcard listener are not refused; listing the host's
  // interfaces (getifaddrs) at start-up would cover them.
  void SetOwnListeners(std::vector<net::SocketAddress> listeners);

  TargetVerdict Check(const net::SocketAddress& target) const;

  // The port rules alone, for names before they are resolved.
  bool PortAllowed(uint16_t port) const;

  // "private address", "port denied"; for the policy_denied reply.
  static std::string_view VerdictText(TargetVerdict verdict);

 private:
  bool IsOwnListener(const net::SocketAddress& target) const;

  TargetPolicyConfig config_;
  std::vector<net::SocketAddress> own_listeners_;
};

// True when `address` is in one of the ranges the default policy refuses.
bool IsNonPublicAddress(const net::SocketAddress& address);

}  // namespace strait::core
