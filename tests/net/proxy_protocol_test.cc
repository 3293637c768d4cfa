#include "net/proxy_protocol.h"

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

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

// "1.2.3.4:80" or "[::1]:80"; "-" for AF_UNSPEC.
std::string Format(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN];
  if (address.ss_family == AF_INET) {
    const auto* ipv4 = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &ipv4->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(ipv4->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* ipv6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &ipv6->sin6_addr, text, sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(ipv6->sin6_port));
  }
  return "-";
}

std::string V2(uint8_t version_command, uint8_t family, const std::string& block) {
  std::string header = kV2Signature;
  header += static_cast<char>(version_command);
  header += static_cast<char>(family);
  header += static_cast<char>(block.size() >> 8);
  header += static_cast<char>(block.size() & 0xff);
  return header + block;
}

std::string Ipv4Block() {
  return std::string("\x7f\x00\x00\x01\x7f\x00\x00\x02\x9c\x40\x1f\x40", 12);
}

ProxyHeaderResult Parse(std::string_view bytes, ProxyHeader* header,
                        size_t max = kDefaultMaxProxyHeaderBytes) {
  return ParseProxyHeader(bytes, max, header);
}

ProxyHeaderError ErrorOf(std::string_view bytes, size_t max = kDefaultMaxProxyHeaderBytes) {
  ProxyHeader header;
  ProxyHeaderResult result = Parse(bytes, &header, max);
  EXPECT_EQ(result.status, ProxyHeaderStatus::kError) << bytes;
  return result.error;
}

TEST(ProxyProtocol, ParsesV1Tcp4) {
  std::string bytes = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET";
  ProxyHeader header;
  ProxyHeaderResult result = Parse(bytes, &header);
  ASSERT_EQ(result.status, ProxyHeaderStatus::kComplete);
  EXPECT_EQ(result.consumed, bytes.size() - 3);
  EXPECT_EQ(header.version, 1);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(Format(header.source), "192.168.0.1:56324");
  EXPECT_EQ(Format(header.destination), "192.168.0.11:443");
}

TEST(ProxyProtocol, ParsesV1Tcp6) {
  ProxyHeader header;
  ASSERT_EQ(Parse("PROXY TCP6 2001:db8::1 ::1 0 65535\r\n", &header).status,
            ProxyHeaderStatus::kComplete);
  EXPECT_EQ(Format(header.source), "[2001:db8::1]:0");
  EXPECT_EQ(Format(header.destination), "[::1]:65535");
}

TEST(ProxyProtocol, TreatsV1UnknownAsLocal) {
  for (const char* line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN anything at all\r\n"}) {
    ProxyHeader header;
    ProxyHeaderResult result = Parse(line, &header);
    ASSERT_EQ(result.status, ProxyHeaderStatus::kComplete) << line;
    EXPECT_EQ(result.consumed, std::strlen(line));
    EXPECT_TRUE(header.local);
    EXPECT_EQ(header.source.ss_family, AF_UNSPEC);
  }
}

TEST(ProxyProtocol, WaitsForWholeV1Line) {
  std::string line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  for (size_t length = 0; length < line.size(); ++length) {
    ProxyHeader header;
    EXPECT_EQ(Parse(line.substr(0, length), &header).status, ProxyHeaderStatus::kIncomplete)
        << length;
  }
}

TEST(ProxyProtocol, RejectsMalformedV1) {
  EXPECT_EQ(ErrorOf("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n"), ProxyHeaderError::kV1BadFamily);
  EXPECT_EQ(ErrorOf("PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n"), ProxyHeaderError::kV1BadFamily);
  EXPECT_EQ(ErrorOf("PROXY UNKNOWNX\r\n"), ProxyHeaderError::kV1BadFamily);
  EXPECT_EQ(ErrorOf("PROXY \r\n"), ProxyHeaderError::kV1BadFamily);
  EXPECT_EQ(ErrorOf("PROXY TCP4\r\n"), ProxyHeaderError::kV1BadFormat);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"), ProxyHeaderError::kV1BadFormat);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n"), ProxyHeaderError::kV1BadPort);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n"), ProxyHeaderError::kV1BadPort);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n"), ProxyHeaderError::kV1BadPort);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 1 65536\r\n"), ProxyHeaderError::kV1BadPort);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n"), ProxyHeaderError::kV1BadPort);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n"), ProxyHeaderError::kV1BadAddress);
  EXPECT_EQ(ErrorOf("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), ProxyHeaderError::kV1BadAddress);
  EXPECT_EQ(ErrorOf("PROXY TCP6 ::1%lo ::1 1 2\r\n"), ProxyHeaderError::kV1BadAddress);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"), ProxyHeaderError::kV1BareLineBreak);
  EXPECT_EQ(ErrorOf("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX\n"), ProxyHeaderError::kV1BareLineBreak);
  EXPECT_EQ(ErrorOf("PROXYTCP4"), ProxyHeaderError::kNotProxyProtocol);
  EXPECT_EQ(ErrorOf("proxy TCP4"), ProxyHeaderError::kNotProxyProtocol);
}

TEST(ProxyProtocol, LimitsV1LineTo107Bytes) {
  std::string prefix = "PROXY UNKNOWN ";
  std::string longest = prefix + std::string(kMaxProxyV1Bytes - prefix.size() - 2, 'x') + "\r\n";
  ASSERT_EQ(longest.size(), kMaxProxyV1Bytes);
  ProxyHeader header;
  EXPECT_EQ(Parse(longest, &header).status, ProxyHeaderStatus::kComplete);

  std::string too_long = prefix + std::string(kMaxProxyV1Bytes - prefix.size() - 1, 'x') + "\r\n";
  EXPECT_EQ(ErrorOf(too_long), ProxyHeaderError::kV1TooLong);
  // Known to be too long as soon as byte 107 arrives without a CRLF before it.
  EXPECT_EQ(ErrorOf(too_long.substr(0, kMaxProxyV1Bytes)), ProxyHeaderError::kV1TooLong);
  EXPECT_EQ(Parse(too_long.substr(0, kMaxProxyV1Bytes - 1), &header).status,
            ProxyHeaderStatus::kIncomplete);
}

TEST(ProxyProtocol, ParsesV2Tcp4) {
  std::string bytes = V2(0x21, 0x11, Ipv4Block()) + "\x05\x01\x02";
  ProxyHeader header;
  ProxyHeaderResult result = Parse(bytes, &header);
  ASSERT_EQ(result.status, ProxyHeaderStatus::kComplete);
  EXPECT_EQ(result.consumed, 28u);
  EXPECT_EQ(header.version, 2);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(Format(header.source), "127.0.0.1:40000");
  EXPECT_EQ(Format(header.destination), "127.0.0.2:8000");
}

TEST(ProxyProtocol, ParsesV2Ipv6AndSkipsTlvs) {
  std::string block(36, '\0');
  block[15] = 1;
  block[31] = 2;
  block[32] = 0x01;
  block[33] = 0xbb;
  block[34] = 0x1f;
  block[35] = 0x40;
  block += std::string("\x04\x00\x03xyz", 6);  // a NOOP TLV
  ProxyHeader header;
  ProxyHeaderResult result = Parse(V2(0x21, 0x21, block), &header);
  ASSERT_EQ(result.status, ProxyHeaderStatus::kComplete);
  EXPECT_EQ(result.consumed, 16 + block.size());
  EXPECT_EQ(Format(header.source), "[::1]:443");
  EXPECT_EQ(Format(header.destination), "[::2]:8000");
}

TEST(ProxyProtocol, AcceptsUdpOverIpv4AsAddresses) {
  ProxyHeader header;
  ASSERT_EQ(Parse(V2(0x21, 0x12, Ipv4Block()), &header).status, ProxyHeaderStatus::kComplete);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(Format(header.source), "127.0.0.1:40000");
}

TEST(ProxyProtocol, TreatsV2LocalUnspecAndUnixAsLocal) {
  struct Case {
    uint8_t version_command;
    uint8_t family;
    std::string block;
  };
  const Case kCases[] = {
      {0x20, 0x00, ""},
      {0x20, 0x11, Ipv4Block()},            // LOCAL ignores the addresses
      {0x20, 0xff, "whatever"},             // ... and the family byte
      {0x21, 0x00, ""},                     // PROXY with UNSPEC
      {0x21, 0x31, std::string(216, 'u')},  // UNIX stream
      {0x21, 0x32, std::string(216, 'u')},  // UNIX datagram
  };
  for (const Case& test : kCases) {
    ProxyHeader header;
    std::string bytes = V2(test.version_command, test.family, test.block);
    ProxyHeaderResult result = Parse(bytes, &header);
    ASSERT_EQ(result.status, ProxyHeaderStatus::kComplete) << int(test.family);
    EXPECT_EQ(result.consumed, bytes.size());
    EXPECT_TRUE(header.local);
    EXPECT_EQ(header.source.ss_family, AF_UNSPEC);
    EXPECT_EQ(header.destination.ss_family, AF_UNSPEC);
  }
}

TEST(ProxyProtocol, WaitsForWholeV2Header) {
  std::string bytes = V2(0x21, 0x11, Ipv4Block());
  for (size_t length = 0; length < bytes.size(); ++length) {
    ProxyHeader header;
    EXPECT_EQ(Parse(bytes.substr(0, length), &header).status, ProxyHeaderStatus::kIncomplete)
        << length;
  }
}

TEST(ProxyProtocol, RejectsMalformedV2) {
  EXPECT_EQ(ErrorOf(V2(0x11, 0x11, Ipv4Block())), ProxyHeaderError::kV2BadVersion);
  EXPECT_EQ(ErrorOf(V2(0x31, 0x11, Ipv4Block())), ProxyHeaderError::kV2BadVersion);
  EXPECT_EQ(ErrorOf(V2(0x22, 0x11, Ipv4Block())), ProxyHeaderError::kV2BadCommand);
  EXPECT_EQ(ErrorOf(V2(0x2f, 0x11, Ipv4Block())), ProxyHeaderError::kV2BadCommand);
  EXPECT_EQ(ErrorOf(V2(0x21, 0x13, Ipv4Block())), ProxyHeaderError::kV2BadFamily);
  EXPECT_EQ(ErrorOf(V2(0x21, 0x41, Ipv4Block())), ProxyHeaderError::kV2BadFamily);
  EXPECT_EQ(ErrorOf(V2(0x21, 0x10, Ipv4Block())), ProxyHeaderError::kV2BadFamily);
  EXPECT_EQ(ErrorOf(V2(0x21, 0x11, Ipv4Block().substr(0, 11))),
            ProxyHeaderError::kV2AddressTooShort);
  EXPECT_EQ(ErrorOf(V2(0x21, 0x21, Ipv4Block())), ProxyHeaderError::kV2AddressTooShort);
  std::string signature_typo = V2(0x21, 0x11, Ipv4Block());
  signature_typo[8] = 'q';
  EXPECT_EQ(ErrorOf(signature_typo), ProxyHeaderError::kNotProxyProtocol);
}

TEST(ProxyProtocol, ReportsV2ErrorsBeforeTheAddressesArrive) {
  // Only the 16 fixed bytes: the header announces 64 KiB, over the limit.
  std::string fixed = kV2Signature + std::string("\x21\x11\xff\xff", 4);
  EXPECT_EQ(ErrorOf(fixed), ProxyHeaderError::kV2TooLong);
  EXPECT_EQ(ErrorOf(V2(0x21, 0x11, Ipv4Block()).substr(0, 16), 27), ProxyHeaderError::kV2TooLong);
  ProxyHeader header;
  EXPECT_EQ(Parse(V2(0x21, 0x11, Ipv4Block()), &header, 28).status, ProxyHeaderStatus::kComplete);
}

TEST(ProxyProtocol, RejectsBytesWithoutSignature) {
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\n"), ProxyHeaderError::kNotProxyProtocol);
  EXPECT_EQ(ErrorOf(std::string("\x05\x01\x02", 3)), ProxyHeaderError::kNotProxyProtocol);
  EXPECT_EQ(ErrorOf("\r\n\r\nX"), ProxyHeaderError::kNotProxyProtocol);
  ProxyHeader header;
  EXPECT_EQ(Parse("PRO", &header).status, ProxyHeaderStatus::kIncomplete);
  EXPECT_EQ(Parse(kV2Signature.substr(0, 5), &header).status, ProxyHeaderStatus::kIncomplete);
}

ProxyHeaderError ErrorByName(const std::string& name) {
  const std::pair<const char*, ProxyHeaderError> kNames[] = {
      {"kNotProxyProtocol", ProxyHeaderError::kNotProxyProtocol},
      {"kV1TooLong", ProxyHeaderError::kV1TooLong},
      {"kV1BareLineBreak", ProxyHeaderError::kV1BareLineBreak},
      {"kV1BadFamily", ProxyHeaderError::kV1BadFamily},
      {"kV1BadFormat", ProxyHeaderError::kV1BadFormat},
      {"kV1BadAddress", ProxyHeaderError::kV1BadAddress},
      {"kV1BadPort", ProxyHeaderError::kV1BadPort},
      {"kV2BadVersion", ProxyHeaderError::kV2BadVersion},
      {"kV2BadCommand", ProxyHeaderError::kV2BadCommand},
      {"kV2BadFamily", ProxyHeaderError::kV2BadFamily},
      {"kV2TooLong", ProxyHeaderError::kV2TooLong},
      {"kV2AddressTooShort", ProxyHeaderError::kV2AddressTooShort},
  };
  for (const auto& [candidate, error] : kNames) {
    if (name == candidate) {
      return error;
    }
  }
  ADD_FAILURE() << "unknown error name " << name;
  return ProxyHeaderError::kNone;
}

TEST(ProxyProtocol, ReplaysCaseFiles) {
  std::vector<std::string> paths = testing::ListCaseFiles("tests/net/cases/proxy", ".header");
  ASSERT_GE(paths.size(), 14u);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    testing::CaseFile file = testing::ReadCaseFile(path, "");
    std::string early_data = testing::Unescape(file.metadata["early-data"]);
    std::string bytes = file.bytes + early_data;
    ProxyHeader header;
    ProxyHeaderResult result = Parse(bytes, &header);

    const std::string& expect = file.metadata["expect"];
    if (expect == "complete") {
      ASSERT_EQ(result.status, ProxyHeaderStatus::kComplete) << ProxyHeaderErrorText(result.error);
      EXPECT_EQ(result.consumed, file.bytes.size());
      if (file.metadata.count("version") > 0) {
        EXPECT_EQ(header.version, std::stoi(file.metadata["version"]));
      }
      if (file.metadata.count("local") > 0) {
        EXPECT_EQ(header.local, file.metadata["local"] == "yes");
      }
      if (file.metadata.count("source") > 0) {
        EXPECT_EQ(Format(header.source), file.metadata["source"]);
      }
      if (file.metadata.count("destination") > 0) {
        EXPECT_EQ(Format(header.destination), file.metadata["destination"]);
      }
    } else {
      ASSERT_EQ(expect.rfind("error ", 0), 0u) << "bad expect line: " << expect;
      ASSERT_EQ(result.status, ProxyHeaderStatus::kError);
      EXPECT_EQ(result.error, ErrorByName(expect.substr(6))) << ProxyHeaderErrorText(result.error);
    }
  }
}

TEST(ProxyProtocol, ParsesWithoutAllocating) {
  std::string v1 = "PROXY TCP6 2001:db8::1 ::1 1 2\r\n";
  std::string v2 = V2(0x21, 0x11, Ipv4Block());
  ProxyHeader header;
  ASSERT_TRUE(testing::AllocationCounterIsLive());
  uint64_t before = testing::AllocationCount();
  ProxyHeaderResult first = Parse(v1, &header);
  ProxyHeaderResult second = Parse(v2, &header);
  ProxyHeaderResult third = Parse("garbage", &header);
  uint64_t allocations = testing::AllocationCount() - before;
  EXPECT_EQ(first.status, ProxyHeaderStatus::kComplete);
  EXPECT_EQ(second.status, ProxyHeaderStatus::kComplete);
  EXPECT_EQ(third.status, ProxyHeaderStatus::kError);
  EXPECT_EQ(allocations, 0u);
}

}  // namespace
}  // namespace strait::net
