#pragma once

// Socket addresses and the few socket calls Strait makes outside the ring. Every call returns 0
// (or an fd) on success and -errno on failure; nothing here throws or logs.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strait::net {

// An IPv4 or IPv6 address with a port.
class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* address, socklen_t length);

  // "127.0.0.1:8000", "[::1]:8000". The port is required unless `default_port` is given.
  static std::optional<SocketAddress> Parse(std::string_view text,
                                            std::optional<uint16_t> default_port = std::nullopt);

  // A literal IPv4 or IPv6 address without brackets or port ("10.0.0.1", "::1").
  static std::optional<SocketAddress> FromIpLiteral(std::string_view ip, uint16_t port);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get_mutable() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  bool empty() const { return length_ == 0; }

  uint16_t port() const;
  void set_port(uint16_t port);

  // "127.0.0.1:8000" or "[::1]:8000"; the address alone with IpString().
  std::string ToString() const;
  std::string IpString() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

// A listening TCP socket, non-blocking, close-on-exec, SO_REUSEADDR and (optionally)
// SO_REUSEPORT so that every shard can bind its own. Returns the fd or -errno.
int ListenTcp(const SocketAddress& address, int backlog, bool reuse_port);

// Whether `address` is free: binds a socket WITHOUT SO_REUSEPORT and closes it. Returns 0 or
// -errno (-EADDRINUSE when any socket holds the address, even one with SO_REUSEPORT). Run it
// before ListenTcp(reuse_port=true): that would otherwise silently share the port with another
// process of the same user, splitting its traffic between them.
int CheckAddressFree(const SocketAddress& address);

// The locally bound address of a socket (the real port after binding port 0).
std::optional<SocketAddress> LocalAddress(int fd);
std::optional<SocketAddress> PeerAddress(int fd);

int SetNonBlocking(int fd, bool non_blocking);
int SetNoDelay(int fd);

// Makes the next close() send a reset instead of a FIN: used when the other side of a tunnel
// reset, so the abort reaches the peer as an abort.
int SetLingerZero(int fd);

// Closes `fd` if it is open and sets it to -1.
void CloseFd(int& fd);

}  // namespace strait::net
