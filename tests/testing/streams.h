#pragma once

// Byte streams with checksums, for tests that push large transfers through real sockets.

#include <cstdint>

namespace strait::testing {

// Writes `total` pseudo-random bytes from `seed` to a blocking socket, then shuts down writing.
// Returns the FNV-1a hash of what was sent, or 0 if the peer went away early.
uint64_t SendPattern(int fd, uint64_t total, uint32_t seed);

// Reads until EOF; returns the FNV-1a hash of the bytes and stores their count.
uint64_t ReceiveAll(int fd, uint64_t* received);

}  // namespace strait::testing
