#include "tests/testing/e2e.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

extern char** environ;

namespace strait::testing {
namespace {

using std::chrono::milliseconds;

int64_t NowMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000 + now.tv_nsec / 1'000'000;
}

void SetTimeouts(int fd, int seconds) {
  timeval timeout{.tv_sec = seconds, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Waits for a child with a deadline; returns its wait status or -1 if still running.
int WaitWithTimeout(pid_t pid, int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return status;
    }
    if (done < 0 || NowMs() >= deadline) {
      return -1;
    }
    usleep(10'000);
  }
}

}  // namespace

std::string RunfilePath(std::string_view relative) {
  const char* root = std::getenv("TEST_SRCDIR");
  std::string base = root != nullptr ? root : ".";
  return base + "/strait/" + std::string(relative);
}

std::string MakeTempDirectory(std::string_view name) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string path = std::string(root != nullptr ? root : "/tmp") + "/" + std::string(name) + "." +
                     std::to_string(getpid()) + "." + std::to_string(NowMs());
  mkdir(path.c_str(), 0700);
  return path;
}

void WriteFile(const std::string& path, std::string_view contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(contents.data(), static_cast<std::streamsize>(contents.size()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms) {
  CommandResult result;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) {
    close(out[0]);
    return result;
  }

  int64_t deadline = NowMs() + timeout_ms;
  char buffer[4096];
  for (;;) {
    pollfd poll_fd{.fd = out[0], .events = POLLIN};
    int remaining = static_cast<int>(deadline - NowMs());
    if (remaining <= 0 || poll(&poll_fd, 1, remaining) <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    ssize_t n = read(out[0], buffer, sizeof(buffer));
    if (n <= 0) {
      break;
    }
    result.output.append(buffer, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = WaitWithTimeout(pid, 5000);
  if (status >= 0 && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && Terminate(10'000) < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  // Under the sanitizer configs the daemon is instrumented too; what it reports would otherwise
  // vanish with its log.
  if (!stderr_path_.empty()) {
    std::string log = ReadFile(stderr_path_);
    for (std::string_view marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                    "WARNING: ThreadSanitizer", "runtime error:"}) {
      if (log.find(marker) != std::string::npos) {
        ADD_FAILURE() << "the daemon reported \"" << marker << "\":\n" << log;
        break;
      }
    }
  }
}

bool DaemonProcess::Start(std::string config_toml, const std::vector<std::string>& extra_args,
                          std::string* error) {
  directory_ = MakeTempDirectory("strait");
  stderr_path_ = directory_ + "/stderr.log";
  access_log_path_ = directory_ + "/access.log";
  std::string config_path = directory_ + "/strait.toml";
  size_t marker = config_toml.find("{access_log}");
  if (marker != std::string::npos) {
    config_toml.replace(marker, 12, access_log_path_);
  }
  WriteFile(config_path, config_toml);
  WriteFile(access_log_path_, "");

  std::vector<std::string> argv = launcher_;
  argv.insert(argv.end(), {RunfilePath("tools/strait"), "--config", config_path});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  int spawned = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    pid_ = -1;
    if (error != nullptr) {
      *error = "cannot start " + argv[0] + ": " + std::strerror(spawned);
    }
    return false;
  }

  int64_t deadline = NowMs() + 10'000;
  while (NowMs() < deadline) {
    std::string log = ReadFile(stderr_path_);
    size_t at = log.find("listening on 127.0.0.1:");
    if (at != std::string::npos) {
      port_ = static_cast<uint16_t>(std::atoi(log.c_str() + at + 23));
      return port_ != 0;
    }
    if (!Running()) {
      break;
    }
    usleep(10'000);
  }
  if (error != nullptr) {
    *error = "daemon did not start:\n" + ReadFile(stderr_path_);
  }
  return false;
}

int DaemonProcess::Terminate(int timeout_ms) {
  if (pid_ <= 0) {
    return -1;
  }
  // The first SIGTERM drains, which waits for open tunnels; a second one stops at once.
  kill(pid_, SIGTERM);
  int status = WaitWithTimeout(pid_, std::min(timeout_ms, 3000));
  if (status < 0) {
    kill(pid_, SIGTERM);
    status = WaitWithTimeout(pid_, timeout_ms);
  }
  if (status >= 0) {
    pid_ = -1;
  }
  return status;
}

int DaemonProcess::WaitForExit(int timeout_ms) {
  if (pid_ <= 0) {
    return -1;
  }
  int status = WaitWithTimeout(pid_, timeout_ms);
  if (status >= 0) {
    pid_ = -1;
  }
  return status;
}

bool DaemonProcess::Running() {
  if (pid_ <= 0) {
    return false;
  }
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

bool DaemonProcess::WaitForAccessLog(std::string_view text, int timeout_ms) const {
  int64_t deadline = NowMs() + timeout_ms;
  for (;;) {
    if (ReadFile(access_log_path_).find(text) != std::string::npos) {
      return true;
    }
    if (NowMs() >= deadline) {
      return false;
    }
    usleep(20'000);
  }
}

WhoServer::WhoServer(std::string_view bind_ip) : bind_ip_(bind_ip) {
  bool v6 = bind_ip_.find(':') != std::string::npos;
  listen_fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage address{};
  socklen_t length = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&address);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, bind_ip_.c_str(), &a->sin6_addr);
    length = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&address);
    a->sin_family = AF_INET;
    inet_pton(AF_INET, bind_ip_.c_str(), &a->sin_addr);
    length = sizeof(*a);
  }
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length);
  listen(listen_fd_, 512);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

WhoServer::~WhoServer() {
  stopping_ = true;
  accept_thread_.join();
  for (std::thread& thread : connection_threads_) {
    thread.join();
  }
  close(listen_fd_);
}

std::string WhoServer::url() const {
  bool v6 = bind_ip_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + bind_ip_ + "]" : bind_ip_) + ":" + std::to_string(port_) + "/";
}

void WhoServer::AcceptLoop() {
  while (!stopping_) {
    pollfd poll_fd{.fd = listen_fd_, .events = POLLIN};
    if (poll(&poll_fd, 1, 50) <= 0) {
      continue;
    }
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (peer.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, ip, sizeof(ip));
    } else {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, ip, sizeof(ip));
    }
    connection_threads_.emplace_back([fd, seen = std::string(ip)] {
      SetTimeouts(fd, 10);
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
        ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          break;
        }
        request.append(buffer, static_cast<size_t>(n));
      }
      std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                             std::to_string(seen.size()) + "\r\nConnection: close\r\n\r\n" + seen;
      WriteAll(fd, response);
      shutdown(fd, SHUT_WR);
      while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
      }
      close(fd);
    });
  }
}

int ListenOnLoopback(int backlog, uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

EchoServer::EchoServer() {
  listen_fd_ = ListenOnLoopback(1024, &port_);
  thread_ = std::thread([this] { Loop(); });
}

EchoServer::~EchoServer() {
  stopping_ = true;
  thread_.join();
  close(listen_fd_);
}

void EchoServer::Loop() {
  std::vector<pollfd> fds = {{.fd = listen_fd_, .events = POLLIN}};
  char buffer[65536];
  while (!stopping_) {
    if (poll(fds.data(), fds.size(), 50) <= 0) {
      continue;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        fds.push_back({.fd = fd, .events = POLLIN});
        ++open_connections_;
      }
    }
    for (size_t i = 1; i < fds.size();) {
      if (fds[i].revents == 0) {
        ++i;
        continue;
      }
      ssize_t n = recv(fds[i].fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        WriteAll(fds[i].fd, std::string_view(buffer, static_cast<size_t>(n)));
        ++i;
      } else if (n < 0 && errno == EAGAIN) {
        ++i;
      } else {
        close(fds[i].fd);
        fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
        --open_connections_;
      }
    }
  }
  for (size_t i = 1; i < fds.size(); ++i) {
    close(fds[i].fd);
  }
}

Connection::Connection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  SetTimeouts(fd_, 10);
}

Connection::~Connection() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

bool Connection::Send(std::string_view bytes) { return WriteAll(fd_, bytes); }

std::string Connection::ReadHead() {
  std::string head;
  char c;
  while (head.size() < 65536) {
    ssize_t n = recv(fd_, &c, 1, 0);
    if (n <= 0) {
      return head;
    }
    head.push_back(c);
    if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) {
      return head;
    }
  }
  return head;
}

std::string Connection::ReadHeadWithin(int timeout_ms) {
  std::string head;
  int64_t deadline = NowMs() + timeout_ms;
  char c;
  while (head.size() < 65536) {
    pollfd poll_fd{.fd = fd_, .events = POLLIN};
    int remaining = static_cast<int>(deadline - NowMs());
    if (remaining <= 0 || poll(&poll_fd, 1, remaining) <= 0) {
      return head;
    }
    if (recv(fd_, &c, 1, 0) <= 0) {
      return head;
    }
    head.push_back(c);
    if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) {
      return head;
    }
  }
  return head;
}

std::string Connection::ReadExactly(size_t n) {
  std::string bytes(n, '\0');
  size_t received = 0;
  while (received < n) {
    ssize_t got = recv(fd_, bytes.data() + received, n - received, 0);
    if (got <= 0) {
      break;
    }
    received += static_cast<size_t>(got);
  }
  bytes.resize(received);
  return bytes;
}

std::string Connection::ReadToEnd(bool* reset) {
  std::string bytes;
  char buffer[65536];
  for (;;) {
    ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n > 0) {
      bytes.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (reset != nullptr) {
      *reset = n < 0 && errno == ECONNRESET;
    }
    return bytes;
  }
}

void Connection::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

void Connection::Reset() {
  linger option{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
  close(fd_);
  fd_ = -1;
}

std::string BasicCredentials(std::string_view user, std::string_view password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string plain = std::string(user) + ":" + std::string(password);
  std::string encoded;
  for (size_t i = 0; i < plain.size(); i += 3) {
    uint32_t chunk = static_cast<uint8_t>(plain[i]) << 16;
    if (i + 1 < plain.size()) {
      chunk |= static_cast<uint8_t>(plain[i + 1]) << 8;
    }
    if (i + 2 < plain.size()) {
      chunk |= static_cast<uint8_t>(plain[i + 2]);
    }
    encoded += kAlphabet[(chunk >> 18) & 63];
    encoded += kAlphabet[(chunk >> 12) & 63];
    encoded += i + 1 < plain.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    encoded += i + 2 < plain.size() ? kAlphabet[chunk & 63] : '=';
  }
  return "Basic " + encoded;
}

std::string ConnectRequest(std::string_view authority, std::string_view user,
                           std::string_view password) {
  return "CONNECT " + std::string(authority) + " HTTP/1.1\r\nHost: " + std::string(authority) +
         "\r\nProxy-Authorization: " + BasicCredentials(user, password) + "\r\n\r\n";
}

std::string HeaderValue(std::string_view head, std::string_view name) {
  size_t line_start = head.find("\r\n");
  while (line_start != std::string_view::npos) {
    line_start += 2;
    size_t line_end = head.find("\r\n", line_start);
    if (line_end == std::string_view::npos || line_end == line_start) {
      return "";
    }
    std::string_view line = head.substr(line_start, line_end - line_start);
    size_t colon = line.find(':');
    if (colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);
      }
      return std::string(value);
    }
    line_start = line_end;
  }
  return "";
}

int StatusCode(std::string_view head) {
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
    return 0;
  }
  return std::atoi(std::string(head.substr(9, 3)).c_str());
}

}  // namespace strait::testing
