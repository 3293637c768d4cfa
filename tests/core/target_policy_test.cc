#include "core/target_policy.h"

#include "gtest/gtest.h"

namespace strait::core {
namespace {

net::SocketAddress Address(std::string_view ip, uint16_t port = 443) {
  return *net::SocketAddress::FromIpLiteral(ip, port);
}

TEST(TargetPolicy, RefusesNonPublicRangesByDefault) {
  TargetPolicy policy(TargetPolicyConfig{});
  for (std::string_view ip : {"127.0.0.1",
                              "127.255.0.9",
                              "10.1.2.3",
                              "172.16.0.1",
                              "172.31.255.255",
                              "192.168.1.1",
                              "169.254.169.254",
                              "100.64.0.1",
                              "0.0.0.0",
                              "224.0.0.1",
                              "255.255.255.255",
                              "::1",
                              "::",
                              "fe80::1",
                              "fd00:ec2::254",
                              "fc00::1",
                              "ff02::1",
                              "::ffff:127.0.0.1",
                              "::ffff:10.0.0.1",
                              "64:ff9b::a9fe:a9fe",
                              "2001:db8::1"}) {
    EXPECT_EQ(policy.Check(Address(ip)), TargetVerdict::kPrivateAddress) << ip;
  }
}

TEST(TargetPolicy, AllowsPublicAddresses) {
  TargetPolicy policy(TargetPolicyConfig{});
  for (std::string_view ip : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "11.0.0.1",
                              "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"}) {
    EXPECT_EQ(policy.Check(Address(ip)), TargetVerdict::kAllowed) << ip;
  }
}

TEST(TargetPolicy, AllowPrivateLiftsTheRangeCheckOnly) {
  TargetPolicy policy(TargetPolicyConfig{.allow_private = true, .denied_ports = {25}});
  EXPECT_EQ(policy.Check(Address("127.0.0.1")), TargetVerdict::kAllowed);
  EXPECT_EQ(policy.Check(Address("169.254.169.254", 80)), TargetVerdict::kAllowed);
  EXPECT_EQ(policy.Check(Address("127.0.0.1", 25)), TargetVerdict::kPortDenied);
}

TEST(TargetPolicy, AllowedPortsListRestrictsPorts) {
  TargetPolicy policy(TargetPolicyConfig{.allowed_ports = {80, 443}});
  EXPECT_TRUE(policy.PortAllowed(443));
  EXPECT_FALSE(policy.PortAllowed(22));
  EXPECT_EQ(policy.Check(Address("8.8.8.8", 22)), TargetVerdict::kPortDenied);
}

TEST(TargetPolicy, RefusesTheProxysOwnListenersEvenWhenPrivateTargetsAreAllowed) {
  TargetPolicy policy(TargetPolicyConfig{.allow_private = true});
  policy.SetOwnListeners({Address("127.0.0.1", 8000), Address("0.0.0.0", 1080)});
  EXPECT_EQ(policy.Check(Address("127.0.0.1", 8000)), TargetVerdict::kOwnListener);
  EXPECT_EQ(policy.Check(Address("127.0.0.1", 8001)), TargetVerdict::kAllowed);
  EXPECT_EQ(policy.Check(Address("127.0.0.5", 1080)), TargetVerdict::kOwnListener);
  EXPECT_EQ(policy.Check(Address("::1", 1080)), TargetVerdict::kOwnListener);
  EXPECT_EQ(policy.Check(Address("10.1.1.1", 1080)), TargetVerdict::kAllowed);
}

}  // namespace
}  // namespace strait::core
