// End to end, for inputs that name destinations outside loopback: private ranges, cloud
// metadata addresses, public addresses, names that need DNS. The test process moves itself into
// a network namespace of its own that holds only loopback before anything starts, and the
// daemon it spawns inherits it, so whatever the daemon does with these inputs, no packet can
// leave the machine.

#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/e2e.h"

namespace strait {
namespace {

using testing::Connection;
using testing::ConnectRequest;
using testing::DaemonProcess;
using testing::HeaderValue;
using testing::StatusCode;

std::string isolation_error;  // empty when the namespace is in place

// Moves this process into a new network namespace and brings its loopback up.
std::string IsolateNetwork() {
  if (unshare(CLONE_NEWNET) != 0) {
    return std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno) +
           " (needs root or CAP_SYS_ADMIN)";
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    close(fd);
    return std::string("SIOCGIFFLAGS on lo: ") + std::strerror(errno);
  }
  request.ifr_flags |= IFF_UP;
  int res = ioctl(fd, SIOCSIFFLAGS, &request);
  close(fd);
  return res == 0 ? "" : std::string("SIOCSIFFLAGS on lo: ") + std::strerror(errno);
}

std::string Config(bool allow_private) {
  return std::string(R"toml(
[server]
shards = 1
access_log = "{access_log}"

[timeouts]
connect_ms = 2000

[policy]
allow_private = )toml") +
         (allow_private ? "true" : "false") + R"toml(
denied_ports = [25]

[[listener]]
address = "127.0.0.1:0"

[[account]]
name = "alice"
password = "pw"

[exits]
inline = """
id,pool,country,state,city,zip,asn,capacity,weight,egress
us-1,residential,us,,,,,0,1,direct:127.0.0.2
"""
)toml";
}

class IsolatedEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!isolation_error.empty()) {
      return;
    }
    signal(SIGPIPE, SIG_IGN);
    production_ = new DaemonProcess();
    permissive_ = new DaemonProcess();
    std::string error;
    ASSERT_TRUE(production_->Start(Config(false), {}, &error)) << error;
    ASSERT_TRUE(permissive_->Start(Config(true), {}, &error)) << error;
  }

  static void TearDownTestSuite() {
    delete production_;
    delete permissive_;
  }

  void SetUp() override {
    if (!isolation_error.empty()) {
      GTEST_SKIP() << "no private network namespace: " << isolation_error;
    }
  }

  // Sends a CONNECT and returns the reply head.
  static std::string Connect(DaemonProcess* daemon, const std::string& authority,
                             const std::string& user = "alice") {
    Connection connection(daemon->port());
    EXPECT_TRUE(connection.Send(ConnectRequest(authority, user, "pw")));
    return connection.ReadHead();
  }

  static inline DaemonProcess* production_ = nullptr;
  static inline DaemonProcess* permissive_ = nullptr;
};

class PolicyDenied : public IsolatedEndToEnd, public ::testing::WithParamInterface<std::string> {};

TEST_P(PolicyDenied, NonPublicTargetIsRefusedWithForbidden) {
  std::string head = Connect(production_, GetParam());
  EXPECT_EQ(StatusCode(head), 403) << head;
  EXPECT_EQ(HeaderValue(head, "Proxy-Status")
                .rfind("strait; error=destination_ip_prohibited; details=\"policy_denied: ", 0),
            0u)
      << head;
}

INSTANTIATE_TEST_SUITE_P(NonPublicRanges, PolicyDenied,
                         ::testing::Values("10.0.0.1:443", "172.16.5.4:80", "192.168.1.1:443",
                                           "169.254.169.254:80", "100.64.0.1:80", "127.0.0.1:80",
                                           "0.0.0.0:80", "[::1]:80", "[fd00:ec2::254]:80",
                                           "[fe80::1]:80", "[::ffff:10.0.0.1]:80", "localhost:80"));

TEST_F(IsolatedEndToEnd, NameResolvingToAPrivateAddressIsRefusedNamingTheAddress) {
  std::string head = Connect(production_, "localhost:8080");
  EXPECT_NE(HeaderValue(head, "Proxy-Status").find("localhost:8080 resolves to 127.0.0.1"),
            std::string::npos)
      << head;
}

TEST_F(IsolatedEndToEnd, DeniedPortIsRefusedBeforeAnyConnection) {
  std::string head = Connect(production_, "8.8.8.8:25");
  EXPECT_EQ(StatusCode(head), 403) << head;
  EXPECT_NE(HeaderValue(head, "Proxy-Status").find("port 25 is not allowed"), std::string::npos)
      << head;
}

TEST_F(IsolatedEndToEnd, PublicTargetPassesThePolicyAndFailsOnlyForLackOfRoute) {
  // The namespace has no route anywhere: the policy lets the address through and the connect
  // fails with ENETUNREACH.
  std::string head = Connect(production_, "198.18.0.1:443");
  EXPECT_EQ(StatusCode(head), 403) << "198.18/15 is benchmarking space, not public: " << head;
  head = Connect(production_, "8.8.8.8:443");
  EXPECT_EQ(StatusCode(head), 502) << head;
  EXPECT_EQ(
      HeaderValue(head, "Proxy-Status")
          .rfind("strait; error=destination_ip_unroutable; details=\"target_unreachable: ", 0),
      0u)
      << head;
}

TEST_F(IsolatedEndToEnd, AllowPrivateLetsPrivateTargetsThrough) {
  std::string head = Connect(permissive_, "10.0.0.1:443");
  EXPECT_EQ(StatusCode(head), 502) << head;
  EXPECT_NE(HeaderValue(head, "Proxy-Status").find("target_unreachable"), std::string::npos)
      << head;
}

TEST_F(IsolatedEndToEnd, NameThatDoesNotResolveGivesDnsFailed) {
  std::string head = Connect(production_, "no-such-host.invalid:443");
  EXPECT_EQ(StatusCode(head), 502) << head;
  EXPECT_EQ(
      HeaderValue(head, "Proxy-Status")
          .rfind("strait; error=dns_error; details=\"dns_failed: no-such-host.invalid:443", 0),
      0u)
      << head;
}

TEST_F(IsolatedEndToEnd, SocksTargetInAPrivateRangeGetsNotAllowed) {
  Connection connection(production_->port());
  std::string user = "alice";
  std::string auth =
      std::string("\x01", 1) + static_cast<char>(user.size()) + user + std::string("\x02pw", 3);
  // CONNECT 169.254.169.254:80
  std::string request("\x05\x01\x00\x01\xa9\xfe\xa9\xfe\x00\x50", 10);
  ASSERT_TRUE(connection.Send(std::string("\x05\x01\x02", 3) + auth + request));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x05\x02", 2));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x01\x00", 2));
  std::string reply = connection.ReadExactly(10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], 0x02);
}

}  // namespace
}  // namespace strait

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  strait::isolation_error = strait::IsolateNetwork();
  return RUN_ALL_TESTS();
}
