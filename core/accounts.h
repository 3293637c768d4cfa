#pragma once

// Customer accounts and their credentials.
//
// Passwords are kept only as SHA-256 digests and compared in constant time. An unknown account
// costs the same digest as a known one, so response timing does not tell which accounts exist.
// Immutable once built: every shard reads its own reference, and a reload builds a new one.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace strait::core {

using PasswordDigest = std::array<uint8_t, 32>;

PasswordDigest DigestPassword(std::string_view password);

// Parses 64 hex digits (a digest written in the configuration as password_sha256).
bool ParsePasswordDigest(std::string_view hex, PasswordDigest* digest);

struct AccountSpec {
  std::string name;
  PasswordDigest password_digest{};
};

enum class AuthResult : uint8_t { kOk, kUnknownAccount, kWrongPassword };

class Accounts {
 public:
  // Fails on an empty or duplicate name, or a name the routing grammar cannot carry (`_`).
  absl::Status Add(AccountSpec account);

  AuthResult Verify(std::string_view account, std::string_view password) const;

  bool Contains(std::string_view account) const;
  size_t size() const { return accounts_.size(); }

 private:
  absl::flat_hash_map<std::string, PasswordDigest> accounts_;
};

}  // namespace strait::core
