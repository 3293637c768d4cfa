#include "core/accounts.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/absl_compat.h"
#include "core/ascii.h"
#include "fmt/format.h"

namespace strait::core {
namespace {

bool IsAccountNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

}  // namespace

PasswordDigest DigestPassword(std::string_view password) {
  PasswordDigest digest;
  SHA256(reinterpret_cast<const uint8_t*>(password.data()), password.size(), digest.data());
  return digest;
}

bool ParsePasswordDigest(std::string_view hex, PasswordDigest* digest) {
  if (hex.size() != 64) {
    return false;
  }
  for (size_t i = 0; i < 32; ++i) {
    int high = HexDigitValue(hex[2 * i]);
    int low = HexDigitValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return false;
    }
    (*digest)[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

absl::Status Accounts::Add(AccountSpec account) {
  if (account.name.empty() || account.name.size() > 64) {
    return absl::InvalidArgumentError(
        fmt::format("account name '{}' must be 1 to 64 bytes", account.name));
  }
  for (char c : account.name) {
    if (!IsAccountNameByte(c)) {
      return absl::InvalidArgumentError(fmt::format(
          "account name '{}' may hold only letters, digits, '-' and '.' (the routing string "
          "uses '_' between keys)",
          account.name));
    }
  }
  auto [it, inserted] = accounts_.emplace(account.name, account.password_digest);
  if (!inserted) {
    return absl::InvalidArgumentError(fmt::format("account '{}' is defined twice", account.name));
  }
  return absl::OkStatus();
}

AuthResult Accounts::Verify(std::string_view account, std::string_view password) const {
  PasswordDigest given = DigestPassword(password);
  auto it = accounts_.find(AbslView(account));
  if (it == accounts_.end()) {
    return AuthResult::kUnknownAccount;
  }
  return CRYPTO_memcmp(given.data(), it->second.data(), given.size()) == 0
             ? AuthResult::kOk
             : AuthResult::kWrongPassword;
}

bool Accounts::Contains(std::string_view account) const {
  return accounts_.contains(AbslView(account));
}

}  // namespace strait::core
