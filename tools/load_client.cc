#include "tools/load_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "tools/load_net.h"
#include "tools/load_stats.h"

namespace strait::load {
namespace {

constexpr uint64_t kNsPerMs = 1'000'000;
constexpr uint64_t kNsPerS = 1'000'000'000;
constexpr size_t kRecvChunkBytes = 1 << 20;
// A loop over one socket stops after this many calls without EAGAIN and re-arms the socket, so
// one busy tunnel cannot starve the others.
constexpr int kMaxCallsPerTurn = 64;
// Client source addresses for --source-ips: 127.0.1.1, 127.0.1.2, ...
constexpr uint32_t kClientSourceBase = 0x7f000100;

enum class Stage : uint8_t {
  kFree,
  kConnecting,
  kHttpReply,
  kSocksMethod,
  kSocksAuth,
  kSocksConnect,
  kPong,       // PING sent, waiting for PONG
  kHeld,       // idle mode: established and quiet
  kStreaming,  // throughput mode
  kDraining,   // throughput mode: write side shut, reading what is left
  kClosing,    // QUIT answered: waiting for the target's close to arrive through the proxy
};

std::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kFree:
      return "free";
    case Stage::kConnecting:
      return "connect";
    case Stage::kHttpReply:
      return "http_reply";
    case Stage::kSocksMethod:
      return "socks_method";
    case Stage::kSocksAuth:
      return "socks_auth";
    case Stage::kSocksConnect:
      return "socks_connect";
    case Stage::kPong:
      return "pong";
    case Stage::kHeld:
      return "held";
    case Stage::kStreaming:
      return "streaming";
    case Stage::kDraining:
      return "drain";
    case Stage::kClosing:
      return "close";
  }
  return "?";
}

struct Tunnel {
  int fd = -1;
  uint32_t generation = 0;
  Stage stage = Stage::kFree;
  uint64_t sequence = 0;
  int attempt = 0;
  uint64_t first_start_ns = 0;
  uint64_t deadline_ns = 0;
  uint64_t handshake_ns = 0;
  std::string out;  // handshake or command bytes not yet sent
  size_t out_sent = 0;
  std::string in;         // reply bytes not yet parsed
  uint64_t sent = 0;      // payload bytes
  uint64_t received = 0;  // payload bytes
  uint64_t source_offset = 0;
  bool write_shut = false;
  bool peer_eof = false;  // EOF seen while reading a reply; the reply may still be complete
};

using Counts = std::map<std::string, uint64_t, std::less<>>;

void Increment(Counts& counts, std::string_view key) {
  auto it = counts.find(key);
  if (it == counts.end()) {
    counts.emplace(std::string(key), 1);
  } else {
    ++it->second;
  }
}

std::string ErrnoName(int error) {
  const char* name = strerrorname_np(error);
  return name != nullptr ? name : fmt::format("errno{}", error);
}

// Minimal JSON writer: objects and numbers/strings; keys and strings carry no control bytes.
class Json {
 public:
  void Open(std::string_view key = {}) {
    Key(key);
    text_ += '{';
    first_ = true;
  }
  void Close() {
    text_ += '}';
    first_ = false;
  }
  void Number(std::string_view key, double value) {
    Key(key);
    text_ += fmt::format("{:.6g}", value);
  }
  void Integer(std::string_view key, uint64_t value) {
    Key(key);
    text_ += fmt::format("{}", value);
  }
  void Bool(std::string_view key, bool value) {
    Key(key);
    text_ += value ? "true" : "false";
  }
  void String(std::string_view key, std::string_view value) {
    Key(key);
    Quote(value);
  }
  void Map(std::string_view key, const Counts& counts) {
    Open(key);
    for (const auto& [name, count] : counts) {
      Integer(name, count);
    }
    Close();
  }
  const std::string& text() const { return text_; }

 private:
  void Key(std::string_view key) {
    if (!first_) {
      text_ += ',';
    }
    first_ = false;
    if (!key.empty()) {
      Quote(key);
      text_ += ':';
    }
  }
  void Quote(std::string_view value) {
    text_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') {
        text_ += '\\';
      }
      text_ += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
    }
    text_ += '"';
  }
  std::string text_;
  bool first_ = true;
};

// Asks the target for its totals over a direct, blocking connection. False when unreachable.
bool QueryTargetStats(const sockaddr_in& address, TargetStats* stats) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  timeval timeout = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  bool ok = false;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 &&
      send(fd, "STATS\n", 6, MSG_NOSIGNAL) == 6) {
    std::string line;
    char buffer[256];
    // Bounded: the reply is one short line; each recv either adds bytes or ends the loop.
    while (line.find('\n') == std::string::npos && line.size() < 1024) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        break;
      }
      line.append(buffer, static_cast<size_t>(n));
    }
    size_t newline = line.find('\n');
    ok = newline != std::string::npos &&
         ParseStats(std::string_view(line).substr(0, newline), stats);
  }
  close(fd);
  return ok;
}

double CpuSecondsOfSelf() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Everything measured at one instant: the two ends of a measurement window.
struct Snapshot {
  uint64_t ns = 0;
  std::vector<CpuTimes> cpus;
  ProcessUsage proxy;
  double self_cpu_s = 0;
};

class LoadClient {
 public:
  explicit LoadClient(const RunOptions& options) : options_(options) {}
  ~LoadClient();

  int Run();

 private:
  int Setup();
  Snapshot TakeSnapshot() const;

  // Tunnel life cycle.
  void StartTunnel(size_t slot, uint64_t sequence);
  void StartAttempt(size_t slot);
  void Drive(size_t slot, uint32_t events);
  void OnConnected(Tunnel& t);
  void OnHandshakeDone(Tunnel& t);
  void OnPong(size_t slot, std::string_view address);
  void Fail(size_t slot, std::string_view kind);
  void CloseFd(Tunnel& t);
  void Rearm(size_t slot);
  void ExpireDeadlines(uint64_t now_ns);

  // I/O steps; each returns false when the tunnel was closed or failed.
  bool FlushOut(size_t slot);
  bool ReadReply(size_t slot);
  // Parses the reply of the current stage from `t.in` and acts on it. Returns true when the
  // stage's reply was complete (even when it was a refusal, which fails the attempt).
  bool ParseReply(size_t slot);
  bool Stream(size_t slot);
  bool Drain(size_t slot);
  void AwaitClose(size_t slot);
  void StartClosing(Tunnel& t);
  void FinishClosing(Tunnel& t, std::string_view note);
  void ShutWrite(Tunnel& t);

  // Event loop for up to `wait_ms`; returns false when a stop signal arrived.
  bool Poll(int wait_ms);

  void RunConnect();
  void RunThroughput();
  void RunIdle();
  size_t ActiveTunnels() const;
  uint64_t PayloadBytes() const;

  void Report(const Snapshot& begin, const Snapshot& end);
  // The target address for tunnel `sequence`: --target, with its port rotated over
  // --target-ports consecutive ports.
  sockaddr_in TargetAddress(uint64_t sequence) const;

  RunOptions options_;
  sockaddr_in connect_address_ = {};  // proxy, or target when direct
  sockaddr_in target_address_ = {};
  sockaddr_in stats_address_ = {};
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  int pattern_fd_ = -1;
  bool stop_requested_ = false;
  std::vector<Tunnel> tunnels_;
  uint64_t next_sequence_ = 0;
  uint64_t last_deadline_scan_ns_ = 0;

  // Results.
  LatencySamples handshake_ns_;
  LatencySamples total_ns_;
  uint64_t tunnels_ok_ = 0;
  uint64_t tunnels_failed_ = 0;
  uint64_t attempts_ = 0;
  uint64_t retries_ = 0;
  Counts errors_;
  Counts statuses_;
  Counts next_hops_;
  Counts source_ips_;
  uint64_t window_bytes_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t sunk_reported_ = 0;
  uint64_t last_done_ns_ = 0;
  uint64_t closing_ = 0;  // tunnels in Stage::kClosing
  // Idle mode.
  uint64_t idle_held_ = 0;
  uint64_t idle_closed_while_held_ = 0;
  uint64_t idle_alive_after_hold_ = 0;
  ProcessUsage idle_baseline_;
  ProcessUsage idle_loaded_;
  bool idle_measured_ = false;
  // Target totals before and after the run.
  bool target_stats_ok_ = false;
  TargetStats target_before_;
  TargetStats target_after_;
};

LoadClient::~LoadClient() {
  for (Tunnel& t : tunnels_) {
    CloseFd(t);
  }
  for (int fd : {epoll_fd_, signal_fd_, pattern_fd_}) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

int LoadClient::Setup() {
  if (!ParseEndpoint(options_.target, &target_address_) || !IsLoopback(target_address_)) {
    std::fprintf(stderr, "run: --target must be a 127.0.0.0/8 address:port\n");
    return 2;
  }
  connect_address_ = target_address_;
  if (options_.proxy_kind != ProxyKind::kDirect &&
      (!ParseEndpoint(options_.proxy, &connect_address_) || !IsLoopback(connect_address_))) {
    std::fprintf(stderr, "run: --proxy must name a 127.0.0.0/8 address:port\n");
    return 2;
  }
  std::string stats = options_.stats_address.empty() ? options_.target : options_.stats_address;
  if (!ParseEndpoint(stats, &stats_address_) || !IsLoopback(stats_address_)) {
    std::fprintf(stderr, "run: --target-stats must be a 127.0.0.0/8 address:port\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = MakeStopSignalFd();
  pattern_fd_ = MakePatternMemfd();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (signal_fd_ < 0 || pattern_fd_ < 0 || epoll_fd_ < 0) {
    std::perror("run: setup");
    return 1;
  }
  epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = ~0ull;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &event);
  return 0;
}

Snapshot LoadClient::TakeSnapshot() const {
  Snapshot snapshot;
  snapshot.ns = NowNs();
  snapshot.cpus = ReadCpuTimes();
  if (options_.proxy_pid > 0) {
    snapshot.proxy = ReadProcessTree(options_.proxy_pid);
  }
  snapshot.self_cpu_s = CpuSecondsOfSelf();
  return snapshot;
}

sockaddr_in LoadClient::TargetAddress(uint64_t sequence) const {
  sockaddr_in address = target_address_;
  uint32_t port = ntohs(target_address_.sin_port) +
                  static_cast<uint32_t>(sequence % static_cast<uint64_t>(options_.target_ports));
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

void LoadClient::CloseFd(Tunnel& t) {
  if (t.fd >= 0) {
    close(t.fd);  // also removes it from the epoll set
    t.fd = -1;
  }
}

void LoadClient::StartTunnel(size_t slot, uint64_t sequence) {
  Tunnel& t = tunnels_[slot];
  t.sequence = sequence;
  t.attempt = 0;
  t.first_start_ns = NowNs();
  t.sent = 0;
  t.received = 0;
  t.source_offset = 0;
  StartAttempt(slot);
}

void LoadClient::StartAttempt(size_t slot) {
  Tunnel& t = tunnels_[slot];
  ++attempts_;
  ++t.generation;
  t.stage = Stage::kConnecting;
  t.deadline_ns = NowNs() + static_cast<uint64_t>(options_.timeout_ms) * kNsPerMs;
  t.out.clear();
  t.out_sent = 0;
  t.in.clear();
  t.write_shut = false;
  t.peer_eof = false;
  t.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t.fd < 0) {
    Fail(slot, fmt::format("socket_{}", ErrnoName(errno)));
    return;
  }
  int one = 1;
  setsockopt(t.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (options_.source_ips > 0) {
    // Each source address has its own ephemeral port space. With one address, the ports held
    // in TIME_WAIT (the client closes first) cap a loopback run at about 14k tunnels/s.
    setsockopt(t.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in source = {};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr =
        htonl(kClientSourceBase + 1 + (t.sequence + t.attempt) % options_.source_ips);
    if (bind(t.fd, reinterpret_cast<const sockaddr*>(&source), sizeof(source)) != 0) {
      Fail(slot, fmt::format("bind_{}", ErrnoName(errno)));
      return;
    }
  }
  epoll_event event = {};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = (static_cast<uint64_t>(slot) << 32) | t.generation;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, t.fd, &event);
  sockaddr_in destination = connect_address_;
  if (options_.proxy_kind == ProxyKind::kDirect) {
    destination = TargetAddress(t.sequence);
  }
  int result = connect(t.fd, reinterpret_cast<const sockaddr*>(&destination), sizeof(destination));
  if (result != 0 && errno != EINPROGRESS) {
    Fail(slot, fmt::format("connect_{}", ErrnoName(errno)));
  }
  // Completion (or an immediate loopback success) is reported by EPOLLOUT.
}

void LoadClient::Rearm(size_t slot) {
  Tunnel& t = tunnels_[slot];
  epoll_event event = {};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = (static_cast<uint64_t>(slot) << 32) | t.generation;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, t.fd, &event);
}

void LoadClient::Fail(size_t slot, std::string_view kind) {
  Tunnel& t = tunnels_[slot];
  Increment(errors_, kind);
  CloseFd(t);
  // Only set-up is retried: a tunnel that already carried payload (or held, or was pinged
  // again after the hold, which sets `sent`) has failed for good.
  bool can_retry = t.attempt < options_.retries && !stop_requested_ && t.sent == 0 &&
                   t.received == 0 && t.stage != Stage::kStreaming && t.stage != Stage::kDraining &&
                   t.stage != Stage::kHeld;
  if (can_retry) {
    ++t.attempt;
    ++retries_;
    StartAttempt(slot);
    return;
  }
  ++tunnels_failed_;
  t.stage = Stage::kFree;
  last_done_ns_ = NowNs();
}

void LoadClient::OnConnected(Tunnel& t) {
  std::string user = RoutingUser(options_.routing, options_.account, t.sequence, options_.sessions);
  switch (options_.proxy_kind) {
    case ProxyKind::kDirect:
    case ProxyKind::kRelay:
      OnHandshakeDone(t);  // nothing to negotiate: the connection is the tunnel
      return;
    case ProxyKind::kHttp:
      t.out = BuildHttpConnect(FormatEndpoint(TargetAddress(t.sequence)), user, options_.password);
      t.stage = Stage::kHttpReply;
      return;
    case ProxyKind::kSocks5:
      t.out = BuildSocksGreeting(options_.routing != RoutingKind::kNone);
      t.stage = Stage::kSocksMethod;
      return;
  }
}

void LoadClient::OnHandshakeDone(Tunnel& t) {
  t.handshake_ns = NowNs();
  // Connect mode ends each tunnel with QUIT so the target closes first (see load_protocol.h).
  std::string_view verb = options_.mode == Mode::kConnect ? "QUIT" : "PING";
  t.out = fmt::format("{} t{}\n", verb, t.sequence);
  t.stage = Stage::kPong;
}

void LoadClient::StartClosing(Tunnel& t) {
  t.stage = Stage::kClosing;
  t.deadline_ns = NowNs() + static_cast<uint64_t>(options_.timeout_ms) * kNsPerMs;
  ++closing_;
}

void LoadClient::FinishClosing(Tunnel& t, std::string_view note) {
  if (!note.empty()) {
    Increment(errors_, note);  // the tunnel itself succeeded; the close was not clean
  }
  CloseFd(t);
  t.stage = Stage::kFree;
  --closing_;
  last_done_ns_ = NowNs();
}

// After QUIT: the target closes, the proxy passes the close on, and the client closes last.
void LoadClient::AwaitClose(size_t slot) {
  Tunnel& t = tunnels_[slot];
  char buffer[256];
  for (int calls = 0; calls < kMaxCallsPerTurn; ++calls) {
    ssize_t n = recv(t.fd, buffer, sizeof(buffer), 0);
    if (n == 0) {
      FinishClosing(t, "");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return;
      }
      FinishClosing(t, fmt::format("close_{}", ErrnoName(errno)));
      return;
    }
    // Bytes after PONG: nothing should come; they are dropped and the wait goes on.
  }
  Rearm(slot);
}

bool LoadClient::FlushOut(size_t slot) {
  Tunnel& t = tunnels_[slot];
  while (t.out_sent < t.out.size()) {
    ssize_t n = send(t.fd, t.out.data() + t.out_sent, t.out.size() - t.out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      Fail(slot, fmt::format("send_{}_{}", StageName(t.stage), ErrnoName(errno)));
      return false;
    }
    t.out_sent += static_cast<size_t>(n);
  }
  t.out.clear();
  t.out_sent = 0;
  return true;
}

// Reads what has arrived into `t.in` and advances the handshake by at most one reply.
bool LoadClient::ReadReply(size_t slot) {
  Tunnel& t = tunnels_[slot];
  char buffer[2048];
  for (;;) {
    size_t room = kMaxHttpReplyBytes - std::min(kMaxHttpReplyBytes, t.in.size());
    if (room == 0) {
      break;
    }
    ssize_t n = recv(t.fd, buffer, std::min(room, sizeof(buffer)), 0);
    if (n == 0) {
      t.peer_eof = true;  // a failure only if the reply below is incomplete
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        break;
      }
      Fail(slot, fmt::format("recv_{}_{}", StageName(t.stage), ErrnoName(errno)));
      return false;
    }
    t.in.append(buffer, static_cast<size_t>(n));
  }

  const uint32_t generation = t.generation;
  bool complete = ParseReply(slot);
  if (t.generation != generation || t.fd < 0) {
    return false;  // the attempt failed (and may have been retried on a new connection)
  }
  if (!complete && t.peer_eof) {
    Fail(slot, fmt::format("eof_{}", StageName(t.stage)));
    return false;
  }
  return true;
}

bool LoadClient::ParseReply(size_t slot) {
  Tunnel& t = tunnels_[slot];
  std::string_view in = t.in;
  std::string user;
  switch (t.stage) {
    case Stage::kHttpReply: {
      HttpReply reply = ParseHttpReply(in);
      if (reply.state == ParseState::kIncomplete) {
        return false;
      }
      if (reply.state == ParseState::kMalformed) {
        Fail(slot, "malformed_http_reply");
        return true;
      }
      const ProxyStatus& status = reply.proxy_status;
      Increment(statuses_, status.reason.empty()
                               ? fmt::format("{}", reply.status)
                               : fmt::format("{} {}", reply.status, status.reason));
      if (!status.next_hop.empty()) {
        Increment(next_hops_, status.next_hop);
      }
      if (reply.status != 200) {
        Fail(slot, fmt::format("http_{}", reply.status));
        return true;
      }
      t.in.erase(0, reply.header_bytes);
      OnHandshakeDone(t);
      return true;
    }
    case Stage::kSocksMethod: {
      SocksReply reply = ParseSocksMethodReply(in);
      if (reply.state == ParseState::kIncomplete) {
        return false;
      }
      uint8_t wanted = options_.routing == RoutingKind::kNone ? 0x00 : 0x02;
      if (reply.state == ParseState::kMalformed || reply.code != wanted) {
        Increment(statuses_, fmt::format("socks5 method {:#04x}", reply.code));
        Fail(slot, "socks_method_refused");
        return true;
      }
      t.in.erase(0, reply.bytes);
      if (wanted == 0x02) {
        user = RoutingUser(options_.routing, options_.account, t.sequence, options_.sessions);
        t.out = BuildSocksAuth(user, options_.password);
        t.stage = Stage::kSocksAuth;
      } else {
        sockaddr_in target = TargetAddress(t.sequence);
        t.out = BuildSocksConnectIpv4(ntohl(target.sin_addr.s_addr), ntohs(target.sin_port));
        t.stage = Stage::kSocksConnect;
      }
      return true;
    }
    case Stage::kSocksAuth: {
      SocksReply reply = ParseSocksAuthReply(in);
      if (reply.state == ParseState::kIncomplete) {
        return false;
      }
      if (reply.state == ParseState::kMalformed || reply.code != 0) {
        Increment(statuses_, fmt::format("rfc1929 status {:#04x}", reply.code));
        Fail(slot, "socks_auth_failed");
        return true;
      }
      t.in.erase(0, reply.bytes);
      sockaddr_in target = TargetAddress(t.sequence);
      t.out = BuildSocksConnectIpv4(ntohl(target.sin_addr.s_addr), ntohs(target.sin_port));
      t.stage = Stage::kSocksConnect;
      return true;
    }
    case Stage::kSocksConnect: {
      SocksReply reply = ParseSocksConnectReply(in);
      if (reply.state == ParseState::kIncomplete) {
        return false;
      }
      if (reply.state == ParseState::kMalformed) {
        Fail(slot, "malformed_socks_reply");
        return true;
      }
      Increment(statuses_, fmt::format("socks5 rep {:#04x}", reply.code));
      if (reply.code != 0) {
        Fail(slot, fmt::format("socks_rep_{:#04x}", reply.code));
        return true;
      }
      t.in.erase(0, reply.bytes);
      OnHandshakeDone(t);
      return true;
    }
    case Stage::kPong: {
      size_t newline = in.find('\n');
      if (newline == std::string_view::npos) {
        if (in.size() >= kMaxCommandBytes) {
          Fail(slot, "malformed_pong");
          return true;
        }
        return false;
      }
      std::string_view token;
      std::string_view address;
      std::string expected = fmt::format("t{}", t.sequence);
      if (!ParsePong(in.substr(0, newline), &token, &address) || token != expected) {
        Fail(slot, "echo_mismatch");
        return true;
      }
      std::string seen(address);
      t.in.erase(0, newline + 1);
      OnPong(slot, seen);
      return true;
    }
    default:
      return false;
  }
}

void LoadClient::OnPong(size_t slot, std::string_view address) {
  Tunnel& t = tunnels_[slot];
  uint64_t now = NowNs();
  if (t.sent == 0) {  // idle mode pings again after the hold; count each tunnel once
    Increment(source_ips_, AddressIp(address));
  }
  switch (options_.mode) {
    case Mode::kConnect:
      handshake_ns_.Add(t.handshake_ns - t.first_start_ns);
      total_ns_.Add(now - t.first_start_ns);
      ++tunnels_ok_;
      last_done_ns_ = now;
      StartClosing(t);
      return;
    case Mode::kIdle:
      if (t.sent == 0) {
        // First PONG: the tunnel is up. `sent` marks the second (after-hold) PING.
        handshake_ns_.Add(t.handshake_ns - t.first_start_ns);
        total_ns_.Add(now - t.first_start_ns);
        ++tunnels_ok_;
        ++idle_held_;
        t.stage = Stage::kHeld;
      } else {
        ++idle_alive_after_hold_;
        StartClosing(t);  // the after-hold check is a QUIT
      }
      return;
    case Mode::kThroughput:
      handshake_ns_.Add(t.handshake_ns - t.first_start_ns);
      total_ns_.Add(now - t.first_start_ns);
      ++tunnels_ok_;
      switch (options_.direction) {
        case Direction::kUp:
          t.out = "SINK\n";
          break;
        case Direction::kDown:
          t.out = "SOURCE\n";
          break;
        case Direction::kBoth:
          t.out = "DUPLEX\n";
          break;
      }
      t.stage = Stage::kStreaming;
      return;
  }
}

bool LoadClient::Stream(size_t slot) {
  Tunnel& t = tunnels_[slot];
  bool up = options_.direction != Direction::kDown;
  bool down = options_.direction != Direction::kUp;
  bool rearm = false;
  if (up && !t.write_shut) {
    int calls = 0;
    for (; calls < kMaxCallsPerTurn; ++calls) {
      off_t offset = static_cast<off_t>(t.source_offset % kPatternBytes);
      ssize_t n = sendfile(t.fd, pattern_fd_, &offset, kPatternBytes - static_cast<size_t>(offset));
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          break;
        }
        Fail(slot, fmt::format("send_stream_{}", ErrnoName(errno)));
        return false;
      }
      t.source_offset += static_cast<uint64_t>(n);
      t.sent += static_cast<uint64_t>(n);
    }
    rearm |= calls == kMaxCallsPerTurn;
  }
  if (down) {
    int calls = 0;
    for (; calls < kMaxCallsPerTurn; ++calls) {
      ssize_t n = recv(t.fd, nullptr, kRecvChunkBytes, MSG_TRUNC);
      if (n == 0) {
        if (t.stage != Stage::kDraining) {
          Fail(slot, "eof_streaming");
          return false;
        }
        CloseFd(t);  // the whole stream has arrived
        t.stage = Stage::kFree;
        last_done_ns_ = NowNs();
        return false;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          break;
        }
        Fail(slot, fmt::format("recv_{}_{}", StageName(t.stage), ErrnoName(errno)));
        return false;
      }
      t.received += static_cast<uint64_t>(n);
    }
    rearm |= calls == kMaxCallsPerTurn;
  }
  if (rearm) {
    Rearm(slot);
  }
  return true;
}

// Up direction after the write side is shut: reads "SUNK <n>\n", then the target's EOF.
bool LoadClient::Drain(size_t slot) {
  Tunnel& t = tunnels_[slot];
  if (options_.direction != Direction::kUp) {
    return Stream(slot);
  }
  char buffer[256];
  // Bounded: the reply is one short line, then EOF.
  for (int calls = 0; calls < kMaxCallsPerTurn; ++calls) {
    ssize_t n = recv(t.fd, buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      Fail(slot, fmt::format("recv_drain_{}", ErrnoName(errno)));
      return false;
    }
    if (n == 0) {
      size_t newline = t.in.find('\n');
      std::string_view line = std::string_view(t.in).substr(0, newline);
      std::string_view count = line.substr(std::min<size_t>(5, line.size()));
      uint64_t sunk = 0;
      auto parsed = std::from_chars(count.data(), count.data() + count.size(), sunk);
      if (newline == std::string::npos || line.substr(0, 5) != "SUNK " ||
          parsed.ec != std::errc() || parsed.ptr != count.data() + count.size()) {
        Fail(slot, "missing_sink_ack");
        return false;
      }
      sunk_reported_ += sunk;
      if (sunk != t.sent) {
        Increment(errors_, "sink_ack_mismatch");
      }
      CloseFd(t);
      t.stage = Stage::kFree;
      last_done_ns_ = NowNs();
      return false;
    }
    t.in.append(buffer, static_cast<size_t>(n));
    if (t.in.size() > kMaxCommandBytes) {
      Fail(slot, "malformed_sink_ack");
      return false;
    }
  }
  Rearm(slot);
  return true;
}

void LoadClient::ShutWrite(Tunnel& t) {
  if (t.fd >= 0 && !t.write_shut) {
    shutdown(t.fd, SHUT_WR);
    t.write_shut = true;
  }
}

void LoadClient::Drive(size_t slot, uint32_t events) {
  Tunnel& t = tunnels_[slot];
  if (t.stage == Stage::kConnecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
      return;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(t.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      Fail(slot, fmt::format("connect_{}", ErrnoName(error)));
      return;
    }
    OnConnected(t);
  }
  // Bounded: each pass sends a message or parses a reply; a handshake has at most four steps.
  for (int pass = 0; pass < 8 && t.fd >= 0; ++pass) {
    if (!FlushOut(slot)) {
      return;
    }
    Stage before = t.stage;
    switch (t.stage) {
      case Stage::kHttpReply:
      case Stage::kSocksMethod:
      case Stage::kSocksAuth:
      case Stage::kSocksConnect:
      case Stage::kPong:
        if (!t.out.empty()) {
          return;  // the request is not fully sent yet
        }
        if (!ReadReply(slot)) {
          return;
        }
        break;
      case Stage::kStreaming:
        if (!t.out.empty()) {
          return;
        }
        Stream(slot);
        return;
      case Stage::kDraining:
        Drain(slot);
        return;
      case Stage::kClosing:
        AwaitClose(slot);
        return;
      case Stage::kHeld:
        if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
          ++idle_closed_while_held_;
          Fail(slot, "closed_while_held");
        }
        return;
      case Stage::kFree:
      case Stage::kConnecting:
        return;
    }
    if (t.stage == before && t.out.empty()) {
      return;  // waiting for more bytes
    }
  }
}

void LoadClient::ExpireDeadlines(uint64_t now_ns) {
  if (now_ns - last_deadline_scan_ns_ < 20 * kNsPerMs) {
    return;
  }
  last_deadline_scan_ns_ = now_ns;
  for (size_t slot = 0; slot < tunnels_.size(); ++slot) {
    Tunnel& t = tunnels_[slot];
    bool timed = t.stage != Stage::kFree && t.stage != Stage::kHeld && t.stage != Stage::kStreaming;
    if (!timed || t.fd < 0 || now_ns <= t.deadline_ns) {
      continue;
    }
    if (t.stage == Stage::kClosing) {
      FinishClosing(t, "close_timeout");  // the proxy did not pass the target's close on
    } else {
      Fail(slot, fmt::format("timeout_{}", StageName(t.stage)));
    }
  }
}

bool LoadClient::Poll(int wait_ms) {
  epoll_event events[512];
  int count = epoll_wait(epoll_fd_, events, 512, wait_ms);
  if (count < 0 && errno != EINTR) {
    std::perror("run: epoll_wait");
    stop_requested_ = true;
  }
  for (int i = 0; i < count; ++i) {
    uint64_t key = events[i].data.u64;
    if (key == ~0ull) {
      signalfd_siginfo info;
      while (read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
      }
      stop_requested_ = true;
      continue;
    }
    size_t slot = static_cast<size_t>(key >> 32);
    if (slot < tunnels_.size() && tunnels_[slot].fd >= 0 &&
        tunnels_[slot].generation == static_cast<uint32_t>(key)) {
      Drive(slot, events[i].events);
    }
  }
  ExpireDeadlines(NowNs());
  return !stop_requested_;
}

size_t LoadClient::ActiveTunnels() const {
  size_t active = 0;
  for (const Tunnel& t : tunnels_) {
    active += t.stage != Stage::kFree ? 1 : 0;
  }
  return active;
}

uint64_t LoadClient::PayloadBytes() const {
  uint64_t bytes = 0;
  for (const Tunnel& t : tunnels_) {
    bytes += t.sent + t.received;
  }
  return bytes;
}

void LoadClient::RunConnect() {
  tunnels_.resize(static_cast<size_t>(options_.workers));
  const uint64_t start_ns = NowNs();
  const uint64_t end_ns = start_ns + static_cast<uint64_t>(options_.duration_s * kNsPerS);
  auto may_start = [&] {
    bool by_count = options_.count == 0 || next_sequence_ < options_.count;
    return by_count && !stop_requested_ && NowNs() < end_ns;
  };
  for (size_t slot = 0; slot < tunnels_.size() && may_start(); ++slot) {
    StartTunnel(slot, next_sequence_++);
  }
  // Bounded by the duration plus one attempt timeout per retry for the tunnels in flight.
  const uint64_t hard_end_ns = end_ns + static_cast<uint64_t>(options_.timeout_ms) *
                                            static_cast<uint64_t>(options_.retries + 2) * kNsPerMs;
  while (NowNs() < hard_end_ns) {
    Poll(may_start() ? 10 : 5);
    for (size_t slot = 0; slot < tunnels_.size() && may_start(); ++slot) {
      if (tunnels_[slot].stage == Stage::kFree) {
        StartTunnel(slot, next_sequence_++);
      }
    }
    if (!may_start() && ActiveTunnels() == 0) {
      break;
    }
  }
}

void LoadClient::RunThroughput() {
  tunnels_.resize(static_cast<size_t>(options_.tunnels));
  for (size_t slot = 0; slot < tunnels_.size(); ++slot) {
    StartTunnel(slot, next_sequence_++);
  }
  // Set-up: every tunnel streaming (or failed for good).
  const uint64_t setup_end_ns = NowNs() + static_cast<uint64_t>(options_.timeout_ms) *
                                              static_cast<uint64_t>(options_.retries + 1) *
                                              kNsPerMs;
  auto all_streaming = [&] {
    for (const Tunnel& t : tunnels_) {
      if (t.stage != Stage::kStreaming && t.stage != Stage::kFree) {
        return false;
      }
    }
    return true;
  };
  while (!all_streaming() && NowNs() < setup_end_ns && Poll(5)) {
  }
  // A short warm-up lets TCP windows open before the window starts.
  const uint64_t warm_end_ns = NowNs() + 200 * kNsPerMs;
  while (NowNs() < warm_end_ns && Poll(5)) {
  }
  Snapshot begin = TakeSnapshot();
  uint64_t bytes_begin = PayloadBytes();
  const uint64_t end_ns = begin.ns + static_cast<uint64_t>(options_.duration_s * kNsPerS);
  while (NowNs() < end_ns && Poll(5)) {
  }
  Snapshot end = TakeSnapshot();
  window_bytes_ = PayloadBytes() - bytes_begin;

  // Stop: half-close every stream and collect what is still in flight.
  for (size_t slot = 0; slot < tunnels_.size(); ++slot) {
    Tunnel& t = tunnels_[slot];
    if (t.stage == Stage::kStreaming) {
      ShutWrite(t);
      t.stage = Stage::kDraining;
      t.deadline_ns = NowNs() + static_cast<uint64_t>(options_.timeout_ms) * kNsPerMs;
      Drive(slot, EPOLLIN);
    }
  }
  const uint64_t drain_end_ns =
      NowNs() + static_cast<uint64_t>(options_.timeout_ms + 100) * kNsPerMs;
  while (ActiveTunnels() > 0 && NowNs() < drain_end_ns) {
    Poll(5);
  }
  for (const Tunnel& t : tunnels_) {
    bytes_sent_ += t.sent;
    bytes_received_ += t.received;
  }
  Report(begin, end);
}

void LoadClient::RunIdle() {
  idle_baseline_ = options_.proxy_pid > 0 ? ReadProcessTree(options_.proxy_pid) : ProcessUsage();
  tunnels_.resize(static_cast<size_t>(options_.idle_tunnels));
  const uint64_t open_end_ns = NowNs() + static_cast<uint64_t>(options_.duration_s * kNsPerS) +
                               static_cast<uint64_t>(options_.timeout_ms) *
                                   static_cast<uint64_t>(options_.retries + 1) * kNsPerMs;
  size_t next_slot = 0;
  // Counted, not scanned: thousands of tunnels are opened.
  auto in_flight = [&] {
    uint64_t settled = idle_held_ + tunnels_failed_ - idle_closed_while_held_;
    return next_slot - static_cast<size_t>(settled);
  };
  // Open with at most `workers` handshakes in flight, so the proxy's accept queue never
  // overflows and the numbers measure holding, not a connect storm.
  while (NowNs() < open_end_ns && !stop_requested_) {
    size_t flying = in_flight();
    while (next_slot < tunnels_.size() && flying < static_cast<size_t>(options_.workers)) {
      StartTunnel(next_slot++, next_sequence_++);
      ++flying;
    }
    if (next_slot == tunnels_.size() && flying == 0) {
      break;
    }
    Poll(5);
  }
  // Hold: the proxy sees only quiet tunnels. Tunnels the proxy closes are counted.
  Snapshot begin = TakeSnapshot();
  const uint64_t hold_end_ns = begin.ns + static_cast<uint64_t>(options_.hold_s * kNsPerS);
  while (NowNs() < hold_end_ns && Poll(50)) {
  }
  Snapshot end = TakeSnapshot();
  idle_loaded_ = end.proxy;
  idle_measured_ = options_.proxy_pid > 0 && idle_baseline_.found && end.proxy.found;

  // Every tunnel still held must still carry bytes end to end.
  uint64_t pinged = 0;
  const uint64_t failed_before = tunnels_failed_;
  for (size_t slot = 0; slot < tunnels_.size(); ++slot) {
    Tunnel& t = tunnels_[slot];
    if (t.stage == Stage::kHeld && t.fd >= 0) {
      t.sent = 1;  // marks the after-hold check for OnPong
      t.out = fmt::format("QUIT t{}\n", t.sequence);
      t.stage = Stage::kPong;
      t.deadline_ns = NowNs() + static_cast<uint64_t>(options_.timeout_ms) * kNsPerMs;
      ++pinged;
      Drive(slot, EPOLLOUT);
    }
  }
  const uint64_t ping_end_ns =
      NowNs() + static_cast<uint64_t>(options_.timeout_ms + 100) * kNsPerMs;
  auto pinging = [&] {
    return idle_alive_after_hold_ + (tunnels_failed_ - failed_before) < pinged;
  };
  while ((pinging() || closing_ > 0) && NowNs() < ping_end_ns) {
    Poll(5);
  }
  for (Tunnel& t : tunnels_) {
    t.sent = 0;
    CloseFd(t);
    t.stage = Stage::kFree;
  }
  Report(begin, end);
}

int LoadClient::Run() {
  if (int code = Setup(); code != 0) {
    return code;
  }
  if (options_.mode == Mode::kIdle) {
    rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if (static_cast<rlim_t>(options_.idle_tunnels) + 64 > limit.rlim_cur) {
      std::fprintf(stderr, "run: %d idle tunnels need more descriptors than the limit (%lu)\n",
                   options_.idle_tunnels, static_cast<unsigned long>(limit.rlim_cur));
      return 2;
    }
  }
  target_stats_ok_ = QueryTargetStats(stats_address_, &target_before_);
  switch (options_.mode) {
    case Mode::kConnect: {
      Snapshot begin = TakeSnapshot();
      RunConnect();
      Snapshot end = TakeSnapshot();
      if (last_done_ns_ > begin.ns) {
        end.ns = last_done_ns_;  // rate over the time tunnels were actually completing
      }
      Report(begin, end);
      break;
    }
    case Mode::kThroughput:
      RunThroughput();
      break;
    case Mode::kIdle:
      RunIdle();
      break;
  }
  return 0;
}

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kConnect:
      return "connect";
    case Mode::kThroughput:
      return "throughput";
    case Mode::kIdle:
      return "idle";
  }
  return "?";
}

std::string_view ProxyKindName(ProxyKind kind) {
  switch (kind) {
    case ProxyKind::kDirect:
      return "direct";
    case ProxyKind::kRelay:
      return "relay";
    case ProxyKind::kHttp:
      return "http";
    case ProxyKind::kSocks5:
      return "socks5";
  }
  return "?";
}

std::string_view DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kUp:
      return "up";
    case Direction::kDown:
      return "down";
    case Direction::kBoth:
      return "both";
  }
  return "?";
}

void LoadClient::Report(const Snapshot& begin, const Snapshot& end) {
  // The target's totals are read once every tunnel is closed, so nothing is in flight.
  bool target_after_ok = QueryTargetStats(stats_address_, &target_after_);
  bool target_ok = target_stats_ok_ && target_after_ok;
  TargetStats delta;
  if (target_ok) {
    delta.tunnels = target_after_.tunnels - target_before_.tunnels;
    delta.pings = target_after_.pings - target_before_.pings;
    delta.bytes_in = target_after_.bytes_in - target_before_.bytes_in;
    delta.bytes_out = target_after_.bytes_out - target_before_.bytes_out;
  }

  const double elapsed_s = static_cast<double>(end.ns - begin.ns) / 1e9;
  std::vector<double> busy = BusyPercent(begin.cpus, end.cpus);
  const double proxy_cpu_s =
      end.proxy.found && begin.proxy.found ? end.proxy.cpu_s - begin.proxy.cpu_s : 0.0;
  const double gb = static_cast<double>(window_bytes_) / 1e9;

  Json json;
  json.Open();
  json.String("label", options_.label);
  json.String("mode", ModeName(options_.mode));
  json.String("proxy_kind", ProxyKindName(options_.proxy_kind));
  json.String("routing", RoutingKindName(options_.routing));
  json.Number("elapsed_s", elapsed_s);
  json.Integer("tunnels_ok", tunnels_ok_);
  json.Integer("tunnels_failed", tunnels_failed_);
  json.Integer("attempts", attempts_);
  json.Integer("retries", retries_);
  uint64_t error_count = 0;
  for (const auto& [kind, count] : errors_) {
    error_count += count;
  }
  json.Integer("errors_total", error_count);
  json.Map("errors", errors_);
  json.Map("statuses", statuses_);
  json.Map("next_hops", next_hops_);
  json.Map("source_ips", source_ips_);
  for (auto [name, samples] :
       {std::pair<std::string_view, LatencySamples*>{"handshake_us", &handshake_ns_},
        {"total_us", &total_ns_}}) {
    json.Open(name);
    json.Number("p50", samples->Quantile(0.5) / 1e3);
    json.Number("p90", samples->Quantile(0.9) / 1e3);
    json.Number("p99", samples->Quantile(0.99) / 1e3);
    json.Number("p999", samples->Quantile(0.999) / 1e3);
    json.Integer("count", samples->count());
    json.Close();
  }
  json.Open("cpu_busy_pct");
  for (size_t cpu = 0; cpu < busy.size(); ++cpu) {
    json.Number(fmt::format("cpu{}", cpu), busy[cpu]);
  }
  json.Close();
  json.Number("self_cpu_s", end.self_cpu_s - begin.self_cpu_s);

  if (options_.mode == Mode::kConnect) {
    json.Integer("workers", static_cast<uint64_t>(options_.workers));
    json.Number("tunnels_per_s", elapsed_s > 0 ? tunnels_ok_ / elapsed_s : 0);
  }
  if (options_.mode == Mode::kThroughput) {
    json.Integer("tunnels", static_cast<uint64_t>(options_.tunnels));
    json.String("direction", DirectionName(options_.direction));
    json.Integer("window_bytes", window_bytes_);
    json.Number("gbit_s", elapsed_s > 0 ? window_bytes_ * 8 / elapsed_s / 1e9 : 0);
    json.Integer("bytes_sent", bytes_sent_);
    json.Integer("bytes_received", bytes_received_);
    json.Integer("sunk_reported", sunk_reported_);
  }
  if (options_.mode == Mode::kIdle) {
    json.Integer("idle_requested", static_cast<uint64_t>(options_.idle_tunnels));
    json.Integer("idle_held", idle_held_);
    json.Integer("idle_closed_while_held", idle_closed_while_held_);
    json.Integer("idle_alive_after_hold", idle_alive_after_hold_);
  }

  json.Open("proxy");
  json.Integer("pid", static_cast<uint64_t>(options_.proxy_pid));
  json.Bool("measured", begin.proxy.found && end.proxy.found);
  if (begin.proxy.found && end.proxy.found) {
    json.Number("cpu_s", proxy_cpu_s);
    json.Number("cpu_pct", elapsed_s > 0 ? 100 * proxy_cpu_s / elapsed_s : 0);
    json.Integer("processes", static_cast<uint64_t>(end.proxy.processes));
    json.Integer("threads", static_cast<uint64_t>(end.proxy.threads));
    json.Integer("rss_bytes", end.proxy.rss_bytes);
    json.Integer("fds", end.proxy.fds);
    if (options_.mode == Mode::kConnect) {
      json.Number("cpu_us_per_tunnel", tunnels_ok_ > 0 ? proxy_cpu_s * 1e6 / tunnels_ok_ : 0);
    }
    if (options_.mode == Mode::kThroughput) {
      json.Number("cpu_s_per_gb", gb > 0 ? proxy_cpu_s / gb : 0);
    }
  }
  if (idle_measured_ && idle_held_ > 0) {
    double held = static_cast<double>(idle_held_);
    json.Integer("idle_baseline_rss_bytes", idle_baseline_.rss_bytes);
    json.Integer("idle_baseline_fds", idle_baseline_.fds);
    json.Number("rss_bytes_per_tunnel", (static_cast<double>(idle_loaded_.rss_bytes) -
                                         static_cast<double>(idle_baseline_.rss_bytes)) /
                                            held);
    json.Number(
        "fds_per_tunnel",
        (static_cast<double>(idle_loaded_.fds) - static_cast<double>(idle_baseline_.fds)) / held);
    json.Integer("threads_held", static_cast<uint64_t>(idle_loaded_.threads));
  }
  json.Close();

  // Cross-checks against what the target counted.
  json.Open("target");
  json.Bool("reachable", target_ok);
  json.Integer("tunnels", delta.tunnels);
  json.Integer("pings", delta.pings);
  json.Integer("bytes_in", delta.bytes_in);
  json.Integer("bytes_out", delta.bytes_out);
  json.Close();
  bool bytes_match =
      target_ok && delta.bytes_in == bytes_sent_ && delta.bytes_out == bytes_received_;
  uint64_t expected_pings =
      options_.mode == Mode::kIdle ? idle_held_ + idle_alive_after_hold_ : tunnels_ok_;
  bool pings_match = target_ok && delta.pings == expected_pings;
  json.Open("checks");
  json.Bool("bytes_match", bytes_match);
  json.Bool("pings_match", pings_match);
  json.Bool("generator_saturated", busy.size() > 1 && busy[1] > 95.0);
  json.Close();
  json.Close();

  // Human summary.
  std::printf("%s %s via %s routing=%s: %.2f s, tunnels ok %lu failed %lu, retries %lu\n",
              options_.label.c_str(), std::string(ModeName(options_.mode)).c_str(),
              std::string(ProxyKindName(options_.proxy_kind)).c_str(),
              std::string(RoutingKindName(options_.routing)).c_str(), elapsed_s, tunnels_ok_,
              tunnels_failed_, retries_);
  if (options_.mode == Mode::kConnect) {
    std::printf("  %.0f tunnels/s; handshake p50/p99 %.0f/%.0f us; total p50/p99 %.0f/%.0f us\n",
                elapsed_s > 0 ? tunnels_ok_ / elapsed_s : 0, handshake_ns_.Quantile(0.5) / 1e3,
                handshake_ns_.Quantile(0.99) / 1e3, total_ns_.Quantile(0.5) / 1e3,
                total_ns_.Quantile(0.99) / 1e3);
  }
  if (options_.mode == Mode::kThroughput) {
    std::printf("  %.2f Gbit/s (%s, %d tunnels); proxy %.3f CPU-s/GB\n",
                elapsed_s > 0 ? window_bytes_ * 8 / elapsed_s / 1e9 : 0,
                std::string(DirectionName(options_.direction)).c_str(), options_.tunnels,
                gb > 0 ? proxy_cpu_s / gb : 0);
  }
  if (options_.mode == Mode::kIdle) {
    std::printf("  held %lu of %d, alive after hold %lu\n", idle_held_, options_.idle_tunnels,
                idle_alive_after_hold_);
  }
  for (size_t cpu = 0; cpu < busy.size(); ++cpu) {
    std::printf("  cpu%zu busy %.0f%%\n", cpu, busy[cpu]);
  }
  for (const auto& [kind, count] : errors_) {
    std::printf("  error %s: %lu\n", kind.c_str(), count);
  }
  std::printf("  checks: target %s, bytes %s, pings %s\n", target_ok ? "ok" : "unreachable",
              bytes_match ? "match" : "MISMATCH", pings_match ? "match" : "MISMATCH");
  std::fflush(stdout);

  if (!options_.json_path.empty()) {
    FILE* file = std::fopen(options_.json_path.c_str(), "w");
    if (file != nullptr) {
      std::fprintf(file, "%s\n", json.text().c_str());
      std::fclose(file);
    } else {
      std::perror("run: --json");
    }
  }
}

}  // namespace

int RunLoad(const RunOptions& options) {
  LoadClient client(options);
  return client.Run();
}

}  // namespace strait::load
