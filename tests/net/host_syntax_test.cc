#include "net/host_syntax.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace strait::net {
namespace {

HostError Classify(std::string_view host, HostKind* kind = nullptr) {
  HostAddress address;
  HostError error = ClassifyHost(host, &address);
  if (kind != nullptr) {
    *kind = address.kind;
  }
  return error;
}

TEST(HostSyntax, ClassifiesNamesAndLiterals) {
  HostKind kind;
  EXPECT_EQ(Classify("example.com", &kind), HostError::kNone);
  EXPECT_EQ(kind, HostKind::kName);
  EXPECT_EQ(Classify("my_host-1.example", &kind), HostError::kNone);
  EXPECT_EQ(kind, HostKind::kName);
  EXPECT_EQ(Classify("localhost", &kind), HostError::kNone);
  EXPECT_EQ(kind, HostKind::kName);
  EXPECT_EQ(Classify("example.com.", &kind), HostError::kNone);
  EXPECT_EQ(kind, HostKind::kName);
  EXPECT_EQ(Classify("1.example", &kind), HostError::kNone);
  EXPECT_EQ(kind, HostKind::kName);

  EXPECT_EQ(Classify("127.0.0.1", &kind), HostError::kNone);
  EXPECT_EQ(kind, HostKind::kIpv4);
  EXPECT_EQ(Classify("::1", &kind), HostError::kNone);
  EXPECT_EQ(kind, HostKind::kIpv6);
}

TEST(HostSyntax, FillsAddressBytes) {
  HostAddress address;
  ASSERT_EQ(ClassifyHost("10.20.30.255", &address), HostError::kNone);
  EXPECT_EQ(address.address[0], 10);
  EXPECT_EQ(address.address[3], 255);
}

TEST(HostSyntax, RefusesNumericShorthandsThatResolversReadAsAddresses) {
  for (const char* host : {"127.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1",
                           "127.0.0.01", "1.2.3.4.5", "256.1.1.1", "127.0.0.1.", "a.0x", "a.123"}) {
    EXPECT_EQ(Classify(host), HostError::kNumericName) << host;
  }
}

TEST(HostSyntax, RefusesMalformedNames) {
  EXPECT_EQ(Classify(""), HostError::kEmpty);
  EXPECT_EQ(Classify("."), HostError::kEmptyLabel);
  EXPECT_EQ(Classify("a..b"), HostError::kEmptyLabel);
  EXPECT_EQ(Classify(".a"), HostError::kEmptyLabel);
  EXPECT_EQ(Classify("a.b.."), HostError::kEmptyLabel);
  EXPECT_EQ(Classify("a b"), HostError::kBadCharacter);
  EXPECT_EQ(Classify("a%2eb"), HostError::kBadCharacter);
  EXPECT_EQ(Classify(std::string("a\0b", 3)), HostError::kBadCharacter);
  EXPECT_EQ(Classify("caf\xc3\xa9.example"), HostError::kBadCharacter);
  EXPECT_EQ(Classify(std::string(64, 'a') + ".example"), HostError::kLabelTooLong);
  EXPECT_EQ(Classify(std::string(63, 'a') + ".example"), HostError::kNone);

  std::string longest;
  while (longest.size() + 4 <= kMaxHostNameLength) {
    longest += "abc.";
  }
  longest += std::string(kMaxHostNameLength - longest.size(), 'z');
  ASSERT_EQ(longest.size(), kMaxHostNameLength);
  EXPECT_EQ(Classify(longest), HostError::kNone);
  EXPECT_EQ(Classify(longest + "."), HostError::kNone);
  EXPECT_EQ(Classify(longest + "z"), HostError::kTooLong);
}

TEST(HostSyntax, ParsesIpv4Strictly) {
  uint8_t out[4];
  ASSERT_TRUE(ParseIpv4("0.0.0.0", out));
  ASSERT_TRUE(ParseIpv4("255.255.255.255", out));
  EXPECT_EQ(out[2], 255);
  for (const char* text : {"", "1.2.3", "1.2.3.4.", ".1.2.3", "1..2.3", "01.2.3.4", "1.2.3.256",
                           "1.2.3.-4", "1.2.3.4 ", "1.2.3.+4", "1.2.3.4444", "a.b.c.d"}) {
    EXPECT_FALSE(ParseIpv4(text, out)) << text;
  }
}

TEST(HostSyntax, ParsesIpv6LikeInetPton) {
  for (const char* text :
       {"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "fe80::1:2", "::ffff:127.0.0.1",
        "2001:DB8:0:0:0:0:0:1", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"}) {
    uint8_t ours[16];
    uint8_t libc[16];
    ASSERT_TRUE(ParseIpv6(text, ours)) << text;
    ASSERT_EQ(inet_pton(AF_INET6, text, libc), 1) << text;
    EXPECT_EQ(std::memcmp(ours, libc, 16), 0) << text;
  }
}

TEST(HostSyntax, RefusesMalformedIpv6) {
  uint8_t out[16];
  for (const char* text :
       {"", ":", ":::", "1:::2", "1::2::3", ":1::", "1:", ":1", "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7", "12345::", "g::", "::1.2.3", "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
        "fe80::1%eth0", "[::1]", "::01.2.3.4", "1:2:3:4:5:6:7:8::"}) {
    EXPECT_FALSE(ParseIpv6(text, out)) << text;
  }
}

TEST(HostSyntax, ParsesPorts) {
  uint16_t port = 0;
  EXPECT_TRUE(ParsePort("1", false, &port));
  EXPECT_EQ(port, 1);
  EXPECT_TRUE(ParsePort("65535", false, &port));
  EXPECT_EQ(port, 65535);
  EXPECT_TRUE(ParsePort("0", true, &port));
  EXPECT_EQ(port, 0);
  for (const char* text :
       {"", "0", "65536", "99999", "080", "+80", "-1", "8 0", "123456", "0x50"}) {
    EXPECT_FALSE(ParsePort(text, false, &port)) << text;
  }
}

}  // namespace
}  // namespace strait::net
