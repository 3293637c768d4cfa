#pragma once

// End-to-end test support: the real strait daemon as a child process, real peers (curl, a
// target that reports the source address it saw), and raw proxy clients for exact assertions.
// Everything listens on loopback with port 0 and every wait is bounded.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace strait::testing {

// Absolute path of a file in the test's runfiles ("tools/strait").
std::string RunfilePath(std::string_view relative);

// A fresh directory under TEST_TMPDIR.
std::string MakeTempDirectory(std::string_view name);

void WriteFile(const std::string& path, std::string_view contents);
std::string ReadFile(const std::string& path);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout
};

// Runs argv[0] with the arguments, waits at most `timeout_ms`, returns exit code and stdout.
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms = 20'000);

// The daemon, started from //tools:strait with a configuration file.
class DaemonProcess {
 public:
  DaemonProcess() = default;
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess();

  // Writes `config_toml` to a temporary file, starts the daemon with `extra_args`, waits until it
  // logs its listening address. The configuration should listen on 127.0.0.1:0 and may use
  // `{access_log}` where the access log path goes. Returns false (with the log in `error`) if it
  // did not come up within 10 s.
  bool Start(std::string config_toml, const std::vector<std::string>& extra_args = {},
             std::string* error = nullptr);

  // Run the daemon through a launcher, e.g. {"/usr/bin/prlimit", "--nofile=64:64"}. Before Start.
  void set_launcher(std::vector<std::string> launcher) { launcher_ = std::move(launcher); }

  // Sends SIGTERM, and a second one if the drain takes over 3 s; waits (at most `timeout_ms`)
  // for the exit. Returns the wait status or -1.
  int Terminate(int timeout_ms = 10'000);

  // Waits (at most `timeout_ms`) for the daemon to exit on its own; returns the status or -1.
  int WaitForExit(int timeout_ms);

  bool Running();

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& directory() const { return directory_; }
  std::string config_path() const { return directory_ + "/strait.toml"; }
  std::string AccessLog() const { return ReadFile(access_log_path_); }
  std::string ProcessLog() const { return ReadFile(stderr_path_); }

  // Waits (bounded) until the access log contains `text`; the log is written asynchronously.
  bool WaitForAccessLog(std::string_view text, int timeout_ms = 5000) const;

 private:
  std::vector<std::string> launcher_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string directory_;
  std::string stderr_path_;
  std::string access_log_path_;
};

// An HTTP/1.1 origin on loopback that answers every request with the address the connection
// came from ("127.0.0.3"), so a test can tell which exit carried it. One thread per connection,
// bounded by the test's own request count.
class WhoServer {
 public:
  explicit WhoServer(std::string_view bind_ip = "127.0.0.1");
  ~WhoServer();

  uint16_t port() const { return port_; }
  std::string url() const;

 private:
  void AcceptLoop();

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::string bind_ip_;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::vector<std::thread> connection_threads_;
};

// A listening TCP socket on 127.0.0.1 with a kernel-chosen port (stored in *port); -1 on error.
int ListenOnLoopback(int backlog, uint16_t* port);

// A loopback echo server for many simultaneous connections: one thread, poll(2) over all of
// them. Connections end when the peer closes.
class EchoServer {
 public:
  EchoServer();
  ~EchoServer();

  uint16_t port() const { return port_; }
  std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }
  int open_connections() const { return open_connections_.load(); }

 private:
  void Loop();

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_connections_{0};
  std::thread thread_;
};

// A raw TCP connection to the proxy for exact protocol assertions.
class Connection {
 public:
  // Connects to 127.0.0.1:port (blocking, 10 s receive timeout).
  explicit Connection(uint16_t port);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool Send(std::string_view bytes);

  // Reads until "\r\n\r\n" (an HTTP head) and returns it; empty on EOF or timeout.
  std::string ReadHead();

  // Like ReadHead, but gives up after `timeout_ms` (and then returns what it has, maybe "").
  std::string ReadHeadWithin(int timeout_ms);

  // Reads exactly n bytes, or fewer on EOF / timeout.
  std::string ReadExactly(size_t n);

  // Reads until EOF (bounded by the receive timeout); `*reset` tells whether it ended in a
  // reset rather than a FIN.
  std::string ReadToEnd(bool* reset = nullptr);

  void ShutdownWrite();
  void Reset();  // SO_LINGER 0 + close: the peer sees a reset

 private:
  int fd_ = -1;
};

// "Basic ..." for Proxy-Authorization.
std::string BasicCredentials(std::string_view user, std::string_view password);

// A CONNECT request head with credentials.
std::string ConnectRequest(std::string_view authority, std::string_view user,
                           std::string_view password);

// The value of header `name` in an HTTP head (case-insensitive), empty if absent.
std::string HeaderValue(std::string_view head, std::string_view name);

// The status code of an HTTP head, or 0.
int StatusCode(std::string_view head);

}  // namespace strait::testing
