// End to end: the real daemon (//tools:strait) with real clients (curl, raw HTTP and SOCKS5
// clients) and real targets on loopback that report which exit address they saw.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/e2e.h"
#include "tests/testing/streams.h"

namespace strait {
namespace {

using testing::CommandResult;
using testing::Connection;
using testing::ConnectRequest;
using testing::DaemonProcess;
using testing::HeaderValue;
using testing::RunCommand;
using testing::StatusCode;
using testing::WhoServer;

// Two shards, short deadlines so the deadline tests stay quick, loopback exits in three
// countries plus one datacenter exit that the residential listener must never pick.
constexpr std::string_view kConfig = R"toml(
[server]
shards = 2
access_log = "{access_log}"

[timeouts]
handshake_ms = 1500
connect_ms = 2000
idle_ms = 2000

[limits]
max_header_bytes = 4096

[policy]
allow_private = true

[[listener]]
address = "127.0.0.1:0"
protocols = ["http", "socks5"]
pool = "residential"

[[account]]
name = "alice"
password = "wonder:land"

[exits]
inline = """
id,pool,country,state,city,zip,asn,capacity,weight,egress
us-charlotte,residential,us,north_carolina,charlotte,28202,7018,0,1,direct:127.0.0.2
us-orlando,residential,us,florida,orlando,32808,7922,0,1,direct:127.0.0.3
gb-london,residential,gb,england,london,ec1a,2856,0,1,direct:127.0.0.4
de-berlin,residential,de,berlin,berlin,10115,3320,0,1,direct:127.0.0.5
dc-us,datacenter,us,,,,,0,1,direct:127.0.0.6
"""
)toml";

class StraitEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signal(SIGPIPE, SIG_IGN);
    daemon_ = new DaemonProcess();
    std::string error;
    ASSERT_TRUE(daemon_->Start(std::string(kConfig), {}, &error)) << error;
    who_ = new WhoServer();
  }

  static void TearDownTestSuite() {
    delete who_;
    delete daemon_;
  }

  void TearDown() override {
    ASSERT_TRUE(daemon_->Running()) << "the daemon died:\n" << daemon_->ProcessLog();
  }

  static std::string ProxyUrl(std::string_view scheme, std::string_view user) {
    return std::string(scheme) + "://" + std::string(user) +
           ":wonder%3Aland@127.0.0.1:" + std::to_string(daemon_->port());
  }

  // The exit address the target saw, through curl with an HTTP CONNECT tunnel.
  static CommandResult CurlConnect(std::string_view user, std::string url = "") {
    return RunCommand({"/usr/bin/curl", "-sS", "--max-time", "10", "-p", "-x",
                       ProxyUrl("http", user), url.empty() ? who_->url() : url});
  }

  static CommandResult CurlSocks(std::string_view user) {
    // socks5h: the proxy resolves the name.
    return RunCommand({"/usr/bin/curl", "-sS", "--max-time", "10", "-x", ProxyUrl("socks5h", user),
                       "http://localhost:" + std::to_string(who_->port()) + "/"});
  }

  static inline DaemonProcess* daemon_ = nullptr;
  static inline WhoServer* who_ = nullptr;
};

TEST_F(StraitEndToEnd, CountryTargetingLandsOnAnExitOfThatCountry) {
  EXPECT_EQ(CurlConnect("alice_c_gb").output, "127.0.0.4");
  EXPECT_EQ(CurlConnect("alice_c_de").output, "127.0.0.5");
  EXPECT_EQ(CurlConnect("alice_c_us_city_charlotte").output, "127.0.0.2");
  EXPECT_EQ(CurlConnect("alice_c_us_state_florida").output, "127.0.0.3");
  EXPECT_EQ(CurlConnect("alice_asn_2856").output, "127.0.0.4");
  EXPECT_EQ(CurlSocks("alice_c_gb_city_london").output, "127.0.0.4");
}

TEST_F(StraitEndToEnd, PlainHttpAbsoluteFormIsForwarded) {
  CommandResult result = RunCommand({"/usr/bin/curl", "-sS", "--max-time", "10", "-x",
                                     ProxyUrl("http", "alice_c_de"), who_->url()});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "127.0.0.5");
}

TEST_F(StraitEndToEnd, RotatingTunnelsSpreadOverTheMatchingExits) {
  std::map<std::string, int> seen;
  for (int i = 0; i < 40; ++i) {
    seen[CurlConnect("alice_c_us").output]++;
  }
  // Both US residential exits, and never the datacenter one (another pool).
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GE(seen["127.0.0.2"], 8);
  EXPECT_GE(seen["127.0.0.3"], 8);
  EXPECT_EQ(seen.count("127.0.0.6"), 0u);
}

TEST_F(StraitEndToEnd, StickySessionKeepsItsExitAcrossSequentialAndConcurrentTunnels) {
  std::set<std::string> sequential;
  for (int i = 0; i < 15; ++i) {
    sequential.insert(CurlConnect("alice_s_Sess10n1_ttl_10m").output);
  }
  ASSERT_EQ(sequential.size(), 1u);
  std::string exit_address = *sequential.begin();
  EXPECT_EQ(exit_address.rfind("127.0.0.", 0), 0u) << exit_address;

  // Concurrent tunnels land on both shards (SO_REUSEPORT spreads connections); the affinity
  // table is shared, so every one of them must see the same exit.
  std::vector<std::thread> threads;
  std::vector<std::string> concurrent(24);
  for (size_t i = 0; i < concurrent.size(); ++i) {
    threads.emplace_back([&, i] {
      concurrent[i] = i % 2 == 0 ? CurlConnect("alice_s_Sess10n1_ttl_10m").output
                                 : CurlSocks("alice_s_Sess10n1_ttl_10m").output;
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (const std::string& address : concurrent) {
    EXPECT_EQ(address, exit_address);
  }

  std::string log = daemon_->AccessLog();
  EXPECT_NE(log.find("[s0 "), std::string::npos) << "no tunnel on shard 0";
  EXPECT_NE(log.find("[s1 "), std::string::npos) << "no tunnel on shard 1";
}

TEST_F(StraitEndToEnd, SuccessReplyNamesTheExit) {
  Connection connection(daemon_->port());
  ASSERT_TRUE(connection.Send(
      ConnectRequest("127.0.0.1:" + std::to_string(who_->port()), "alice_c_gb", "wonder:land")));
  std::string head = connection.ReadHead();
  EXPECT_EQ(StatusCode(head), 200) << head;
  EXPECT_EQ(HeaderValue(head, "Proxy-Status"), "strait; next-hop=gb-london");
}

struct RefusalCase {
  std::string name;
  std::string user;
  std::string password;
  std::string target;  // "{who}" is replaced by the who server's authority
  int status;
  std::string proxy_status_prefix;
};

class StraitRefusals : public StraitEndToEnd, public ::testing::WithParamInterface<RefusalCase> {};

TEST_P(StraitRefusals, AnswersWithTheStatusAndReasonOfTheErrorTable) {
  const RefusalCase& c = GetParam();
  std::string target = c.target;
  if (target == "{who}") {
    target = "127.0.0.1:" + std::to_string(who_->port());
  } else if (target == "{self}") {
    target = "127.0.0.1:" + std::to_string(daemon_->port());
  }
  Connection connection(daemon_->port());
  std::string request = c.user.empty()
                            ? "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"
                            : ConnectRequest(target, c.user, c.password);
  ASSERT_TRUE(connection.Send(request));
  std::string head = connection.ReadHead();
  EXPECT_EQ(StatusCode(head), c.status) << head;
  std::string proxy_status = HeaderValue(head, "Proxy-Status");
  EXPECT_EQ(proxy_status.rfind(c.proxy_status_prefix, 0), 0u) << proxy_status;
  if (c.status == 407) {
    EXPECT_EQ(HeaderValue(head, "Proxy-Authenticate"), "Basic realm=\"strait\"");
  }
  // The connection closes after a refusal.
  EXPECT_EQ(connection.ReadToEnd(), "");
}

// A port on loopback that nobody listens on: bound, never listening.
std::string ClosedPort() {
  static const std::string port = [] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    // Kept bound (not listening) for the life of the test, so no one else takes the port.
    return std::to_string(ntohs(address.sin_port));
  }();
  return port;
}

INSTANTIATE_TEST_SUITE_P(
    ErrorTable, StraitRefusals,
    ::testing::Values(
        RefusalCase{"NoCredentials", "", "", "{who}", 407,
                    "strait; error=http_request_denied; details=\"auth_required"},
        RefusalCase{"WrongPassword", "alice", "wonder", "{who}", 407,
                    "strait; error=http_request_denied; details=\"auth_failed"},
        RefusalCase{"UnknownAccount", "mallory_c_us", "wonder:land", "{who}", 407,
                    "strait; error=http_request_denied; details=\"auth_failed"},
        RefusalCase{"BadRoutingString", "alice_cty_paris", "wonder:land", "{who}", 400,
                    "strait; error=http_request_error; details=\"bad_routing: unknown key "
                    "'cty' at offset 6\""},
        RefusalCase{"TtlWithoutSession", "alice_ttl_2h", "wonder:land", "{who}", 400,
                    "strait; error=http_request_error; details=\"bad_routing: ttl without s"},
        RefusalCase{"NoExitInCountry", "alice_c_fr", "wonder:land", "{who}", 503,
                    "strait; error=destination_unavailable; details=\"no_exit: "},
        RefusalCase{"NoExitInCity", "alice_c_us_city_paris", "wonder:land", "{who}", 503,
                    "strait; error=destination_unavailable; details=\"no_exit: "},
        RefusalCase{"TargetRefused", "alice", "wonder:land", "127.0.0.1:" + ClosedPort(), 502,
                    "strait; error=connection_refused; details=\"target_refused: "},
        RefusalCase{"TunnelIntoTheProxyItself", "alice", "wonder:land", "{self}", 403,
                    "strait; error=destination_ip_prohibited; details=\"policy_denied: target "
                    "127.0.0.1 is a listener of this proxy"},
        RefusalCase{"MalformedTarget", "alice", "wonder:land", "127.0.0.1", 400,
                    "strait; error=http_request_error; details=\"bad_request: "}),
    [](const ::testing::TestParamInfo<RefusalCase>& info) { return info.param.name; });

TEST_F(StraitEndToEnd, SocksRefusalsUseTheRfc1928Codes) {
  // curl exit code 97 is "proxy handshake error"; the access log must carry the reason token.
  CommandResult no_exit = CurlSocks("alice_c_fr");
  EXPECT_NE(no_exit.exit_code, 0);
  CommandResult bad_password = RunCommand(
      {"/usr/bin/curl", "-sS", "--max-time", "10", "-x",
       "socks5h://alice:nope@127.0.0.1:" + std::to_string(daemon_->port()), who_->url()});
  EXPECT_NE(bad_password.exit_code, 0);

  // Raw client: greeting, credentials and a request for a country with no exit.
  Connection connection(daemon_->port());
  std::string user = "alice_c_fr";
  std::string password = "wonder:land";
  std::string hello("\x05\x01\x02", 3);
  std::string auth = std::string("\x01", 1) + static_cast<char>(user.size()) + user +
                     static_cast<char>(password.size()) + password;
  std::string request("\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50", 10);
  ASSERT_TRUE(connection.Send(hello + auth + request));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x05\x02", 2));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x01\x00", 2));
  std::string reply = connection.ReadExactly(10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], 0x04) << "no_exit maps to host unreachable";

  EXPECT_TRUE(
      daemon_->WaitForAccessLog("proto=socks5 account=alice route=alice_c_fr exit=- "
                                "target=127.0.0.1:80 result=no_exit side=exit"))
      << daemon_->AccessLog();
}

TEST_F(StraitEndToEnd, SocksBadRoutingFailsAuthentication) {
  Connection connection(daemon_->port());
  std::string user = "alice_c_gb_c_de";
  std::string password = "wonder:land";
  ASSERT_TRUE(connection.Send(std::string("\x05\x01\x02", 3) + std::string("\x01", 1) +
                              static_cast<char>(user.size()) + user +
                              static_cast<char>(password.size()) + password));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x05\x02", 2));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x01\x01", 2));
}

TEST_F(StraitEndToEnd, SocksIpv6TargetReachesAnIpv6Origin) {
  WhoServer who6("::1");
  DaemonProcess daemon;
  std::string config(kConfig);
  config.replace(config.find("direct:127.0.0.5"), 16, "direct:[::1]");
  std::string error;
  ASSERT_TRUE(daemon.Start(config, {}, &error)) << error;
  CommandResult result = RunCommand(
      {"/usr/bin/curl", "-sS", "--max-time", "10", "-x",
       "socks5://alice_c_de:wonder%3Aland@127.0.0.1:" + std::to_string(daemon.port()), who6.url()});
  EXPECT_EQ(result.output, "::1");
}

TEST_F(StraitEndToEnd, EarlyDataAfterConnectReachesTheTarget) {
  testing::EchoServer echo;
  Connection connection(daemon_->port());
  // The head and the first application bytes in one write, before the 200 is read.
  ASSERT_TRUE(
      connection.Send(ConnectRequest(echo.authority(), "alice", "wonder:land") + "early bytes"));
  std::string head = connection.ReadHead();
  EXPECT_EQ(StatusCode(head), 200) << head;
  EXPECT_EQ(connection.ReadExactly(11), "early bytes");
  connection.ShutdownWrite();
  EXPECT_EQ(connection.ReadToEnd(), "");
}

TEST_F(StraitEndToEnd, SlowClientSendingTheHeadByteByByteIsServed) {
  Connection connection(daemon_->port());
  std::string request =
      ConnectRequest("127.0.0.1:" + std::to_string(who_->port()), "alice_c_gb", "wonder:land");
  for (char c : request) {
    ASSERT_TRUE(connection.Send(std::string_view(&c, 1)));
    usleep(1000);
  }
  std::string head = connection.ReadHead();
  EXPECT_EQ(StatusCode(head), 200) << head;
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string answer = connection.ReadToEnd();
  EXPECT_NE(answer.find("127.0.0.4"), std::string::npos) << answer;
}

TEST_F(StraitEndToEnd, OversizedHeadIsRefusedWithBadRequest) {
  Connection connection(daemon_->port());
  std::string request =
      "CONNECT 127.0.0.1:80 HTTP/1.1\r\nX-Padding: " + std::string(8000, 'a') + "\r\n\r\n";
  connection.Send(request);
  std::string head = connection.ReadHead();
  EXPECT_EQ(StatusCode(head), 400) << head;
  EXPECT_NE(HeaderValue(head, "Proxy-Status").find("request head exceeds 4096 bytes"),
            std::string::npos)
      << head;
}

TEST_F(StraitEndToEnd, TargetThatNeverAnswersTimesOutWithGatewayTimeout) {
  // A listener whose accept queue is full drops further SYNs, so a connect to it hangs.
  uint16_t port = 0;
  int listener = testing::ListenOnLoopback(0, &port);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers.push_back(fd);
  }
  usleep(100'000);

  Connection connection(daemon_->port());
  std::string authority = "127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(connection.Send(ConnectRequest(authority, "alice", "wonder:land")));
  std::string head = connection.ReadHead();
  EXPECT_EQ(StatusCode(head), 504) << head;
  EXPECT_EQ(HeaderValue(head, "Proxy-Status")
                .rfind("strait; error=connection_timeout; details=\"target_timeout: ", 0),
            0u)
      << head;
  for (int fd : fillers) {
    close(fd);
  }
  close(listener);
}

TEST_F(StraitEndToEnd, SilentClientIsClosedAtTheHandshakeDeadline) {
  Connection connection(daemon_->port());
  ASSERT_TRUE(connection.Send("CONNECT 127.0.0.1:80 HTTP/1.1\r\n"));
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(connection.ReadToEnd(), "");
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, std::chrono::milliseconds(1000));
  EXPECT_LE(waited, std::chrono::milliseconds(5000));
}

// A target that accepts one connection and hands it to `serve`.
class OneShotTarget {
 public:
  template <typename Serve>
  explicit OneShotTarget(Serve serve) {
    listener_ = testing::ListenOnLoopback(4, &port_);
    thread_ = std::thread([this, serve] {
      pollfd poll_fd{.fd = listener_, .events = POLLIN};
      if (poll(&poll_fd, 1, 20'000) <= 0) {
        return;
      }
      int fd = accept(listener_, nullptr, nullptr);
      timeval timeout{.tv_sec = 60, .tv_usec = 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      serve(fd);
      close(fd);
    });
  }
  ~OneShotTarget() {
    thread_.join();
    close(listener_);
  }
  std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(StraitEndToEnd, OneGibibyteEachWayArrivesIntact) {
  constexpr uint64_t kBytes = 1ull << 30;
  uint64_t up_hash_sent = 0;
  uint64_t up_hash_at_target = 0;
  uint64_t up_bytes_at_target = 0;
  uint64_t down_hash_sent = 0;
  uint64_t down_hash = 0;
  uint64_t down_bytes = 0;
  {
    OneShotTarget target([&](int fd) {
      std::thread sender([&] { down_hash_sent = testing::SendPattern(fd, kBytes, 7); });
      up_hash_at_target = testing::ReceiveAll(fd, &up_bytes_at_target);
      sender.join();
    });
    Connection connection(daemon_->port());
    timeval timeout{.tv_sec = 60, .tv_usec = 0};
    setsockopt(connection.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ASSERT_TRUE(connection.Send(ConnectRequest(target.authority(), "alice", "wonder:land")));
    ASSERT_EQ(StatusCode(connection.ReadHead()), 200);

    std::thread sender([&] { up_hash_sent = testing::SendPattern(connection.fd(), kBytes, 8); });
    down_hash = testing::ReceiveAll(connection.fd(), &down_bytes);
    sender.join();
  }  // the target's thread is joined here
  EXPECT_EQ(down_bytes, kBytes);
  EXPECT_EQ(down_hash, down_hash_sent);
  EXPECT_EQ(up_bytes_at_target, kBytes);
  EXPECT_EQ(up_hash_at_target, up_hash_sent);
}

TEST_F(StraitEndToEnd, AbsoluteFormForwardsExactlyOneRequestWithoutProxyHeaders) {
  std::string received;
  std::string authority;
  {
    OneShotTarget target([&received](int fd) {
      // Take everything that arrives within a moment of the first head: a second request (the
      // client's next one, meant for another origin) must not be among it.
      char buffer[4096];
      timeval timeout{.tv_sec = 0, .tv_usec = 500'000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
        received.append(buffer, static_cast<size_t>(n));
      }
      std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
    });
    authority = target.authority();
    Connection connection(daemon_->port());
    std::string credentials = testing::BasicCredentials("alice", "wonder:land");
    std::string first =
        "POST http://" + target.authority() +
        "/upload HTTP/1.1\r\nHost: elsewhere\r\nProxy-Authorization: " + credentials +
        "\r\nProxy-Connection: keep-alive\r\n"
        "Content-Length: 5\r\n\r\nhello";
    std::string second = "GET http://127.0.0.1:" + std::to_string(who_->port()) +
                         "/other HTTP/1.1\r\nProxy-Authorization: " + credentials + "\r\n\r\n";
    ASSERT_TRUE(connection.Send(first + second));
    std::string response = connection.ReadToEnd();
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK", 0), 0u) << response;
  }
  EXPECT_EQ(received, "POST /upload HTTP/1.1\r\nHost: " + authority +
                          "\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_EQ(received.find("Proxy-"), std::string::npos) << received;
  EXPECT_EQ(received.find("/other"), std::string::npos) << received;
}

TEST_F(StraitEndToEnd, AbsoluteFormWithChunkedBodyIsRefused) {
  Connection connection(daemon_->port());
  ASSERT_TRUE(connection.Send(
      "POST http://127.0.0.1:" + std::to_string(who_->port()) +
      "/ HTTP/1.1\r\nProxy-Authorization: " + testing::BasicCredentials("alice", "wonder:land") +
      "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
  std::string head = connection.ReadHead();
  EXPECT_EQ(StatusCode(head), 400) << head;
  EXPECT_NE(HeaderValue(head, "Proxy-Status").find("Transfer-Encoding"), std::string::npos);
}

TEST_F(StraitEndToEnd, HalfCloseLetsTheTargetAnswerAfterTheClientFinishedSending) {
  OneShotTarget target([](int fd) {
    uint64_t received = 0;
    testing::ReceiveAll(fd, &received);  // until the client's FIN arrives through the tunnel
    std::string answer = "got " + std::to_string(received);
    send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
  });
  Connection connection(daemon_->port());
  ASSERT_TRUE(connection.Send(ConnectRequest(target.authority(), "alice", "wonder:land")));
  ASSERT_EQ(StatusCode(connection.ReadHead()), 200);
  ASSERT_TRUE(connection.Send("twelve bytes"));
  connection.ShutdownWrite();
  EXPECT_EQ(connection.ReadToEnd(), "got 12");
}

TEST_F(StraitEndToEnd, ClientResetReachesTheTargetAndSparesOtherTunnels) {
  std::atomic<bool> target_saw_end{false};
  OneShotTarget target([&](int fd) {
    char buffer[64];
    while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
    }
    target_saw_end = true;
  });
  Connection connection(daemon_->port());
  ASSERT_TRUE(connection.Send(ConnectRequest(target.authority(), "alice", "wonder:land")));
  ASSERT_EQ(StatusCode(connection.ReadHead()), 200);
  ASSERT_TRUE(connection.Send("some bytes"));
  connection.Reset();
  // Another tunnel keeps working meanwhile.
  EXPECT_EQ(CurlConnect("alice_c_gb").output, "127.0.0.4");
  for (int i = 0; i < 200 && !target_saw_end; ++i) {
    usleep(10'000);
  }
  EXPECT_TRUE(target_saw_end);
}

TEST_F(StraitEndToEnd, TargetResetReachesTheClientAsAReset) {
  OneShotTarget target([](int fd) {
    char buffer[64];
    recv(fd, buffer, sizeof(buffer), 0);
    linger option{.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
  });
  Connection connection(daemon_->port());
  ASSERT_TRUE(connection.Send(ConnectRequest(target.authority(), "alice", "wonder:land")));
  ASSERT_EQ(StatusCode(connection.ReadHead()), 200);
  ASSERT_TRUE(connection.Send("x"));
  bool reset = false;
  connection.ReadToEnd(&reset);
  EXPECT_TRUE(reset);
}

TEST_F(StraitEndToEnd, IdleTunnelEndsAtTheIdleTimeout) {
  OneShotTarget target([](int fd) {
    char buffer[64];
    while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
    }
  });
  Connection connection(daemon_->port());
  ASSERT_TRUE(connection.Send(ConnectRequest(target.authority(), "alice", "wonder:land")));
  ASSERT_EQ(StatusCode(connection.ReadHead()), 200);
  auto started = std::chrono::steady_clock::now();
  connection.ReadToEnd();
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, std::chrono::milliseconds(1500));
  EXPECT_LE(waited, std::chrono::milliseconds(6000));
}

TEST_F(StraitEndToEnd, ClientTextCannotForgeAccessLogLines) {
  // A SOCKS5 user name may hold any byte; this one tries to end the line and start a fake one.
  Connection connection(daemon_->port());
  std::string user = "evil\n2026-01-01 [s0 t1] account=victim result=ok \"x";
  ASSERT_TRUE(connection.Send(std::string("\x05\x01\x02", 3) + std::string("\x01", 1) +
                              static_cast<char>(user.size()) + user + std::string("\x01x", 2)));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x05\x02", 2));
  EXPECT_EQ(connection.ReadExactly(2), std::string("\x01\x01", 2));
  ASSERT_TRUE(daemon_->WaitForAccessLog(
      "account=evil\\x0a2026-01-01\\x20[s0\\x20t1]\\x20account\\x3dvictim"))
      << daemon_->AccessLog();
  EXPECT_EQ(daemon_->AccessLog().find("\n2026-01-01"), std::string::npos);
}

TEST_F(StraitEndToEnd, AccessLogRecordsEveryTunnelWithItsReasonToken) {
  CurlConnect("alice_c_us_city_charlotte");
  CurlConnect("alice_city_charlotte");
  EXPECT_TRUE(daemon_->WaitForAccessLog(
      "account=alice route=alice_c_us_city_charlotte exit=us-charlotte target=127.0.0.1:" +
      std::to_string(who_->port()) + " result=ok side=none"))
      << daemon_->AccessLog();
  EXPECT_TRUE(daemon_->WaitForAccessLog(
      "account=alice route=- exit=- target=127.0.0.1:" + std::to_string(who_->port()) +
      " result=bad_routing side=client up=0 down=0"))
      << daemon_->AccessLog();
}

}  // namespace
}  // namespace strait
