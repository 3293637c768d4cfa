#pragma once

// Small socket helpers shared by the load generator and the target.

#include <netinet/in.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace strait::load {

// Parses "a.b.c.d:port" (IPv4 only: the bench runs on 127.0.0.0/8). False when malformed.
bool ParseEndpoint(std::string_view text, sockaddr_in* address);

// "a.b.c.d:port".
std::string FormatEndpoint(const sockaddr_in& address);

// True when the address is in 127.0.0.0/8. The bench never aims traffic anywhere else.
bool IsLoopback(const sockaddr_in& address);

// Bytes in the memfd that bulk senders stream from (cycled).
inline constexpr size_t kPatternBytes = 1 << 20;

// A memfd of kPatternBytes filled with a repeating pattern, for sendfile(2); -errno on failure.
int MakePatternMemfd();

// Blocks SIGINT and SIGTERM in the calling thread and returns a non-blocking signalfd that
// reports them; -errno on failure. Call before starting other threads.
int MakeStopSignalFd();

}  // namespace strait::load
