#include "routing/internal/siphash.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "openssl/siphash.h"

namespace strait::routing::internal {
namespace {

uint64_t HashParts(const uint64_t key[2], const std::vector<std::string>& parts) {
  SipHasher24 hasher(key);
  for (const std::string& part : parts) {
    hasher.Update(part);
  }
  return hasher.Finish();
}

uint64_t BoringSslHash(const uint64_t key[2], const std::string& message) {
  return SIPHASH_24(key, reinterpret_cast<const uint8_t*>(message.data()), message.size());
}

TEST(SipHasher24, MatchesBoringSslOnEveryLengthUpTo300) {
  const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
  std::string message;
  for (int length = 0; length <= 300; ++length) {
    EXPECT_EQ(HashParts(key, {message}), BoringSslHash(key, message)) << length;
    message += static_cast<char>(length * 7 + 1);
  }
}

TEST(SipHasher24, HashesSplitInputAsItsConcatenation) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t key[2] = {rng(), rng()};
    std::vector<std::string> parts(1 + rng() % 5);
    std::string whole;
    for (std::string& part : parts) {
      part.resize(rng() % 40);
      for (char& c : part) {
        c = static_cast<char>(rng());
      }
      whole += part;
    }
    ASSERT_EQ(HashParts(key, parts), BoringSslHash(key, whole)) << i;
  }
}

TEST(SipHasher24, DependsOnTheKey) {
  const uint64_t a[2] = {1, 2};
  const uint64_t b[2] = {1, 3};
  EXPECT_NE(HashParts(a, {"session"}), HashParts(b, {"session"}));
}

}  // namespace
}  // namespace strait::routing::internal
