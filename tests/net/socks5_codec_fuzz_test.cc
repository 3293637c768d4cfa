// Fuzz target for net/socks5_codec: the greeting, authentication and request parsers run over one
// client stream as a front end runs them, plus the reply writer.
//
// Input: bit 0 of byte 0 is allow_no_auth; the rest is the client's stream. Checks: `consumed`
// stays within the input, each complete message is incomplete when one byte shorter (errors are
// reported in wire order, so a prefix can never fail where the whole succeeds), errors carry an
// answer that fits their phase, and parsed views stay inside the input.

#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/check.h"
#include "net/socks5_codec.h"

namespace strait::net {
namespace {

bool Inside(std::string_view view, std::string_view buffer) {
  return view.empty() || (view.data() >= buffer.data() &&
                          view.data() + view.size() <= buffer.data() + buffer.size());
}

void CheckResult(const Socks5ParseResult& result, std::string_view bytes) {
  if (result.status == Socks5ParseStatus::kComplete) {
    STRAIT_CHECK(result.consumed > 0 && result.consumed <= bytes.size());
  } else if (result.status == Socks5ParseStatus::kError) {
    STRAIT_CHECK(result.error != Socks5ParseError::kNone);
    STRAIT_CHECK(!Socks5ParseErrorText(result.error).empty());
  }
}

void CheckReplyWriter(std::string_view bytes) {
  char out[kMaxSocks5ReplyBytes];
  sockaddr_storage bound = {};
  std::memcpy(&bound, bytes.data(), bytes.size() < sizeof(bound) ? bytes.size() : sizeof(bound));
  bound.ss_family = bytes.empty() ? AF_UNSPEC : (bytes[0] & 1 ? AF_INET6 : AF_INET);
  size_t length = WriteSocks5Reply(bytes.empty() ? 0 : static_cast<uint8_t>(bytes.back()),
                                   reinterpret_cast<const sockaddr*>(&bound), out, sizeof(out));
  STRAIT_CHECK(length == 10 || length == 22);
}

}  // namespace
}  // namespace strait::net

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strait::net;
  if (size == 0) {
    return 0;
  }
  bool allow_no_auth = (data[0] & 1) != 0;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view bytes = stream;

  Socks5Greeting greeting;
  Socks5ParseResult result = ParseSocks5Greeting(bytes, allow_no_auth, &greeting);
  CheckResult(result, bytes);
  if (result.status != Socks5ParseStatus::kComplete) {
    return 0;
  }
  STRAIT_CHECK(
      ParseSocks5Greeting(bytes.substr(0, result.consumed - 1), allow_no_auth, &greeting).status ==
      Socks5ParseStatus::kIncomplete);
  if (greeting.method == kSocks5MethodNoAuth) {
    STRAIT_CHECK(allow_no_auth && greeting.offered_no_auth && !greeting.offered_user_pass);
  }
  if (greeting.method == kSocks5MethodNoAcceptable) {
    return 0;
  }
  bytes.remove_prefix(result.consumed);

  if (greeting.method == kSocks5MethodUserPass) {
    Socks5Credentials credentials;
    result = ParseSocks5Auth(bytes, &credentials);
    CheckResult(result, bytes);
    if (result.status == Socks5ParseStatus::kError) {
      STRAIT_CHECK(result.action == strait::Socks5Action::kAuthFailure);
      return 0;
    }
    if (result.status == Socks5ParseStatus::kIncomplete) {
      return 0;
    }
    STRAIT_CHECK(!credentials.user.empty() && Inside(credentials.user, bytes));
    STRAIT_CHECK(Inside(credentials.password, bytes));
    STRAIT_CHECK(ParseSocks5Auth(bytes.substr(0, result.consumed - 1), &credentials).status ==
                 Socks5ParseStatus::kIncomplete);
    bytes.remove_prefix(result.consumed);
  }

  Socks5Request request;
  result = ParseSocks5Request(bytes, &request);
  CheckResult(result, bytes);
  if (result.status == Socks5ParseStatus::kError) {
    STRAIT_CHECK(result.action != strait::Socks5Action::kAuthFailure);
    if (result.action == strait::Socks5Action::kReply) {
      STRAIT_CHECK(result.reply_code == kSocks5ReplyCommandNotSupported ||
                   result.reply_code == kSocks5ReplyAddressTypeNotSupported);
    }
  } else if (result.status == Socks5ParseStatus::kComplete) {
    STRAIT_CHECK(request.port != 0);
    STRAIT_CHECK(Inside(request.domain, bytes));
    STRAIT_CHECK((request.address_type == kSocks5AddressDomain) == !request.domain.empty());
    STRAIT_CHECK(request.domain.find('\0') == std::string_view::npos);
    STRAIT_CHECK(ParseSocks5Request(bytes.substr(0, result.consumed - 1), &request).status ==
                 Socks5ParseStatus::kIncomplete);
  }

  CheckReplyWriter(stream);
  return 0;
}
