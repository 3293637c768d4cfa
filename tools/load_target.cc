#include "tools/load_target.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "tools/load_net.h"
#include "tools/load_protocol.h"
#include "tools/load_stats.h"

namespace strait::load {
namespace {

// What a connection does with the bytes after its command line.
enum class Phase : uint8_t {
  kCommand,  // reading a command line
  kEcho,
  kSink,
  kSource,
  kDuplex,
  kClosing,  // flushing the last reply, then close
};

constexpr size_t kEchoBufferBytes = 64 * 1024;
constexpr size_t kSinkChunkBytes = 1 << 20;

struct Connection {
  int fd = -1;
  uint32_t generation = 0;
  size_t slot = 0;
  Phase phase = Phase::kCommand;
  bool counted = false;  // counted as a tunnel (its first command was not STATS)
  bool peer_eof = false;
  uint64_t remaining = 0;  // SINK n / SOURCE n bytes left; kUnbounded otherwise
  uint64_t sunk = 0;       // bytes dropped by the current SINK
  uint64_t source_offset = 0;
  std::string line;  // unparsed input in command phase
  std::string out;   // reply text (or echo bytes) not yet sent
  size_t out_sent = 0;
  std::string peer;  // "ip:port" as accepted
};

class Target {
 public:
  explicit Target(const TargetOptions& options) : options_(options) {}
  ~Target();

  int Run();

 private:
  int Setup();
  void AcceptAll(int listen_fd);
  void Drive(size_t slot);
  // Each step returns false when the connection was closed.
  bool FlushOut(Connection& c);
  bool ReadCommands(Connection& c);
  bool StartCommand(Connection& c, const Command& command);
  bool SinkBytes(Connection& c);
  bool SourceBytes(Connection& c);
  bool EchoBytes(Connection& c);
  bool DropInput(Connection& c);
  void Close(Connection& c);

  TargetOptions options_;
  int epoll_fd_ = -1;
  std::vector<int> listen_fds_;
  int signal_fd_ = -1;
  int pattern_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> slots_;
  std::vector<size_t> free_slots_;
  TargetStats stats_;
  uint64_t accept_errors_ = 0;
  std::unique_ptr<char[]> echo_buffer_ = std::make_unique<char[]>(kEchoBufferBytes);
};

// Connection keys are slot << 32 | generation; these stay clear of them.
constexpr uint64_t kSignalKey = ~0ull;
constexpr uint64_t kListenKeyBase = ~0ull - 128;

uint64_t Key(size_t slot, uint32_t generation) {
  return (static_cast<uint64_t>(slot) << 32) | generation;
}

Target::~Target() {
  for (auto& c : slots_) {
    if (c->fd >= 0) {
      close(c->fd);
    }
  }
  for (int fd : listen_fds_) {
    close(fd);
  }
  for (int fd : {epoll_fd_, signal_fd_, pattern_fd_}) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

int Target::Setup() {
  sockaddr_in address;
  if (!ParseEndpoint(options_.listen, &address) || !IsLoopback(address)) {
    std::fprintf(stderr, "target: --listen must be a 127.0.0.0/8 address:port, got '%s'\n",
                 options_.listen.c_str());
    return 2;
  }
  int first_port = ntohs(address.sin_port);
  if (options_.ports < 1 || (first_port == 0 && options_.ports != 1) ||
      first_port + options_.ports > 65536) {
    std::fprintf(stderr, "target: --ports %d does not fit after port %d\n", options_.ports,
                 first_port);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = MakeStopSignalFd();
  pattern_fd_ = MakePatternMemfd();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (signal_fd_ < 0 || pattern_fd_ < 0 || epoll_fd_ < 0) {
    std::perror("target: setup");
    return 1;
  }
  for (int i = 0; i < options_.ports; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      std::perror("target: socket");
      return 1;
    }
    listen_fds_.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in port_address = address;
    port_address.sin_port = htons(static_cast<uint16_t>(first_port + i));
    if (bind(fd, reinterpret_cast<sockaddr*>(&port_address), sizeof(port_address)) != 0 ||
        listen(fd, 4096) != 0) {
      std::fprintf(stderr, "target: cannot listen on %s: %s\n",
                   FormatEndpoint(port_address).c_str(), std::strerror(errno));
      return 1;
    }
    epoll_event event = {};
    event.events = EPOLLIN;  // level-triggered: an accept that hit EMFILE is retried
    event.data.u64 = kListenKeyBase + static_cast<uint64_t>(i);
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  }
  socklen_t length = sizeof(address);
  getsockname(listen_fds_[0], reinterpret_cast<sockaddr*>(&address), &length);
  if (!options_.port_file.empty()) {
    // Written to a temporary name and renamed, so a reader never sees a partial port.
    std::string temporary = options_.port_file + ".tmp";
    FILE* file = std::fopen(temporary.c_str(), "w");
    if (file == nullptr) {
      std::perror("target: port file");
      return 1;
    }
    std::fprintf(file, "%d\n", ntohs(address.sin_port));
    std::fclose(file);
    std::rename(temporary.c_str(), options_.port_file.c_str());
  }
  std::fprintf(stderr, "target: listening on %s (%d ports)\n", FormatEndpoint(address).c_str(),
               options_.ports);

  epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = kSignalKey;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &event);
  return 0;
}

int Target::Run() {
  if (int code = Setup(); code != 0) {
    return code;
  }
  const uint64_t deadline_ns = NowNs() + static_cast<uint64_t>(options_.max_run_s) * 1'000'000'000;
  epoll_event events[256];
  bool stopping = false;
  while (!stopping && NowNs() < deadline_ns) {
    int count = epoll_wait(epoll_fd_, events, 256, 500);
    if (count < 0 && errno != EINTR) {
      std::perror("target: epoll_wait");
      return 1;
    }
    for (int i = 0; i < count; ++i) {
      uint64_t key = events[i].data.u64;
      if (key == kSignalKey) {
        stopping = true;
      } else if (key >= kListenKeyBase) {
        AcceptAll(listen_fds_[key - kListenKeyBase]);
      } else {
        size_t slot = static_cast<size_t>(key >> 32);
        if (slot < slots_.size() && slots_[slot]->fd >= 0 &&
            slots_[slot]->generation == static_cast<uint32_t>(key)) {
          Drive(slot);
        }
      }
    }
  }
  std::printf("target: stopped; %s", FormatStats(stats_).c_str());
  if (accept_errors_ > 0) {
    std::printf("target: %llu accept errors\n", static_cast<unsigned long long>(accept_errors_));
  }
  return 0;
}

void Target::AcceptAll(int listen_fd) {
  // Bounded per wake-up so one burst cannot starve the established connections.
  for (int i = 0; i < 256; ++i) {
    sockaddr_in peer;
    socklen_t length = sizeof(peer);
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        ++accept_errors_;
      }
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    size_t slot;
    if (free_slots_.empty()) {
      slot = slots_.size();
      slots_.push_back(std::make_unique<Connection>());
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    Connection& c = *slots_[slot];
    uint32_t generation = c.generation + 1;
    c = Connection();
    c.fd = fd;
    c.generation = generation;
    c.slot = slot;
    c.peer = FormatEndpoint(peer);
    epoll_event event = {};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = Key(slot, generation);
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
  }
}

void Target::Close(Connection& c) {
  close(c.fd);
  c.fd = -1;
  c.line.clear();
  c.line.shrink_to_fit();
  c.out.clear();
  c.out.shrink_to_fit();
  free_slots_.push_back(c.slot);
}

bool Target::FlushOut(Connection& c) {
  while (c.out_sent < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      Close(c);
      return false;
    }
    c.out_sent += static_cast<size_t>(n);
  }
  c.out.clear();
  c.out_sent = 0;
  return true;
}

void Target::Drive(size_t slot) {
  Connection& c = *slots_[slot];
  // Every pass makes progress or returns on EAGAIN. The pass limit keeps one client that
  // pipelines many commands from starving the others.
  constexpr int kMaxPasses = 256;
  for (int pass = 0; c.fd >= 0; ++pass) {
    if (pass == kMaxPasses) {
      // Edge-triggered events do not repeat on their own: re-arming reports the readiness that
      // is still pending, so the rest is served on a later turn.
      epoll_event event = {};
      event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      event.data.u64 = Key(slot, c.generation);
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
      return;
    }
    if (!FlushOut(c)) {
      return;
    }
    if (!c.out.empty()) {
      return;  // wait for EPOLLOUT
    }
    Phase before = c.phase;
    bool open = true;
    switch (c.phase) {
      case Phase::kCommand:
        open = ReadCommands(c);
        break;
      case Phase::kSink:
        open = SinkBytes(c);
        break;
      case Phase::kSource:
        open = SourceBytes(c);
        break;
      case Phase::kDuplex:
        open = SinkBytes(c) && SourceBytes(c);
        break;
      case Phase::kEcho:
        open = EchoBytes(c);
        break;
      case Phase::kClosing:
        Close(c);
        return;
    }
    if (!open) {
      return;
    }
    // Go round again only when a phase change or a new reply may allow more progress.
    if (c.phase == before && c.out.empty()) {
      return;
    }
  }
}

bool Target::ReadCommands(Connection& c) {
  for (;;) {
    size_t newline = c.line.find('\n');
    if (newline != std::string::npos) {
      Command command = ParseCommand(std::string_view(c.line).substr(0, newline));
      c.line.erase(0, newline + 1);
      if (!StartCommand(c, command)) {
        return false;
      }
      if (c.phase != Phase::kCommand || !c.out.empty()) {
        return true;
      }
      continue;
    }
    if (c.line.size() >= kMaxCommandBytes) {
      c.out = "ERR command line too long\n";
      c.phase = Phase::kClosing;
      return true;
    }
    char buffer[kMaxCommandBytes];
    ssize_t n = recv(c.fd, buffer, kMaxCommandBytes - c.line.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      Close(c);
      return false;
    }
    if (n < 0) {
      return true;
    }
    c.line.append(buffer, static_cast<size_t>(n));
  }
}

bool Target::StartCommand(Connection& c, const Command& command) {
  if (!c.counted && command.kind != CommandKind::kStats) {
    c.counted = true;
    ++stats_.tunnels;
  }
  c.remaining = command.count;
  c.sunk = 0;
  switch (command.kind) {
    case CommandKind::kInvalid:
      c.out = fmt::format("ERR {}\n", command.token);
      c.phase = Phase::kClosing;
      return true;
    case CommandKind::kPing:
      c.out = fmt::format("PONG {} {}\n", command.token, c.peer);
      ++stats_.pings;
      return true;
    case CommandKind::kQuit:
      c.out = fmt::format("PONG {} {}\n", command.token, c.peer);
      ++stats_.pings;
      c.phase = Phase::kClosing;
      return true;
    case CommandKind::kWho:
      c.out = c.peer + "\n";
      return true;
    case CommandKind::kStats:
      c.out = FormatStats(stats_);
      return true;
    case CommandKind::kEcho:
      c.phase = Phase::kEcho;
      break;
    case CommandKind::kSink:
      c.phase = Phase::kSink;
      break;
    case CommandKind::kSource:
      c.phase = Phase::kSource;
      break;
    case CommandKind::kDuplex:
      c.phase = Phase::kDuplex;
      c.remaining = kUnbounded;
      break;
  }
  // Bytes that arrived with the command line belong to the new phase.
  if (!c.line.empty() && (c.phase == Phase::kSink || c.phase == Phase::kDuplex)) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(c.line.size(), c.remaining));
    c.sunk += take;
    stats_.bytes_in += take;
    if (c.remaining != kUnbounded) {
      c.remaining -= take;
    }
    c.line.erase(0, take);
  } else if (!c.line.empty() && c.phase == Phase::kEcho) {
    stats_.bytes_in += c.line.size();
    stats_.bytes_out += c.line.size();
    c.out = std::move(c.line);
    c.line.clear();
  }
  if (c.phase == Phase::kSink && c.remaining == 0) {
    c.out = fmt::format("SUNK {}\n", c.sunk);
    c.phase = Phase::kCommand;
  }
  return true;
}

bool Target::SinkBytes(Connection& c) {
  for (;;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kSinkChunkBytes, c.remaining));
    if (want == 0) {
      // A bounded SINK is complete: acknowledge and take the next command.
      c.out = fmt::format("SUNK {}\n", c.sunk);
      c.phase = Phase::kCommand;
      return true;
    }
    // MSG_TRUNC on TCP drops the bytes in the kernel without copying them out.
    ssize_t n = recv(c.fd, nullptr, want, MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      Close(c);
      return false;
    }
    if (n == 0) {
      c.peer_eof = true;
      if (c.phase == Phase::kDuplex) {
        // The client stops a duplex stream with its EOF: the target stops sending and closes.
        // Data already queued is still delivered before the FIN.
        Close(c);
        return false;
      }
      c.out = fmt::format("SUNK {}\n", c.sunk);
      c.phase = Phase::kClosing;
      return true;
    }
    c.sunk += static_cast<uint64_t>(n);
    stats_.bytes_in += static_cast<uint64_t>(n);
    if (c.remaining != kUnbounded) {
      c.remaining -= static_cast<uint64_t>(n);
    }
  }
}

bool Target::DropInput(Connection& c) {
  // While sourcing, the client's only message is its EOF (the stop signal).
  for (;;) {
    ssize_t n = recv(c.fd, nullptr, kSinkChunkBytes, MSG_TRUNC);
    if (n > 0) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return true;
    }
    Close(c);  // EOF or error: data already queued is still delivered before the FIN
    return false;
  }
}

bool Target::SourceBytes(Connection& c) {
  if (c.phase == Phase::kSource && c.remaining == kUnbounded && !DropInput(c)) {
    return false;
  }
  while (c.remaining > 0) {
    off_t offset = static_cast<off_t>(c.source_offset % kPatternBytes);
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(kPatternBytes - static_cast<uint64_t>(offset), c.remaining));
    ssize_t n = sendfile(c.fd, pattern_fd_, &offset, want);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      Close(c);
      return false;
    }
    c.source_offset += static_cast<uint64_t>(n);
    stats_.bytes_out += static_cast<uint64_t>(n);
    if (c.remaining != kUnbounded) {
      c.remaining -= static_cast<uint64_t>(n);
    }
  }
  if (c.phase == Phase::kSource) {
    c.phase = Phase::kCommand;  // a bounded SOURCE is complete
  }
  return true;
}

bool Target::EchoBytes(Connection& c) {
  for (;;) {
    ssize_t n = recv(c.fd, echo_buffer_.get(), kEchoBufferBytes, 0);
    if (n == 0) {
      c.phase = Phase::kClosing;
      return true;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return true;
      }
      Close(c);
      return false;
    }
    stats_.bytes_in += static_cast<uint64_t>(n);
    stats_.bytes_out += static_cast<uint64_t>(n);
    c.out.assign(echo_buffer_.get(), static_cast<size_t>(n));
    if (!FlushOut(c)) {
      return false;
    }
    if (!c.out.empty()) {
      return true;  // peer is slow: stop reading until the echo is out
    }
  }
}

}  // namespace

int RunTarget(const TargetOptions& options) {
  Target target(options);
  return target.Run();
}

}  // namespace strait::load
