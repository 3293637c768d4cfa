#pragma once

// The target server of the bench: one epoll thread speaking the command protocol of
// load_protocol.h (PING, WHO, ECHO, SINK, SOURCE, DUPLEX, STATS). Bulk bytes cost it little:
// SOURCE sends from a memfd with sendfile(2) and SINK drops with recv(MSG_TRUNC), so the same
// core can also run the load generator.

#include <cstdint>
#include <string>

namespace strait::load {

struct TargetOptions {
  std::string listen = "127.0.0.1:19000";  // IPv4 address:port; port 0 picks a free one
  int ports = 1;                           // listens on `ports` consecutive ports
  std::string port_file;                   // when set, the (first) bound port is written there
  int max_run_s = 3600;                    // stops by itself after this long
};

// Serves until SIGINT or SIGTERM (or max_run_s), then closes every connection and prints its
// totals. Returns a process exit code.
int RunTarget(const TargetOptions& options);

}  // namespace strait::load
