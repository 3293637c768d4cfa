#include "tests/testing/streams.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace strait::testing {
namespace {

constexpr uint64_t kFnvSeed = 0xcbf29ce484222325ULL;

uint64_t Fnv1a(uint64_t hash, const char* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    hash = (hash ^ static_cast<uint8_t>(data[i])) * 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

uint64_t SendPattern(int fd, uint64_t total, uint32_t seed) {
  std::vector<char> chunk(256 * 1024);
  std::mt19937 random(seed);
  uint64_t hash = kFnvSeed;
  uint64_t sent = 0;
  while (sent < total) {
    size_t size = std::min<uint64_t>(chunk.size(), total - sent);
    for (size_t i = 0; i < size; i += 4) {
      uint32_t word = random();
      std::memcpy(chunk.data() + i, &word, std::min<size_t>(4, size - i));
    }
    hash = Fnv1a(hash, chunk.data(), size);
    size_t offset = 0;
    while (offset < size) {
      ssize_t n = send(fd, chunk.data() + offset, size - offset, MSG_NOSIGNAL);
      if (n <= 0) {
        return 0;
      }
      offset += static_cast<size_t>(n);
    }
    sent += size;
  }
  shutdown(fd, SHUT_WR);
  return hash;
}

uint64_t ReceiveAll(int fd, uint64_t* received) {
  std::vector<char> buffer(256 * 1024);
  uint64_t hash = kFnvSeed;
  *received = 0;
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) {
      break;
    }
    hash = Fnv1a(hash, buffer.data(), static_cast<size_t>(n));
    *received += static_cast<uint64_t>(n);
  }
  return hash;
}

}  // namespace strait::testing
