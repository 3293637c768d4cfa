// End to end: the daemon at its limits. Running out of file descriptors, reaching the tunnel
// limit and draining on SIGTERM must delay or refuse new tunnels, never crash the process or
// drop the tunnels already established.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/e2e.h"

namespace strait {
namespace {

using testing::Connection;
using testing::ConnectRequest;
using testing::DaemonProcess;
using testing::EchoServer;
using testing::StatusCode;

std::string Config(std::string_view limits) {
  return std::string(R"toml(
[server]
shards = 1
access_log = "{access_log}"
pipe_pool_idle = 4

[timeouts]
drain_ms = 10000

[limits]
)toml") + std::string(limits) +
         R"toml(

[policy]
allow_private = true

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

// Opens tunnels to the echo target until one is served (200), for when capacity frees up a
// moment after a test releases it; at most 50 attempts 100 ms apart. Null if none was.
std::unique_ptr<Connection> TunnelOnceServed(const DaemonProcess& daemon, const EchoServer& echo) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto connection = std::make_unique<Connection>(daemon.port());
    if (connection->Send(ConnectRequest(echo.authority(), "alice", "pw")) &&
        StatusCode(connection->ReadHeadWithin(5000)) == 200) {
      return connection;
    }
    usleep(100'000);
  }
  return nullptr;
}

// Sends `payload` through an established tunnel and expects it back from the echo target.
bool Echoes(Connection& connection, const std::string& payload) {
  return connection.Send(payload) && connection.ReadExactly(payload.size()) == payload;
}

TEST(StraitLimits, RunningOutOfDescriptorsDelaysNewTunnelsAndKeepsEstablishedOnes) {
  signal(SIGPIPE, SIG_IGN);
  EchoServer echo;
  DaemonProcess daemon;
  // 64 descriptors for the whole process, and a tunnel limit far above what that allows, so the
  // daemon really runs out instead of pausing at its own limit.
  daemon.set_launcher({"/usr/bin/prlimit", "--nofile=64:64"});
  std::string error;
  ASSERT_TRUE(daemon.Start(Config("max_tunnels = 1000"), {}, &error)) << error;

  std::vector<std::unique_ptr<Connection>> established;
  std::vector<std::unique_ptr<Connection>> waiting;
  int unavailable = 0;
  for (int i = 0; i < 40; ++i) {
    auto connection = std::make_unique<Connection>(daemon.port());
    ASSERT_TRUE(connection->connected());
    ASSERT_TRUE(connection->Send(ConnectRequest(echo.authority(), "alice", "pw")));
    std::string head = connection->ReadHeadWithin(300);
    if (StatusCode(head) == 200) {
      established.push_back(std::move(connection));
    } else if (StatusCode(head) == 503) {
      // Accepted, but no descriptor left for the target side.
      EXPECT_NE(head.find("unavailable"), std::string::npos) << head;
      ++unavailable;
    } else {
      // Not accepted yet: waiting in the backlog.
      EXPECT_EQ(head, "");
      waiting.push_back(std::move(connection));
    }
  }
  ASSERT_GT(established.size(), 5u);
  ASSERT_GT(unavailable + static_cast<int>(waiting.size()), 0)
      << "the descriptor limit was never reached";
  ASSERT_TRUE(daemon.Running()) << daemon.ProcessLog();

  // Every established tunnel still carries bytes both ways.
  for (auto& connection : established) {
    EXPECT_TRUE(Echoes(*connection, "still here"));
  }

  // Free some descriptors: connections that waited are served, and so are new ones.
  for (size_t i = 0; i < established.size() / 2; ++i) {
    established[i].reset();
  }
  for (auto& connection : waiting) {
    std::string head = connection->ReadHeadWithin(5000);
    EXPECT_EQ(StatusCode(head), 200) << head;
    connection.reset();
  }
  // The closed tunnels give their descriptors back once both ends have closed; a new tunnel is
  // served within a few attempts.
  std::unique_ptr<Connection> fresh = TunnelOnceServed(daemon, echo);
  ASSERT_NE(fresh, nullptr) << "no new tunnel after descriptors were freed";
  EXPECT_TRUE(Echoes(*fresh, "served once descriptors were free"));
  for (size_t i = established.size() / 2; i < established.size(); ++i) {
    EXPECT_TRUE(Echoes(*established[i], "and the survivors still work"));
  }
  EXPECT_TRUE(daemon.Running()) << daemon.ProcessLog();
}

TEST(StraitLimits, TunnelsBeyondTheLimitGetTooManyRequestsOnEveryShard) {
  signal(SIGPIPE, SIG_IGN);
  EchoServer echo;
  DaemonProcess daemon;
  std::string config = Config("max_tunnels = 3");
  config.replace(config.find("shards = 1"), 10, "shards = 2");
  std::string error;
  ASSERT_TRUE(daemon.Start(config, {}, &error)) << error;

  // Opened at once, so both shards accept some before any finishes: the limit is global.
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < 8; ++i) {
    connections.push_back(std::make_unique<Connection>(daemon.port()));
    ASSERT_TRUE(connections.back()->Send(ConnectRequest(echo.authority(), "alice", "pw")));
  }
  std::vector<std::unique_ptr<Connection>> established;
  int refused = 0;
  for (auto& connection : connections) {
    std::string head = connection->ReadHeadWithin(5000);
    if (StatusCode(head) == 200) {
      established.push_back(std::move(connection));
    } else {
      EXPECT_EQ(StatusCode(head), 429) << head;
      EXPECT_NE(head.find("limit_exceeded: too many tunnels"), std::string::npos) << head;
      ++refused;
    }
  }
  EXPECT_EQ(established.size(), 3u);
  EXPECT_EQ(refused, 5);

  // Once one ends, a new tunnel is served again.
  established[0].reset();
  std::unique_ptr<Connection> next = TunnelOnceServed(daemon, echo);
  ASSERT_NE(next, nullptr);
  EXPECT_TRUE(Echoes(*next, "served after one ended"));
}

TEST(StraitLimits, SigtermLetsEstablishedTunnelsFinishAndRefusesNewOnes) {
  signal(SIGPIPE, SIG_IGN);
  EchoServer echo;
  DaemonProcess daemon;
  std::string error;
  ASSERT_TRUE(daemon.Start(Config("max_tunnels = 100"), {}, &error)) << error;

  Connection tunnel(daemon.port());
  ASSERT_TRUE(tunnel.Send(ConnectRequest(echo.authority(), "alice", "pw")));
  ASSERT_EQ(StatusCode(tunnel.ReadHeadWithin(5000)), 200);

  kill(daemon.pid(), SIGTERM);
  usleep(300'000);
  ASSERT_TRUE(daemon.Running()) << "the daemon quit with a tunnel in flight";
  EXPECT_TRUE(Echoes(tunnel, "finishing during the drain"));

  Connection late(daemon.port());
  EXPECT_FALSE(late.connected() && late.Send(ConnectRequest(echo.authority(), "alice", "pw")) &&
               StatusCode(late.ReadHeadWithin(1000)) == 200)
      << "a new tunnel was accepted while draining";

  tunnel.ShutdownWrite();
  tunnel.ReadToEnd();
  // With its last tunnel gone the daemon exits on its own, well before drain_ms.
  int status = daemon.WaitForExit(5000);
  ASSERT_GE(status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(StraitLimits, FullStickyTableRefusesNewSessionsInsteadOfRotatingThem) {
  signal(SIGPIPE, SIG_IGN);
  EchoServer echo;
  DaemonProcess daemon;
  std::string config = Config("max_tunnels = 100");
  config.replace(config.find("[policy]"), 8, "[sticky]\ncapacity = 16\n\n[policy]");
  std::string error;
  ASSERT_TRUE(daemon.Start(config, {}, &error)) << error;

  int kept = 0;
  int refused = 0;
  for (int i = 0; i < 60; ++i) {
    Connection connection(daemon.port());
    ASSERT_TRUE(connection.Send(
        ConnectRequest(echo.authority(), "alice_s_session" + std::to_string(i) + "_ttl_1h", "pw")));
    std::string head = connection.ReadHeadWithin(5000);
    if (StatusCode(head) == 200) {
      ++kept;
    } else {
      EXPECT_EQ(StatusCode(head), 429) << head;
      EXPECT_NE(head.find("limit_exceeded: the sticky-session table is full"), std::string::npos)
          << head;
      ++refused;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(refused, 0) << "a 16-entry table took 60 live sessions";
}

TEST(StraitLimits, SecondInstanceOnTheSamePortRefusesToStart) {
  DaemonProcess first;
  std::string error;
  ASSERT_TRUE(first.Start(Config("max_tunnels = 10"), {}, &error)) << error;

  std::string config = Config("max_tunnels = 10");
  config.replace(config.find("127.0.0.1:0"), 11, "127.0.0.1:" + std::to_string(first.port()));
  DaemonProcess second;
  EXPECT_FALSE(second.Start(config, {}, &error));
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
  EXPECT_TRUE(first.Running());
}

TEST(StraitOperations, SighupAppliesAccountsAndExitsTogetherOrNotAtAll) {
  signal(SIGPIPE, SIG_IGN);
  EchoServer echo;
  DaemonProcess daemon;
  std::string config = Config("max_tunnels = 10");
  std::string error;
  ASSERT_TRUE(daemon.Start(config, {}, &error)) << error;
  auto status_for = [&](std::string_view password) {
    Connection connection(daemon.port());
    connection.Send(ConnectRequest(echo.authority(), "alice", password));
    return StatusCode(connection.ReadHeadWithin(5000));
  };
  ASSERT_EQ(status_for("pw"), 200);

  // A new password together with a broken exit row: nothing may change.
  std::string broken = config;
  broken.replace(broken.find("password = \"pw\""), 15, "password = \"new\"");
  broken.replace(broken.find("direct:127.0.0.2"), 16, "direct:not-an-address");
  testing::WriteFile(daemon.config_path(), broken);
  kill(daemon.pid(), SIGHUP);
  usleep(300'000);
  EXPECT_EQ(status_for("pw"), 200);
  EXPECT_EQ(status_for("new"), 407);
  EXPECT_NE(daemon.ProcessLog().find("SIGHUP: nothing reloaded"), std::string::npos)
      << daemon.ProcessLog();

  // Fixed: both take effect.
  std::string fixed = config;
  fixed.replace(fixed.find("password = \"pw\""), 15, "password = \"new\"");
  testing::WriteFile(daemon.config_path(), fixed);
  kill(daemon.pid(), SIGHUP);
  usleep(300'000);
  EXPECT_EQ(status_for("new"), 200);
  EXPECT_EQ(status_for("pw"), 407);
}

TEST(StraitOperations, StickySessionMovesWhenItsExitGoesAwayAndStrictOneFails) {
  signal(SIGPIPE, SIG_IGN);
  EchoServer echo;
  DaemonProcess daemon;
  std::string config = Config("max_tunnels = 10");
  std::string two_exits =
      "us-1,residential,us,,,,,0,1,direct:127.0.0.2\n"
      "us-2,residential,us,,,,,0,1,direct:127.0.0.3\n";
  config.replace(config.find("us-1,residential,us,,,,,0,1,direct:127.0.0.2\n"), 45, two_exits);
  std::string error;
  ASSERT_TRUE(daemon.Start(config, {}, &error)) << error;
  auto connect = [&](std::string_view user) {
    Connection connection(daemon.port());
    connection.Send(ConnectRequest(echo.authority(), user, "pw"));
    return connection.ReadHeadWithin(5000);
  };

  std::string first = connect("alice_s_keep_ttl_1h");
  ASSERT_EQ(StatusCode(first), 200) << first;
  std::string exit_id = testing::HeaderValue(first, "Proxy-Status");
  // A strict session on the same exit (rotating picks spread, so a few ids find it).
  std::string strict_user;
  for (int i = 0; i < 40 && strict_user.empty(); ++i) {
    std::string user = "alice_s_rigid" + std::to_string(i) + "_ttl_1h_strict";
    if (testing::HeaderValue(connect(user), "Proxy-Status") == exit_id) {
      strict_user = user;
    }
  }
  ASSERT_FALSE(strict_user.empty());
  ASSERT_TRUE(exit_id == "strait; next-hop=us-1" || exit_id == "strait; next-hop=us-2") << exit_id;
  EXPECT_EQ(testing::HeaderValue(connect("alice_s_keep_ttl_1h"), "Proxy-Status"), exit_id);

  // Take both sessions' exits away (at most two distinct ones): reload with only the other.
  bool keep_on_us1 = exit_id.ends_with("us-1");
  std::string remaining = keep_on_us1 ? "us-2,residential,us,,,,,0,1,direct:127.0.0.3\n"
                                      : "us-1,residential,us,,,,,0,1,direct:127.0.0.2\n";
  std::string reloaded = config;
  reloaded.replace(reloaded.find(two_exits), two_exits.size(), remaining);
  testing::WriteFile(daemon.config_path(), reloaded);
  kill(daemon.pid(), SIGHUP);
  usleep(300'000);

  std::string moved = connect("alice_s_keep_ttl_1h");
  EXPECT_EQ(StatusCode(moved), 200) << moved;
  EXPECT_EQ(testing::HeaderValue(moved, "Proxy-Status"), std::string("strait; next-hop=") +
                                                             (keep_on_us1 ? "us-2" : "us-1") +
                                                             "; details=\"session_moved\"");
  // It stays on the new exit, and says so only once.
  EXPECT_EQ(testing::HeaderValue(connect("alice_s_keep_ttl_1h"), "Proxy-Status"),
            std::string("strait; next-hop=") + (keep_on_us1 ? "us-2" : "us-1"));

  std::string gone = connect(strict_user);
  EXPECT_EQ(StatusCode(gone), 502) << gone;
  EXPECT_NE(gone.find("error=destination_unavailable; details=\"session_exit_gone"),
            std::string::npos)
      << gone;
}

TEST(StraitOperations, CheckConfigRefusesAnExitSourceThisHostDoesNotHave) {
  std::string directory = testing::MakeTempDirectory("check");
  std::string config = Config("max_tunnels = 10");
  // 192.0.2.1 (documentation range) is no address of this host; binding to it fails locally,
  // no packet is sent.
  config.replace(config.find("direct:127.0.0.2"), 16, "direct:192.0.2.1");
  testing::WriteFile(directory + "/strait.toml", config);
  testing::CommandResult result =
      testing::RunCommand({"/bin/sh", "-c",
                           testing::RunfilePath("tools/strait") + " --check-config " + directory +
                               "/strait.toml 2>&1"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("exit 'us-1': source address 192.0.2.1 cannot be used on this "
                               "host: Cannot assign requested address"),
            std::string::npos)
      << result.output;

  testing::WriteFile(directory + "/strait.toml", Config("max_tunnels = 10"));
  result = testing::RunCommand(
      {testing::RunfilePath("tools/strait"), "--check-config", directory + "/strait.toml"});
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("shards: 1"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("exits loaded: 1"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace strait
