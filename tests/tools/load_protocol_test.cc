#include "tools/load_protocol.h"

#include <string>

#include "gtest/gtest.h"

namespace strait::load {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(HttpConnect, CarriesBasicCredentialsOfTheRoutingString) {
  std::string request = BuildHttpConnect("127.0.0.1:19003", "bench_c_us", "pw");
  EXPECT_EQ(request.rfind("CONNECT 127.0.0.1:19003 HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(request.find("\r\nHost: 127.0.0.1:19003\r\n"), std::string::npos);
  EXPECT_NE(
      request.find("\r\nProxy-Authorization: Basic " + Base64Encode("bench_c_us:pw") + "\r\n"),
      std::string::npos);
  EXPECT_EQ(request.substr(request.size() - 4), "\r\n\r\n");
}

TEST(HttpConnect, OmitsCredentialsWithoutUser) {
  std::string request = BuildHttpConnect("127.0.0.1:19000", "", "");
  EXPECT_EQ(request.find("Proxy-Authorization"), std::string::npos);
}

TEST(HttpReply, WaitsForTheBlankLine) {
  EXPECT_EQ(ParseHttpReply("HTTP/1.1 200 OK\r\nProxy-Status: strait").state,
            ParseState::kIncomplete);
  EXPECT_EQ(ParseHttpReply("").state, ParseState::kIncomplete);
}

TEST(HttpReply, ReadsStatusAndNextHop) {
  std::string reply =
      "HTTP/1.1 200 Connection established\r\nproxy-status: strait; next-hop=dc3\r\n\r\nTAIL";
  HttpReply parsed = ParseHttpReply(reply);
  ASSERT_EQ(parsed.state, ParseState::kComplete);
  EXPECT_EQ(parsed.status, 200);
  EXPECT_EQ(parsed.header_bytes, reply.size() - 4);
  EXPECT_TRUE(parsed.proxy_status.present);
  EXPECT_EQ(parsed.proxy_status.proxy_name, "strait");
  EXPECT_EQ(parsed.proxy_status.next_hop, "dc3");
  EXPECT_EQ(parsed.proxy_status.reason, "");
}

TEST(HttpReply, ReadsReasonTokenOfAnError) {
  HttpReply parsed = ParseHttpReply(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
      "Proxy-Status: strait; error=destination_unavailable; details=\"no_exit: c=zz; city=x\"\r\n"
      "\r\n");
  ASSERT_EQ(parsed.state, ParseState::kComplete);
  EXPECT_EQ(parsed.status, 503);
  EXPECT_EQ(parsed.proxy_status.error, "destination_unavailable");
  EXPECT_EQ(parsed.proxy_status.reason, "no_exit");
}

TEST(HttpReply, AcceptsHttp10WithoutReasonPhraseOrHeaders) {
  HttpReply parsed = ParseHttpReply("HTTP/1.0 407\r\n\r\n");
  ASSERT_EQ(parsed.state, ParseState::kComplete);
  EXPECT_EQ(parsed.status, 407);
  EXPECT_FALSE(parsed.proxy_status.present);
}

TEST(HttpReply, RejectsMalformedStatusLinesAndHeaders) {
  EXPECT_EQ(ParseHttpReply("HTTP/2 200 OK\r\n\r\n").state, ParseState::kMalformed);
  EXPECT_EQ(ParseHttpReply("HTTP/1.1 2x0 OK\r\n\r\n").state, ParseState::kMalformed);
  EXPECT_EQ(ParseHttpReply("HTTP/1.1 2000 OK\r\n\r\n").state, ParseState::kMalformed);
  EXPECT_EQ(ParseHttpReply("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n").state,
            ParseState::kMalformed);
}

TEST(HttpReply, RejectsHeadsLongerThanTheLimit) {
  std::string endless = "HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHttpReplyBytes, 'a');
  EXPECT_EQ(ParseHttpReply(endless).state, ParseState::kMalformed);
}

TEST(ProxyStatus, KeepsSeparatorsInsideQuotedDetails) {
  ProxyStatus status =
      ParseProxyStatus("strait; details=\"bad_routing: a,b;c\"; next-hop=\"x\", other; error=e");
  EXPECT_EQ(status.reason, "bad_routing");
  EXPECT_EQ(status.next_hop, "x");
  EXPECT_EQ(status.error, "");  // belongs to the second list member
}

TEST(ProxyStatus, UsesWholeDetailsWhenItHasNoColon) {
  EXPECT_EQ(ParseProxyStatus("strait; details=session_moved; next-hop=dc1").reason,
            "session_moved");
  EXPECT_FALSE(ParseProxyStatus("").present);
}

TEST(Socks, BuildsGreetingAuthAndConnect) {
  EXPECT_EQ(BuildSocksGreeting(true), std::string("\x05\x01\x02", 3));
  EXPECT_EQ(BuildSocksGreeting(false), std::string("\x05\x01\x00", 3));
  EXPECT_EQ(BuildSocksAuth("ab", "xyz"), std::string("\x01\x02"
                                                     "ab"
                                                     "\x03"
                                                     "xyz",
                                                     8));
  EXPECT_EQ(BuildSocksConnectIpv4(0x7f000001, 19000),
            std::string("\x05\x01\x00\x01\x7f\x00\x00\x01\x4a\x38", 10));
}

TEST(Socks, ParsesMethodAndAuthReplies) {
  EXPECT_EQ(ParseSocksMethodReply(std::string("\x05", 1)).state, ParseState::kIncomplete);
  SocksReply method = ParseSocksMethodReply(std::string("\x05\x02", 2));
  EXPECT_EQ(method.state, ParseState::kComplete);
  EXPECT_EQ(method.code, 0x02);
  EXPECT_EQ(ParseSocksMethodReply(std::string("\x04\x00", 2)).state, ParseState::kMalformed);
  SocksReply auth = ParseSocksAuthReply(std::string("\x01\x01", 2));
  EXPECT_EQ(auth.state, ParseState::kComplete);
  EXPECT_EQ(auth.code, 0x01);
}

TEST(Socks, ParsesConnectRepliesOfEveryAddressType) {
  std::string ipv4("\x05\x00\x00\x01\x7f\x00\x00\x01\x4a\x38", 10);
  EXPECT_EQ(ParseSocksConnectReply(ipv4.substr(0, 9)).state, ParseState::kIncomplete);
  SocksReply reply = ParseSocksConnectReply(ipv4 + "extra");
  EXPECT_EQ(reply.state, ParseState::kComplete);
  EXPECT_EQ(reply.bytes, 10u);
  EXPECT_EQ(reply.code, 0x00);

  std::string domain = std::string("\x05\x04\x00\x03\x03", 5) + "abc" + std::string("\x00\x50", 2);
  reply = ParseSocksConnectReply(domain);
  EXPECT_EQ(reply.state, ParseState::kComplete);
  EXPECT_EQ(reply.bytes, 10u);
  EXPECT_EQ(reply.code, 0x04);

  std::string ipv6 = std::string("\x05\x00\x00\x04", 4) + std::string(18, '\0');
  EXPECT_EQ(ParseSocksConnectReply(ipv6).bytes, 22u);
  EXPECT_EQ(ParseSocksConnectReply(std::string("\x05\x00\x00\x09\x00", 5)).state,
            ParseState::kMalformed);
}

TEST(Command, ParsesEveryVerb) {
  Command ping = ParseCommand("PING t42");
  EXPECT_EQ(ping.kind, CommandKind::kPing);
  EXPECT_EQ(ping.token, "t42");
  Command quit = ParseCommand("QUIT t43");
  EXPECT_EQ(quit.kind, CommandKind::kQuit);
  EXPECT_EQ(quit.token, "t43");
  EXPECT_EQ(ParseCommand("WHO").kind, CommandKind::kWho);
  EXPECT_EQ(ParseCommand("ECHO\r").kind, CommandKind::kEcho);
  Command sink = ParseCommand("SINK 1000");
  EXPECT_EQ(sink.kind, CommandKind::kSink);
  EXPECT_EQ(sink.count, 1000u);
  EXPECT_EQ(ParseCommand("SINK").count, kUnbounded);
  EXPECT_EQ(ParseCommand("SOURCE 5").kind, CommandKind::kSource);
  EXPECT_EQ(ParseCommand("DUPLEX").kind, CommandKind::kDuplex);
  EXPECT_EQ(ParseCommand("STATS").kind, CommandKind::kStats);
}

TEST(Command, RejectsMalformedCommands) {
  EXPECT_EQ(ParseCommand("").kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("GET / HTTP/1.1").kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("PING").kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("PING a b").kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("QUIT").kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("SINK -1").kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("SOURCE 12x").kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("WHO now").kind, CommandKind::kInvalid);
  EXPECT_FALSE(ParseCommand("NOPE").token.empty());
}

TEST(Stats, RoundTripsThroughItsLine) {
  TargetStats stats{3, 4, 5000000000ull, 6};
  std::string line = FormatStats(stats);
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  TargetStats parsed;
  ASSERT_TRUE(ParseStats(line, &parsed));
  EXPECT_EQ(parsed.tunnels, 3u);
  EXPECT_EQ(parsed.pings, 4u);
  EXPECT_EQ(parsed.bytes_in, 5000000000ull);
  EXPECT_EQ(parsed.bytes_out, 6u);
  EXPECT_FALSE(ParseStats("STATS tunnels=1 pings=2 bytes_in=3", &parsed));
  EXPECT_FALSE(ParseStats("STATS tunnels=1 pings=2 bytes_in=3 bytes_out=x", &parsed));
  EXPECT_FALSE(ParseStats("PONG t1 127.0.0.1:1", &parsed));
}

TEST(Pong, SplitsTokenAndAddress) {
  std::string_view token;
  std::string_view address;
  ASSERT_TRUE(ParsePong("PONG t7 127.0.0.3:41234", &token, &address));
  EXPECT_EQ(token, "t7");
  EXPECT_EQ(address, "127.0.0.3:41234");
  EXPECT_EQ(AddressIp(address), "127.0.0.3");
  EXPECT_EQ(AddressIp("[::1]:80"), "::1");
  EXPECT_EQ(AddressIp("::1"), "::1");
  EXPECT_FALSE(ParsePong("PONG t7", &token, &address));
  EXPECT_FALSE(ParsePong("PANG t7 a:1", &token, &address));
}

TEST(RoutingUser, BuildsEachKindOfRoutingString) {
  EXPECT_EQ(RoutingUser(RoutingKind::kNone, "bench", 1, 4), "");
  EXPECT_EQ(RoutingUser(RoutingKind::kRotating, "bench", 1, 4), "bench");
  EXPECT_EQ(RoutingUser(RoutingKind::kStickyOne, "bench", 9, 4), "bench_s_one");
  EXPECT_EQ(RoutingUser(RoutingKind::kStickyMany, "bench", 9, 4), "bench_s_m1");
  EXPECT_EQ(RoutingUser(RoutingKind::kTargeted, "bench", 9, 4), "bench_c_us_city_charlotte");
  for (std::string_view name :
       {"none", "plain", "rotating", "sticky-one", "sticky-many", "targeted"}) {
    RoutingKind kind;
    ASSERT_TRUE(ParseRoutingKind(name, &kind)) << name;
    EXPECT_EQ(RoutingKindName(kind), name);
  }
  RoutingKind kind;
  EXPECT_FALSE(ParseRoutingKind("sticky", &kind));
}

}  // namespace
}  // namespace strait::load
