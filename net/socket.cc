#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "fmt/format.h"

namespace strait::net {

SocketAddress::SocketAddress(const sockaddr* address, socklen_t length) {
  if (length > sizeof(storage_)) {
    return;
  }
  std::memcpy(&storage_, address, length);
  length_ = length;
}

std::optional<SocketAddress> SocketAddress::FromIpLiteral(std::string_view ip, uint16_t port) {
  char text[INET6_ADDRSTRLEN];
  if (ip.empty() || ip.size() >= sizeof(text)) {
    return std::nullopt;
  }
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';

  SocketAddress result;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&result.storage_);
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    result.length_ = sizeof(sockaddr_in);
    return result;
  }

  result.storage_ = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&result.storage_);
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    result.length_ = sizeof(sockaddr_in6);
    return result;
  }
  return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::Parse(std::string_view text,
                                                  std::optional<uint16_t> default_port) {
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return std::nullopt;
      }
      port_text = rest.substr(1);
    }
  } else if (size_t colon = text.rfind(':');
             colon != std::string_view::npos && text.find(':') == colon) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }

  uint16_t port = 0;
  if (port_text.empty()) {
    if (!default_port.has_value()) {
      return std::nullopt;
    }
    port = *default_port;
  } else {
    auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size()) {
      return std::nullopt;
    }
  }
  return FromIpLiteral(host, port);
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SocketAddress::set_port(uint16_t port) {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

std::string SocketAddress::IpString() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof(text));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

std::string SocketAddress::ToString() const {
  if (family() == AF_INET6) {
    return fmt::format("[{}]:{}", IpString(), port());
  }
  return fmt::format("{}:{}", IpString(), port());
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.length_ == b.length_ && std::memcmp(&a.storage_, &b.storage_, a.length_) == 0;
}

int ListenTcp(const SocketAddress& address, int backlog, bool reuse_port) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }

  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
      bind(fd, address.get(), address.length()) != 0 || listen(fd, backlog) != 0) {
    int error = -errno;
    close(fd);
    return error;
  }
  return fd;
}

int CheckAddressFree(const SocketAddress& address) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int res = bind(fd, address.get(), address.length()) == 0 ? 0 : -errno;
  close(fd);
  return res;
}

std::optional<SocketAddress> LocalAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return std::nullopt;
  }
  return SocketAddress(reinterpret_cast<sockaddr*>(&storage), length);
}

std::optional<SocketAddress> PeerAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return std::nullopt;
  }
  return SocketAddress(reinterpret_cast<sockaddr*>(&storage), length);
}

int SetNonBlocking(int fd, bool non_blocking) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return -errno;
  }
  int wanted = non_blocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) != 0) {
    return -errno;
  }
  return 0;
}

int SetNoDelay(int fd) {
  int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 ? 0 : -errno;
}

int SetLingerZero(int fd) {
  linger option{.l_onoff = 1, .l_linger = 0};
  return setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option)) == 0 ? 0 : -errno;
}

void CloseFd(int& fd) {
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

}  // namespace strait::net
