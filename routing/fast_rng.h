#pragma once

// A small, fast pseudo-random generator for exit selection: one per shard, never shared between
// threads (it is a plain value with no synchronization). Not for anything secret.
//
//   FastRng rng(shard_index + 1);
//   uint32_t i = rng.Below(candidates.size());
//
// The generator is SplitMix64: a 64-bit counter advanced by an odd constant, then mixed. It passes
// the usual statistical batteries, costs a few multiplications per number, and any seed (zero
// included) gives a full-period sequence.

#include <cstdint>

namespace strait::routing {

class FastRng {
 public:
  explicit FastRng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // A number in [0, bound) for bound >= 1, by multiply-and-shift on the top 32 bits. The bias is
  // below bound / 2^32, far under anything selection can notice.
  uint32_t Below(uint32_t bound) {
    return static_cast<uint32_t>(((Next() >> 32) * static_cast<uint64_t>(bound)) >> 32);
  }

 private:
  uint64_t state_;
};

}  // namespace strait::routing
