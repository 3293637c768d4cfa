#include "net/socks5_codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/case_files.h"

namespace strait::net {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string bytes;
  for (int value : values) {
    bytes += static_cast<char>(value);
  }
  return bytes;
}

// --- Greeting ---------------------------------------------------------------------------------

TEST(Socks5Codec, ChoosesUserPassWhenOffered) {
  Socks5Greeting greeting;
  Socks5ParseResult result = ParseSocks5Greeting(Bytes({5, 2, 0, 2}), true, &greeting);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, 4u);
  EXPECT_TRUE(greeting.offered_no_auth);
  EXPECT_TRUE(greeting.offered_user_pass);
  EXPECT_EQ(greeting.method, kSocks5MethodUserPass);
}

TEST(Socks5Codec, ChoosesNoAuthOnlyWhenAllowed) {
  Socks5Greeting greeting;
  ASSERT_EQ(ParseSocks5Greeting(Bytes({5, 1, 0}), true, &greeting).status,
            Socks5ParseStatus::kComplete);
  EXPECT_EQ(greeting.method, kSocks5MethodNoAuth);

  ASSERT_EQ(ParseSocks5Greeting(Bytes({5, 1, 0}), false, &greeting).status,
            Socks5ParseStatus::kComplete);
  EXPECT_EQ(greeting.method, kSocks5MethodNoAcceptable);
}

TEST(Socks5Codec, AnswersNoAcceptableMethodToGssapiOnly) {
  Socks5Greeting greeting;
  ASSERT_EQ(ParseSocks5Greeting(Bytes({5, 2, 1, 0x80}), true, &greeting).status,
            Socks5ParseStatus::kComplete);
  EXPECT_EQ(greeting.method, kSocks5MethodNoAcceptable);
}

TEST(Socks5Codec, WaitsForWholeGreeting) {
  std::string greeting_bytes = Bytes({5, 3, 1, 0x80, 2});
  Socks5Greeting greeting;
  for (size_t length = 0; length < greeting_bytes.size(); ++length) {
    EXPECT_EQ(ParseSocks5Greeting(greeting_bytes.substr(0, length), false, &greeting).status,
              Socks5ParseStatus::kIncomplete)
        << length;
  }
  std::string all_methods = Bytes({5, 255});
  for (int method = 0; method < 255; ++method) {
    all_methods += static_cast<char>(method);
  }
  Socks5ParseResult result = ParseSocks5Greeting(all_methods, false, &greeting);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, kMaxSocks5GreetingBytes);
  EXPECT_EQ(greeting.method, kSocks5MethodUserPass);
}

TEST(Socks5Codec, RejectsMalformedGreeting) {
  Socks5Greeting greeting;
  Socks5ParseResult socks4 = ParseSocks5Greeting(Bytes({4}), true, &greeting);
  EXPECT_EQ(socks4.status, Socks5ParseStatus::kError);
  EXPECT_EQ(socks4.error, Socks5ParseError::kBadVersion);
  EXPECT_EQ(socks4.action, Socks5Action::kClose);

  Socks5ParseResult http = ParseSocks5Greeting("GET / HTTP/1.1", true, &greeting);
  EXPECT_EQ(http.error, Socks5ParseError::kBadVersion);

  Socks5ParseResult none = ParseSocks5Greeting(Bytes({5, 0}), true, &greeting);
  EXPECT_EQ(none.status, Socks5ParseStatus::kError);
  EXPECT_EQ(none.error, Socks5ParseError::kNoMethods);
  EXPECT_EQ(none.action, Socks5Action::kClose);
}

// --- Authentication ---------------------------------------------------------------------------

TEST(Socks5Codec, ParsesUsernamePassword) {
  std::string message = Bytes({1, 10}) + "alice_c_us" + Bytes({2}) + "pw" + "tail";
  Socks5Credentials credentials;
  Socks5ParseResult result = ParseSocks5Auth(message, &credentials);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, message.size() - 4);
  EXPECT_EQ(credentials.user, "alice_c_us");
  EXPECT_EQ(credentials.password, "pw");
}

TEST(Socks5Codec, AcceptsEmptyPasswordAndAnyBytes) {
  std::string message = Bytes({1, 3, 'a', 0, ':', 0});
  Socks5Credentials credentials;
  Socks5ParseResult result = ParseSocks5Auth(message, &credentials);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(credentials.user, std::string("a\0:", 3));
  EXPECT_EQ(credentials.password, "");
}

TEST(Socks5Codec, ParsesLongestCredentials) {
  std::string message =
      Bytes({1, 255}) + std::string(255, 'u') + Bytes({255}) + std::string(255, 'p');
  Socks5Credentials credentials;
  Socks5ParseResult result = ParseSocks5Auth(message, &credentials);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, kMaxSocks5AuthBytes);
  EXPECT_EQ(credentials.user.size(), 255u);
  EXPECT_EQ(credentials.password.size(), 255u);
}

TEST(Socks5Codec, WaitsForWholeAuthentication) {
  std::string message = Bytes({1, 2}) + "ab" + Bytes({3}) + "xyz";
  Socks5Credentials credentials;
  for (size_t length = 0; length < message.size(); ++length) {
    EXPECT_EQ(ParseSocks5Auth(message.substr(0, length), &credentials).status,
              Socks5ParseStatus::kIncomplete)
        << length;
  }
}

TEST(Socks5Codec, FailsAuthenticationOnMalformedMessage) {
  Socks5Credentials credentials;
  Socks5ParseResult version = ParseSocks5Auth(Bytes({5, 1, 'a', 1, 'b'}), &credentials);
  EXPECT_EQ(version.status, Socks5ParseStatus::kError);
  EXPECT_EQ(version.error, Socks5ParseError::kBadAuthVersion);
  EXPECT_EQ(version.action, Socks5Action::kAuthFailure);

  Socks5ParseResult empty_user = ParseSocks5Auth(Bytes({1, 0, 1, 'b'}), &credentials);
  EXPECT_EQ(empty_user.status, Socks5ParseStatus::kError);
  EXPECT_EQ(empty_user.error, Socks5ParseError::kEmptyUsername);
  EXPECT_EQ(empty_user.action, Socks5Action::kAuthFailure);
}

// --- Request ----------------------------------------------------------------------------------

TEST(Socks5Codec, ParsesIpv4Request) {
  Socks5Request request;
  Socks5ParseResult result =
      ParseSocks5Request(Bytes({5, 1, 0, 1, 10, 0, 0, 7, 0x1f, 0x90}), &request);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, 10u);
  EXPECT_EQ(request.address_type, kSocks5AddressIpv4);
  EXPECT_EQ(request.address.kind, HostKind::kIpv4);
  EXPECT_EQ(request.address.address[0], 10);
  EXPECT_EQ(request.address.address[3], 7);
  EXPECT_EQ(request.port, 8080);
  EXPECT_TRUE(request.domain.empty());
}

TEST(Socks5Codec, ParsesIpv6Request) {
  std::string message = Bytes({5, 1, 0, 4});
  for (int i = 0; i < 16; ++i) {
    message += static_cast<char>(i);
  }
  message += Bytes({0x01, 0xbb});
  Socks5Request request;
  Socks5ParseResult result = ParseSocks5Request(message, &request);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, 22u);
  EXPECT_EQ(request.address.kind, HostKind::kIpv6);
  EXPECT_EQ(request.address.address[15], 15);
  EXPECT_EQ(request.port, 443);
}

TEST(Socks5Codec, ParsesDomainRequest) {
  std::string message = Bytes({5, 1, 0, 3, 11}) + "example.com" + Bytes({0, 80});
  Socks5Request request;
  Socks5ParseResult result = ParseSocks5Request(message, &request);
  ASSERT_EQ(result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, message.size());
  EXPECT_EQ(request.address_type, kSocks5AddressDomain);
  EXPECT_EQ(request.address.kind, HostKind::kName);
  EXPECT_EQ(request.domain, "example.com");
  EXPECT_EQ(request.port, 80);
}

TEST(Socks5Codec, RecognisesIpLiteralSentAsDomain) {
  std::string message = Bytes({5, 1, 0, 3, 9}) + "127.0.0.5" + Bytes({0, 80});
  Socks5Request request;
  ASSERT_EQ(ParseSocks5Request(message, &request).status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(request.address.kind, HostKind::kIpv4);
  EXPECT_EQ(request.address.address[3], 5);
  EXPECT_EQ(request.domain, "127.0.0.5");

  message = Bytes({5, 1, 0, 3, 3}) + "::1" + Bytes({0, 80});
  ASSERT_EQ(ParseSocks5Request(message, &request).status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(request.address.kind, HostKind::kIpv6);
  EXPECT_EQ(request.address.address[15], 1);
}

TEST(Socks5Codec, WaitsForWholeRequest) {
  for (const std::string& message : {Bytes({5, 1, 0, 1, 10, 0, 0, 7, 0x1f, 0x90}),
                                     Bytes({5, 1, 0, 3, 11}) + "example.com" + Bytes({0, 80})}) {
    Socks5Request request;
    for (size_t length = 0; length < message.size(); ++length) {
      EXPECT_EQ(ParseSocks5Request(message.substr(0, length), &request).status,
                Socks5ParseStatus::kIncomplete)
          << length;
    }
  }
}

struct RequestErrorCase {
  const char* name;
  std::string bytes;
  Socks5ParseError error;
  Socks5Action action;
  uint8_t reply_code;
};

TEST(Socks5Codec, RejectsMalformedRequestsWithExactAnswer) {
  const RequestErrorCase kCases[] = {
      {"version", Bytes({4, 1, 0, 1}), Socks5ParseError::kBadVersion, Socks5Action::kClose, 0},
      {"bind", Bytes({5, 2}), Socks5ParseError::kUnsupportedCommand, Socks5Action::kReply, 0x07},
      {"udp", Bytes({5, 3, 0, 1, 0, 0, 0, 0, 0, 0}), Socks5ParseError::kUnsupportedCommand,
       Socks5Action::kReply, 0x07},
      {"command 0", Bytes({5, 0, 0}), Socks5ParseError::kUnsupportedCommand, Socks5Action::kReply,
       0x07},
      {"reserved", Bytes({5, 1, 1, 1}), Socks5ParseError::kBadReserved, Socks5Action::kClose, 0},
      {"atyp 2", Bytes({5, 1, 0, 2}), Socks5ParseError::kUnsupportedAddressType,
       Socks5Action::kReply, 0x08},
      {"atyp 0", Bytes({5, 1, 0, 0}), Socks5ParseError::kUnsupportedAddressType,
       Socks5Action::kReply, 0x08},
      {"empty domain", Bytes({5, 1, 0, 3, 0, 0, 80}), Socks5ParseError::kBadDomain,
       Socks5Action::kClose, 0},
      {"nul in domain", Bytes({5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80}), Socks5ParseError::kBadDomain,
       Socks5Action::kClose, 0},
      {"space in domain", Bytes({5, 1, 0, 3, 3, 'a', ' ', 'b', 0, 80}),
       Socks5ParseError::kBadDomain, Socks5Action::kClose, 0},
      {"numeric shorthand", Bytes({5, 1, 0, 3, 5, '1', '2', '7', '.', '1', 0, 80}),
       Socks5ParseError::kBadDomain, Socks5Action::kClose, 0},
      {"port 0", Bytes({5, 1, 0, 1, 127, 0, 0, 1, 0, 0}), Socks5ParseError::kBadPort,
       Socks5Action::kClose, 0},
  };
  for (const RequestErrorCase& test : kCases) {
    Socks5Request request;
    Socks5ParseResult result = ParseSocks5Request(test.bytes, &request);
    ASSERT_EQ(result.status, Socks5ParseStatus::kError) << test.name;
    EXPECT_EQ(result.error, test.error) << test.name;
    EXPECT_EQ(result.action, test.action) << test.name;
    EXPECT_EQ(result.reply_code, test.reply_code) << test.name;
  }
}

// --- Writers ----------------------------------------------------------------------------------

TEST(Socks5Codec, WritesMethodSelectionAndAuthStatus) {
  char out[4];
  ASSERT_EQ(WriteSocks5MethodSelection(kSocks5MethodUserPass, out, sizeof(out)), 2u);
  EXPECT_EQ(std::string(out, 2), Bytes({5, 2}));
  ASSERT_EQ(WriteSocks5MethodSelection(kSocks5MethodNoAcceptable, out, sizeof(out)), 2u);
  EXPECT_EQ(std::string(out, 2), Bytes({5, 0xff}));
  ASSERT_EQ(WriteSocks5AuthStatus(true, out, sizeof(out)), 2u);
  EXPECT_EQ(std::string(out, 2), Bytes({1, 0}));
  ASSERT_EQ(WriteSocks5AuthStatus(false, out, sizeof(out)), 2u);
  EXPECT_EQ(std::string(out, 2), Bytes({1, 1}));
  EXPECT_EQ(WriteSocks5AuthStatus(false, out, 1), 0u);
  EXPECT_EQ(WriteSocks5MethodSelection(2, out, 1), 0u);
}

TEST(Socks5Codec, WritesReplyWithIpv4BoundAddress) {
  sockaddr_in bound = {};
  bound.sin_family = AF_INET;
  bound.sin_port = htons(40000);
  ASSERT_EQ(inet_pton(AF_INET, "127.0.0.2", &bound.sin_addr), 1);
  char out[kMaxSocks5ReplyBytes];
  size_t length = WriteSocks5Reply(kSocks5ReplySucceeded, reinterpret_cast<sockaddr*>(&bound), out,
                                   sizeof(out));
  EXPECT_EQ(std::string(out, length), Bytes({5, 0, 0, 1, 127, 0, 0, 2, 0x9c, 0x40}));
}

TEST(Socks5Codec, WritesReplyWithIpv6BoundAddress) {
  sockaddr_in6 bound = {};
  bound.sin6_family = AF_INET6;
  bound.sin6_port = htons(443);
  ASSERT_EQ(inet_pton(AF_INET6, "::1", &bound.sin6_addr), 1);
  char out[kMaxSocks5ReplyBytes];
  size_t length = WriteSocks5Reply(kSocks5ReplySucceeded, reinterpret_cast<sockaddr*>(&bound), out,
                                   sizeof(out));
  EXPECT_EQ(std::string(out, length),
            Bytes({5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xbb}));
  EXPECT_EQ(WriteSocks5Reply(0, reinterpret_cast<sockaddr*>(&bound), out, 21), 0u);
}

TEST(Socks5Codec, WritesFailureReplyWithZeroAddress) {
  char out[kMaxSocks5ReplyBytes];
  size_t length =
      WriteSocks5Reply(Socks5Reply(ErrorToken::kTargetRefused).code, nullptr, out, sizeof(out));
  EXPECT_EQ(std::string(out, length), Bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0}));

  sockaddr unspecified = {};
  unspecified.sa_family = AF_UNSPEC;
  length = WriteSocks5Reply(kSocks5ReplyTtlExpired, &unspecified, out, sizeof(out));
  EXPECT_EQ(std::string(out, length), Bytes({5, 6, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(WriteSocks5Reply(0, nullptr, out, 9), 0u);
}

// --- Whole handshakes -------------------------------------------------------------------------

struct Handshake {
  Socks5ParseResult result;  // of the last parser that ran
  Socks5Greeting greeting;
  Socks5Credentials credentials;
  Socks5Request request;
  std::string_view rest;
};

// Runs the three parsers over one client stream, as a front end does.
Handshake RunHandshake(std::string_view bytes, bool allow_no_auth) {
  Handshake handshake;
  handshake.result = ParseSocks5Greeting(bytes, allow_no_auth, &handshake.greeting);
  if (handshake.result.status != Socks5ParseStatus::kComplete) {
    return handshake;
  }
  bytes.remove_prefix(handshake.result.consumed);
  if (handshake.greeting.method == kSocks5MethodUserPass) {
    handshake.result = ParseSocks5Auth(bytes, &handshake.credentials);
    if (handshake.result.status != Socks5ParseStatus::kComplete) {
      return handshake;
    }
    bytes.remove_prefix(handshake.result.consumed);
  }
  handshake.result = ParseSocks5Request(bytes, &handshake.request);
  if (handshake.result.status == Socks5ParseStatus::kComplete) {
    handshake.rest = bytes.substr(handshake.result.consumed);
  }
  return handshake;
}

Socks5ParseError ErrorByName(const std::string& name) {
  const std::pair<const char*, Socks5ParseError> kNames[] = {
      {"kBadVersion", Socks5ParseError::kBadVersion},
      {"kNoMethods", Socks5ParseError::kNoMethods},
      {"kBadAuthVersion", Socks5ParseError::kBadAuthVersion},
      {"kEmptyUsername", Socks5ParseError::kEmptyUsername},
      {"kUnsupportedCommand", Socks5ParseError::kUnsupportedCommand},
      {"kBadReserved", Socks5ParseError::kBadReserved},
      {"kUnsupportedAddressType", Socks5ParseError::kUnsupportedAddressType},
      {"kBadDomain", Socks5ParseError::kBadDomain},
      {"kBadPort", Socks5ParseError::kBadPort},
  };
  for (const auto& [candidate, error] : kNames) {
    if (name == candidate) {
      return error;
    }
  }
  ADD_FAILURE() << "unknown error name " << name;
  return Socks5ParseError::kNone;
}

// "example.com", "4:127.0.0.1" or "6:<32 hex digits>" as in the case files' README.
void ExpectHost(const Socks5Request& request, const std::string& host) {
  if (host.rfind("4:", 0) == 0) {
    uint8_t expected[4];
    ASSERT_EQ(inet_pton(AF_INET, host.substr(2).c_str(), expected), 1);
    EXPECT_EQ(request.address.kind, HostKind::kIpv4);
    EXPECT_EQ(std::memcmp(request.address.address, expected, 4), 0);
  } else if (host.rfind("6:", 0) == 0) {
    ASSERT_EQ(host.size(), 34u);
    EXPECT_EQ(request.address.kind, HostKind::kIpv6);
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(request.address.address[i], std::stoi(host.substr(2 + 2 * i, 2), nullptr, 16));
    }
  } else {
    EXPECT_EQ(request.domain, host);
  }
}

TEST(Socks5Codec, ReplaysCaseFiles) {
  std::vector<std::string> paths = testing::ListCaseFiles("tests/net/cases/socks5", ".stream");
  ASSERT_GE(paths.size(), 10u);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    testing::CaseFile file = testing::ReadCaseFile(path, "");
    std::string early_data = testing::Unescape(file.metadata["early-data"]);
    std::string bytes = file.bytes + early_data;
    Handshake handshake = RunHandshake(bytes, file.metadata["allow-no-auth"] == "yes");

    const std::string& expect = file.metadata["expect"];
    if (expect == "complete") {
      ASSERT_EQ(handshake.result.status, Socks5ParseStatus::kComplete)
          << Socks5ParseErrorText(handshake.result.error);
      EXPECT_EQ(handshake.rest, early_data);
      if (file.metadata.count("user") > 0) {
        EXPECT_EQ(handshake.credentials.user, file.metadata["user"]);
      }
      if (file.metadata.count("password") > 0) {
        EXPECT_EQ(handshake.credentials.password, file.metadata["password"]);
      }
      if (file.metadata.count("host") > 0) {
        ExpectHost(handshake.request, file.metadata["host"]);
      }
      if (file.metadata.count("port") > 0) {
        EXPECT_EQ(handshake.request.port, std::stoi(file.metadata["port"]));
      }
    } else {
      ASSERT_EQ(expect.rfind("error ", 0), 0u) << "bad expect line: " << expect;
      ASSERT_EQ(handshake.result.status, Socks5ParseStatus::kError);
      EXPECT_EQ(handshake.result.error, ErrorByName(expect.substr(6)))
          << Socks5ParseErrorText(handshake.result.error);
    }
  }
}

TEST(Socks5Codec, ParsesPipelinedHandshakeWithoutAllocating) {
  std::string bytes = Bytes({5, 2, 0, 2}) + Bytes({1, 5}) + "alice" + Bytes({2}) + "pw" +
                      Bytes({5, 1, 0, 3, 11}) + "example.com" + Bytes({1, 0xbb});
  ASSERT_TRUE(testing::AllocationCounterIsLive());
  uint64_t before = testing::AllocationCount();
  Handshake handshake = RunHandshake(bytes, false);
  uint64_t allocations = testing::AllocationCount() - before;
  ASSERT_EQ(handshake.result.status, Socks5ParseStatus::kComplete);
  EXPECT_EQ(handshake.credentials.user, "alice");
  EXPECT_EQ(handshake.request.domain, "example.com");
  EXPECT_EQ(handshake.request.port, 443);
  EXPECT_TRUE(handshake.rest.empty());
  EXPECT_EQ(allocations, 0u);
}

}  // namespace
}  // namespace strait::net
