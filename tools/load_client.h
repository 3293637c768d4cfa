#pragma once

// The load generator of the bench: opens tunnels through a proxy (or directly to the target)
// and measures them. One epoll thread drives every connection, non-blocking, so the generator
// costs a few system calls per tunnel; bulk bytes go out with sendfile(2) from a memfd and come
// in with recv(MSG_TRUNC), never copied through user space.
//
// Modes:
//   connect     `workers` connections each repeat connect -> proxy handshake -> PING/PONG ->
//               close, for `duration_s` or `count` tunnels. Reports tunnels/s, handshake and
//               total latency percentiles, errors by kind, reply statuses, exits used.
//   throughput  `tunnels` tunnels stream one way (up, down) or both for `duration_s`. Reports
//               Gbit/s and the proxy's CPU seconds per GB.
//   idle        opens `idle_tunnels` tunnels and holds them for `hold_s`. Reports the proxy's
//               resident memory and file descriptors per tunnel, and how many still answer.
// With `proxy_pid`, the proxy's CPU, memory and descriptors come from /proc (the process and its
// descendants). Every mode reports how busy each CPU was, so a saturated generator shows.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "tools/load_protocol.h"

namespace strait::load {

enum class Mode : uint8_t { kConnect, kThroughput, kIdle };
enum class ProxyKind : uint8_t {
  kDirect,  // no proxy: connect to the target
  kRelay,   // plain TCP relay to a fixed target (HAProxy, nginx stream): no handshake
  kHttp,    // HTTP CONNECT
  kSocks5,  // SOCKS5 (RFC 1928), username/password (RFC 1929) unless routing is none
};
enum class Direction : uint8_t { kUp, kDown, kBoth };

struct RunOptions {
  Mode mode = Mode::kConnect;
  ProxyKind proxy_kind = ProxyKind::kDirect;
  std::string proxy;                       // proxy address:port (not for direct)
  std::string target = "127.0.0.1:19000";  // tunnel destination; direct connects here
  std::string stats_address;               // where STATS is asked; empty: `target`
  int target_ports = 1;     // tunnels rotate over this many ports from --target's port
  int source_ips = 0;       // >0: bind clients to 127.0.1.1 .. 127.0.1.N in turn
  RoutingKind routing = RoutingKind::kPlain;
  std::string account = "bench";
  std::string password = "bench";
  uint32_t sessions = 64;   // sticky-many: distinct session ids
  int workers = 64;         // connect: concurrent workers; idle: handshakes in flight
  uint64_t count = 0;       // connect: stop after this many tunnels; 0: duration only
  double duration_s = 3;    // connect and throughput
  int timeout_ms = 5000;    // per attempt and per drain
  int retries = 0;          // further attempts for a tunnel whose attempt failed
  int tunnels = 8;          // throughput
  Direction direction = Direction::kUp;
  int idle_tunnels = 1000;
  double hold_s = 2;
  pid_t proxy_pid = 0;      // 0: no proxy measurements
  std::string json_path;    // when set, the report is also written there as JSON
  std::string label;        // copied into the report
};

// Runs one bounded measurement and prints the report. Returns a process exit code: 0 when the
// run completed (errors are part of the report), 1 when it could not run, 2 on bad options.
int RunLoad(const RunOptions& options);

}  // namespace strait::load
