#pragma once

// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) over a sequence
// of byte ranges, hashed as if concatenated, without copying them into one buffer.
//
// Used for the affinity table's session keys (SessionKey() in routing/parser.h). BoringSSL's
// SIPHASH_24 computes the same function, but only over one contiguous buffer; assembling that
// buffer, plus the way that function loads its last partial block, cost about half of a sticky
// parse in `bazel run --config=opt //bench/routing:parser_benchmark` (store-forwarding stalls on
// freshly copied bytes). The tests check this implementation against SIPHASH_24.
//
//   SipHasher24 hasher(key);
//   hasher.Update(prefix);
//   hasher.Update(account);
//   uint64_t hash = hasher.Finish();
//
// Not thread-safe per object; allocates nothing.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace strait::routing::internal {

class SipHasher24 {
 public:
  // `key` is the 128-bit key as two 64-bit words, as for BoringSSL's SIPHASH_24.
  explicit SipHasher24(const uint64_t key[2])
      : v0_(key[0] ^ 0x736f6d6570736575ull),
        v1_(key[1] ^ 0x646f72616e646f6dull),
        v2_(key[0] ^ 0x6c7967656e657261ull),
        v3_(key[1] ^ 0x7465646279746573ull) {}

  // Appends `bytes` to the message. Always inlined: called a few times in a row, the state
  // stays in registers instead of going through memory between calls.
  [[gnu::always_inline]] void Update(std::string_view bytes) {
    const char* p = bytes.data();
    size_t n = bytes.size();
    length_ += n;

    // Whole 8-byte words of the input, each shifted in behind the pending bytes. Words are
    // loaded straight from the caller's memory: copying the ranges into one buffer first makes
    // these loads wait on the copy's stores.
    int shift = 8 * pending_bytes_;
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t word = LoadLittleEndian64(p);
      Compress(pending_ | (word << shift));
      pending_ = shift == 0 ? 0 : word >> (64 - shift);
    }

    // The last 0 to 7 bytes.
    uint64_t word = LoadLittleEndianPartial(p, n);
    int total = pending_bytes_ + static_cast<int>(n);
    if (total >= 8) {
      Compress(pending_ | (word << shift));
      pending_ = word >> (64 - shift);  // total >= 8 with n <= 7 means shift > 0
      pending_bytes_ = total - 8;
    } else {
      pending_ |= word << shift;
      pending_bytes_ = total;
    }
  }

  // The hash of everything passed to Update(). Call once.
  uint64_t Finish() {
    uint64_t last = (static_cast<uint64_t>(length_ & 0xff) << 56) | pending_;
    Compress(last);
    v2_ ^= 0xff;
    Round();
    Round();
    Round();
    Round();
    return v0_ ^ v1_ ^ v2_ ^ v3_;
  }

 private:
  static uint64_t RotateLeft(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

  static uint64_t LoadLittleEndian64(const char* p) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    word = __builtin_bswap64(word);
#endif
    return word;
  }

  // The `n` < 8 bytes at `p` as a little-endian word, reading no byte outside them: two
  // overlapping 4-byte loads for 4 to 7 bytes, three byte loads for 1 to 3.
  static uint64_t LoadLittleEndianPartial(const char* p, size_t n) {
    if (n >= 4) {
      uint64_t low = LoadLittleEndian32(p);
      uint64_t high = LoadLittleEndian32(p + n - 4);
      return low | (high << (8 * (n - 4)));
    }
    if (n == 0) {
      return 0;
    }
    auto byte = [p](size_t i) { return static_cast<uint64_t>(static_cast<uint8_t>(p[i])); };
    return byte(0) | (byte(n / 2) << (8 * (n / 2))) | (byte(n - 1) << (8 * (n - 1)));
  }

  static uint32_t LoadLittleEndian32(const char* p) {
    uint32_t word;
    std::memcpy(&word, p, sizeof(word));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    word = __builtin_bswap32(word);
#endif
    return word;
  }

  void Round() {
    v0_ += v1_;
    v1_ = RotateLeft(v1_, 13);
    v1_ ^= v0_;
    v0_ = RotateLeft(v0_, 32);
    v2_ += v3_;
    v3_ = RotateLeft(v3_, 16);
    v3_ ^= v2_;
    v0_ += v3_;
    v3_ = RotateLeft(v3_, 21);
    v3_ ^= v0_;
    v2_ += v1_;
    v1_ = RotateLeft(v1_, 17);
    v1_ ^= v2_;
    v2_ = RotateLeft(v2_, 32);
  }

  void Compress(uint64_t block) {
    v3_ ^= block;
    Round();
    Round();
    v0_ ^= block;
  }

  uint64_t v0_, v1_, v2_, v3_;
  uint64_t pending_ = 0;   // the bytes of the current partial block, little-endian
  int pending_bytes_ = 0;  // 0..7
  uint64_t length_ = 0;    // bytes so far; only its low byte enters the hash
};

}  // namespace strait::routing::internal
