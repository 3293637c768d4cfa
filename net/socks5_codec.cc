#include "net/socks5_codec.h"

#include <netinet/in.h>

#include <cstring>

namespace strait::net {
namespace {

uint8_t Byte(std::string_view bytes, size_t index) { return static_cast<uint8_t>(bytes[index]); }

Socks5ParseResult Error(Socks5ParseError error, Socks5Action action, uint8_t reply_code = 0) {
  Socks5ParseResult result;
  result.status = Socks5ParseStatus::kError;
  result.error = error;
  result.action = action;
  result.reply_code = reply_code;
  return result;
}

Socks5ParseResult Complete(size_t consumed) {
  Socks5ParseResult result;
  result.status = Socks5ParseStatus::kComplete;
  result.consumed = consumed;
  return result;
}

size_t WriteBytes(const uint8_t* bytes, size_t length, char* out, size_t cap) {
  if (cap < length) {
    return 0;
  }
  std::memcpy(out, bytes, length);
  return length;
}

}  // namespace

Socks5ParseResult ParseSocks5Greeting(std::string_view bytes, bool allow_no_auth,
                                      Socks5Greeting* greeting) {
  if (bytes.empty()) {
    return Socks5ParseResult{};
  }
  if (Byte(bytes, 0) != kSocks5Version) {
    return Error(Socks5ParseError::kBadVersion, Socks5Action::kClose);
  }
  if (bytes.size() < 2) {
    return Socks5ParseResult{};
  }
  size_t method_count = Byte(bytes, 1);
  if (method_count == 0) {
    return Error(Socks5ParseError::kNoMethods, Socks5Action::kClose);
  }
  if (bytes.size() < 2 + method_count) {
    return Socks5ParseResult{};
  }

  *greeting = Socks5Greeting{};
  for (size_t i = 0; i < method_count; ++i) {
    uint8_t method = Byte(bytes, 2 + i);
    greeting->offered_no_auth |= method == kSocks5MethodNoAuth;
    greeting->offered_user_pass |= method == kSocks5MethodUserPass;
  }
  if (greeting->offered_user_pass) {
    greeting->method = kSocks5MethodUserPass;
  } else if (greeting->offered_no_auth && allow_no_auth) {
    greeting->method = kSocks5MethodNoAuth;
  }
  return Complete(2 + method_count);
}

Socks5ParseResult ParseSocks5Auth(std::string_view bytes, Socks5Credentials* credentials) {
  if (bytes.empty()) {
    return Socks5ParseResult{};
  }
  if (Byte(bytes, 0) != kSocks5AuthVersion) {
    return Error(Socks5ParseError::kBadAuthVersion, Socks5Action::kAuthFailure);
  }
  if (bytes.size() < 2) {
    return Socks5ParseResult{};
  }
  size_t user_length = Byte(bytes, 1);
  if (user_length == 0) {
    return Error(Socks5ParseError::kEmptyUsername, Socks5Action::kAuthFailure);
  }
  size_t password_length_at = 2 + user_length;
  if (bytes.size() <= password_length_at) {
    return Socks5ParseResult{};
  }
  size_t password_length = Byte(bytes, password_length_at);
  size_t total = password_length_at + 1 + password_length;
  if (bytes.size() < total) {
    return Socks5ParseResult{};
  }
  credentials->user = bytes.substr(2, user_length);
  credentials->password = bytes.substr(password_length_at + 1, password_length);
  return Complete(total);
}

Socks5ParseResult ParseSocks5Request(std::string_view bytes, Socks5Request* request) {
  // Checks run in wire order, each as soon as its byte is present.
  if (bytes.size() >= 1 && Byte(bytes, 0) != kSocks5Version) {
    return Error(Socks5ParseError::kBadVersion, Socks5Action::kClose);
  }
  if (bytes.size() >= 2 && Byte(bytes, 1) != kSocks5CommandConnect) {
    return Error(Socks5ParseError::kUnsupportedCommand, Socks5Action::kReply,
                 kSocks5ReplyCommandNotSupported);
  }
  if (bytes.size() >= 3 && Byte(bytes, 2) != 0) {
    return Error(Socks5ParseError::kBadReserved, Socks5Action::kClose);
  }
  if (bytes.size() < 4) {
    return Socks5ParseResult{};
  }

  uint8_t address_type = Byte(bytes, 3);
  size_t address_at = 4;
  size_t address_length = 0;
  if (address_type == kSocks5AddressIpv4) {
    address_length = 4;
  } else if (address_type == kSocks5AddressIpv6) {
    address_length = 16;
  } else if (address_type == kSocks5AddressDomain) {
    if (bytes.size() < 5) {
      return Socks5ParseResult{};
    }
    address_length = Byte(bytes, 4);
    if (address_length == 0) {
      return Error(Socks5ParseError::kBadDomain, Socks5Action::kClose);
    }
    address_at = 5;
  } else {
    return Error(Socks5ParseError::kUnsupportedAddressType, Socks5Action::kReply,
                 kSocks5ReplyAddressTypeNotSupported);
  }
  size_t total = address_at + address_length + 2;
  if (bytes.size() < total) {
    return Socks5ParseResult{};
  }

  *request = Socks5Request{};
  request->address_type = address_type;
  std::string_view address = bytes.substr(address_at, address_length);
  if (address_type == kSocks5AddressDomain) {
    request->domain = address;
    if (ClassifyHost(address, &request->address) != HostError::kNone) {
      return Error(Socks5ParseError::kBadDomain, Socks5Action::kClose);
    }
  } else {
    request->address.kind = address_type == kSocks5AddressIpv4 ? HostKind::kIpv4 : HostKind::kIpv6;
    std::memcpy(request->address.address, address.data(), address_length);
  }
  request->port = static_cast<uint16_t>(Byte(bytes, total - 2) << 8 | Byte(bytes, total - 1));
  if (request->port == 0) {
    return Error(Socks5ParseError::kBadPort, Socks5Action::kClose);
  }
  return Complete(total);
}

std::string_view Socks5ParseErrorText(Socks5ParseError error) {
  switch (error) {
    case Socks5ParseError::kNone:
      return "no error";
    case Socks5ParseError::kBadVersion:
      return "SOCKS version is not 5";
    case Socks5ParseError::kNoMethods:
      return "greeting offers no methods";
    case Socks5ParseError::kBadAuthVersion:
      return "username/password subnegotiation version is not 1";
    case Socks5ParseError::kEmptyUsername:
      return "empty username";
    case Socks5ParseError::kUnsupportedCommand:
      return "command other than CONNECT";
    case Socks5ParseError::kBadReserved:
      return "reserved byte is not 0";
    case Socks5ParseError::kUnsupportedAddressType:
      return "unknown address type";
    case Socks5ParseError::kBadDomain:
      return "malformed domain name";
    case Socks5ParseError::kBadPort:
      return "port 0";
  }
  return "malformed SOCKS5 message";
}

size_t WriteSocks5MethodSelection(uint8_t method, char* out, size_t cap) {
  const uint8_t message[] = {kSocks5Version, method};
  return WriteBytes(message, sizeof(message), out, cap);
}

size_t WriteSocks5AuthStatus(bool success, char* out, size_t cap) {
  const uint8_t message[] = {kSocks5AuthVersion, static_cast<uint8_t>(success ? 0x00 : 0x01)};
  return WriteBytes(message, sizeof(message), out, cap);
}

size_t WriteSocks5Reply(uint8_t reply_code, const sockaddr* bound, char* out, size_t cap) {
  uint8_t message[kMaxSocks5ReplyBytes] = {kSocks5Version, reply_code, 0x00, kSocks5AddressIpv4};
  size_t length = 4 + 4 + 2;  // the zero IPv4 address unless `bound` says otherwise
  if (bound != nullptr && bound->sa_family == AF_INET) {
    sockaddr_in address;
    std::memcpy(&address, bound, sizeof(address));
    std::memcpy(message + 4, &address.sin_addr, 4);
    std::memcpy(message + 8, &address.sin_port, 2);  // both in network order already
  } else if (bound != nullptr && bound->sa_family == AF_INET6) {
    sockaddr_in6 address;
    std::memcpy(&address, bound, sizeof(address));
    message[3] = kSocks5AddressIpv6;
    std::memcpy(message + 4, &address.sin6_addr, 16);
    std::memcpy(message + 20, &address.sin6_port, 2);
    length = 4 + 16 + 2;
  }
  return WriteBytes(message, length, out, cap);
}

}  // namespace strait::net
