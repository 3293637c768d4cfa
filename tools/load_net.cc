#include "tools/load_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "fmt/format.h"

namespace strait::load {

bool ParseEndpoint(std::string_view text, sockaddr_in* address) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 15) {
    return false;
  }
  char host[16] = {};
  std::memcpy(host, text.data(), colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return false;
  }
  std::memset(address, 0, sizeof(*address));
  address->sin_family = AF_INET;
  address->sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, host, &address->sin_addr) == 1;
}

std::string FormatEndpoint(const sockaddr_in& address) {
  char host[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, host, sizeof(host));
  return fmt::format("{}:{}", host, ntohs(address.sin_port));
}

bool IsLoopback(const sockaddr_in& address) {
  return (ntohl(address.sin_addr.s_addr) >> 24) == 127;
}

int MakePatternMemfd() {
  int fd = memfd_create("strait_load_pattern", MFD_CLOEXEC);
  if (fd < 0) {
    return -errno;
  }
  char block[4096];
  for (size_t i = 0; i < sizeof(block); ++i) {
    block[i] = static_cast<char>('a' + i % 26);
  }
  for (size_t written = 0; written < kPatternBytes;) {
    ssize_t n = write(fd, block, sizeof(block));
    if (n <= 0) {
      int error = n < 0 ? errno : EIO;
      close(fd);
      return -error;
    }
    written += static_cast<size_t>(n);
  }
  return fd;
}

int MakeStopSignalFd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    return -errno;
  }
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

}  // namespace strait::load
