#include "net/http_codec.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/allocation_counter.h"
#include "tests/testing/case_files.h"

namespace strait::net {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr size_t kMaxHead = 8192;

// The parse of a copy of the input: the head's views point into `bytes`, so they stay valid as
// long as the Parsed does, whatever temporary the test passed in.
struct Parsed {
  std::string bytes;
  HttpParseResult result;
  HttpRequestHead head;
};

// Heap-allocated: HttpRequestHead is ~3.5 KiB and several tests hold a few at once.
std::unique_ptr<Parsed> Parse(std::string_view bytes, size_t max_head = kMaxHead) {
  auto parsed = std::make_unique<Parsed>();
  parsed->bytes = std::string(bytes);
  parsed->result = ParseHttpRequestHead(parsed->bytes, max_head, &parsed->head);
  return parsed;
}

HttpParseError ErrorOf(std::string_view bytes) {
  std::unique_ptr<Parsed> parsed = Parse(bytes);
  EXPECT_EQ(parsed->result.status, HttpParseStatus::kError) << bytes;
  return parsed->result.error;
}

bool ViewInside(std::string_view view, std::string_view buffer) {
  return view.empty() || (view.data() >= buffer.data() &&
                          view.data() + view.size() <= buffer.data() + buffer.size());
}

constexpr std::string_view kCurlConnect =
    "CONNECT example.com:443 HTTP/1.1\r\n"
    "Host: example.com:443\r\n"
    "Proxy-Authorization: Basic YWxpY2VfY191czpwdw==\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

TEST(HttpCodec, ParsesCurlConnectHead) {
  std::unique_ptr<Parsed> parsed = Parse(kCurlConnect);
  ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete);
  const HttpRequestHead& head = parsed->head;
  EXPECT_EQ(parsed->result.head_length, kCurlConnect.size());
  EXPECT_EQ(head.method, "CONNECT");
  EXPECT_TRUE(head.is_connect);
  EXPECT_EQ(head.target, "example.com:443");
  EXPECT_EQ(head.version, "HTTP/1.1");
  EXPECT_EQ(head.version_minor, 1);
  EXPECT_EQ(head.authority, "example.com:443");
  EXPECT_EQ(head.host, "example.com");
  EXPECT_EQ(head.host_address.kind, HostKind::kName);
  EXPECT_EQ(head.port, 443);
  EXPECT_EQ(head.path, "");
  EXPECT_TRUE(head.has_proxy_authorization);
  EXPECT_EQ(head.proxy_authorization, "Basic YWxpY2VfY191czpwdw==");
  EXPECT_TRUE(head.has_host_header);
  EXPECT_EQ(head.host_header, "example.com:443");
  EXPECT_EQ(head.content_length, -1);
  ASSERT_EQ(head.header_count, 4u);
  EXPECT_EQ(head.headers[2].name, "User-Agent");
  EXPECT_EQ(head.headers[2].value, "curl/7.88.1");
  for (size_t i = 0; i < head.header_count; ++i) {
    EXPECT_TRUE(ViewInside(head.headers[i].name, parsed->bytes));
    EXPECT_TRUE(ViewInside(head.headers[i].value, parsed->bytes));
  }
}

TEST(HttpCodec, ReturnsIncompleteForEveryPrefixOfAHead) {
  for (size_t length = 0; length < kCurlConnect.size(); ++length) {
    std::unique_ptr<Parsed> parsed = Parse(kCurlConnect.substr(0, length));
    EXPECT_EQ(parsed->result.status, HttpParseStatus::kIncomplete) << length;
  }
}

TEST(HttpCodec, LeavesBytesAfterTheHeadAsEarlyData) {
  std::string bytes = std::string(kCurlConnect) + "\x16\x03\x01 early";
  std::unique_ptr<Parsed> parsed = Parse(bytes);
  ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(std::string_view(parsed->bytes).substr(parsed->result.head_length),
            "\x16\x03\x01 early");
}

TEST(HttpCodec, EnforcesMaximumHeadSize) {
  std::unique_ptr<Parsed> exact = Parse(kCurlConnect, kCurlConnect.size());
  EXPECT_EQ(exact->result.status, HttpParseStatus::kComplete);

  std::unique_ptr<Parsed> over = Parse(kCurlConnect, kCurlConnect.size() - 1);
  EXPECT_EQ(over->result.status, HttpParseStatus::kError);
  EXPECT_EQ(over->result.error, HttpParseError::kHeadTooLarge);

  // No end of head at all: incomplete below the limit, too large once the limit is reached.
  std::string endless = "CONNECT example.com:443 HTTP/1.1\r\nX-Pad: ";
  endless.append(100, 'a');
  EXPECT_EQ(Parse(endless, endless.size() + 1)->result.status, HttpParseStatus::kIncomplete);
  EXPECT_EQ(Parse(endless, endless.size())->result.error, HttpParseError::kHeadTooLarge);
}

TEST(HttpCodec, ParsesBracketedIpv6Authority) {
  std::unique_ptr<Parsed> parsed = Parse("CONNECT [2001:db8::7]:8443 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(parsed->head.host, "2001:db8::7");
  EXPECT_EQ(parsed->head.host_address.kind, HostKind::kIpv6);
  EXPECT_EQ(parsed->head.host_address.address[3], 0xb8);
  EXPECT_EQ(parsed->head.host_address.address[15], 7);
  EXPECT_EQ(parsed->head.port, 8443);
}

TEST(HttpCodec, ParsesIpv4Authority) {
  std::unique_ptr<Parsed> parsed = Parse("CONNECT 127.0.0.2:80 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(parsed->head.host, "127.0.0.2");
  EXPECT_EQ(parsed->head.host_address.kind, HostKind::kIpv4);
  EXPECT_EQ(parsed->head.host_address.address[3], 2);
}

struct TargetCase {
  const char* request_line;
  HttpParseError error;
};

TEST(HttpCodec, RejectsBadTargetsWithExactError) {
  const TargetCase kCases[] = {
      {"CONNECT example.com HTTP/1.1", HttpParseError::kBadPort},
      {"CONNECT example.com: HTTP/1.1", HttpParseError::kBadPort},
      {"CONNECT example.com:0 HTTP/1.1", HttpParseError::kBadPort},
      {"CONNECT example.com:65536 HTTP/1.1", HttpParseError::kBadPort},
      {"CONNECT example.com:0443 HTTP/1.1", HttpParseError::kBadPort},
      {"CONNECT example.com:44x HTTP/1.1", HttpParseError::kBadPort},
      {"CONNECT [::1] HTTP/1.1", HttpParseError::kBadPort},
      {"CONNECT ::1:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT [::1:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT [::g]:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT [::1]x:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT [fe80::1%25eth0]:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT :443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT 127.1:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT 0x7f000001:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT exa_mple..com:443 HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT user@example.com:443 HTTP/1.1", HttpParseError::kUserinfoInTarget},
      {"CONNECT http://example.com:80/ HTTP/1.1", HttpParseError::kBadHost},
      {"CONNECT /index.html HTTP/1.1", HttpParseError::kBadHost},
      {"GET / HTTP/1.1", HttpParseError::kOriginFormTarget},
      {"OPTIONS * HTTP/1.1", HttpParseError::kBadTarget},
      {"GET example.com:80 HTTP/1.1", HttpParseError::kBadTarget},
      {"GET ftp://example.com/ HTTP/1.1", HttpParseError::kBadTarget},
      {"GET http://example.com/#top HTTP/1.1", HttpParseError::kBadTarget},
      {"GET https://example.com/ HTTP/1.1", HttpParseError::kHttpsAbsoluteForm},
      {"GET HTTPS://example.com/ HTTP/1.1", HttpParseError::kHttpsAbsoluteForm},
      {"GET http://user:pw@example.com/ HTTP/1.1", HttpParseError::kUserinfoInTarget},
      {"GET http:///path HTTP/1.1", HttpParseError::kBadHost},
      {"GET http://example.com:/ HTTP/1.1", HttpParseError::kBadPort},
      {"GET http://exa%6dple.com/ HTTP/1.1", HttpParseError::kBadHost},
      {"GET http://example.com/\x80 HTTP/1.1", HttpParseError::kBadTarget},
  };
  for (const TargetCase& test : kCases) {
    std::string head = std::string(test.request_line) + "\r\n\r\n";
    std::unique_ptr<Parsed> parsed = Parse(head);
    ASSERT_EQ(parsed->result.status, HttpParseStatus::kError) << test.request_line;
    EXPECT_EQ(parsed->result.error, test.error) << test.request_line;
    EXPECT_EQ(parsed->result.offending, parsed->head.target) << test.request_line;
  }
}

TEST(HttpCodec, ParsesAbsoluteFormTargets) {
  struct Case {
    const char* target;
    const char* host;
    uint16_t port;
    const char* path;
  };
  const Case kCases[] = {
      {"http://example.com/a/b?c=d", "example.com", 80, "/a/b?c=d"},
      {"http://example.com", "example.com", 80, ""},
      {"http://example.com?q", "example.com", 80, "?q"},
      {"HTTP://Example.COM:8080/", "Example.COM", 8080, "/"},
      {"http://[::1]:81/x", "::1", 81, "/x"},
      {"http://10.0.0.1/", "10.0.0.1", 80, "/"},
  };
  for (const Case& test : kCases) {
    std::string head = std::string("GET ") + test.target + " HTTP/1.1\r\n\r\n";
    std::unique_ptr<Parsed> parsed = Parse(head);
    ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete) << test.target;
    EXPECT_FALSE(parsed->head.is_connect);
    EXPECT_EQ(parsed->head.host, test.host) << test.target;
    EXPECT_EQ(parsed->head.port, test.port) << test.target;
    EXPECT_EQ(parsed->head.path, test.path) << test.target;
  }
}

TEST(HttpCodec, RejectsMalformedRequestLines) {
  EXPECT_EQ(ErrorOf("CONNECT  example.com:443 HTTP/1.1\r\n\r\n"), HttpParseError::kBadRequestLine);
  EXPECT_EQ(ErrorOf(" CONNECT example.com:443 HTTP/1.1\r\n\r\n"), HttpParseError::kBadRequestLine);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443\r\n\r\n"), HttpParseError::kBadRequestLine);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/1.1 \r\n\r\n"), HttpParseError::kBadRequestLine);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 http/1.1\r\n\r\n"), HttpParseError::kBadRequestLine);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/11\r\n\r\n"), HttpParseError::kBadRequestLine);
  EXPECT_EQ(ErrorOf("\r\n\r\n"), HttpParseError::kBadRequestLine);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/1.2\r\n\r\n"),
            HttpParseError::kUnsupportedVersion);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/2.0\r\n\r\n"),
            HttpParseError::kUnsupportedVersion);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/0.9\r\n\r\n"),
            HttpParseError::kUnsupportedVersion);
  EXPECT_EQ(ErrorOf("CONN(ECT example.com:443 HTTP/1.1\r\n\r\n"), HttpParseError::kBadMethod);
  EXPECT_EQ(ErrorOf("CONNECT\texample.com:443 HTTP/1.1\r\n\r\n"), HttpParseError::kBadRequestLine);
  // Methods are case-sensitive: `connect` is some other method, so it needs absolute-form.
  EXPECT_EQ(ErrorOf("connect example.com:443 HTTP/1.1\r\n\r\n"), HttpParseError::kBadTarget);
}

TEST(HttpCodec, RejectsLineBreaksOtherThanCrlf) {
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/1.1\nHost: a\r\n\r\n"),
            HttpParseError::kBareLineBreak);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/1.1\r\n\n"), HttpParseError::kBareLineBreak);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/1.1\r\r\n\r\n"), HttpParseError::kBareLineBreak);
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/1.1\r\nX-A: b\rc\r\n\r\n"),
            HttpParseError::kBareLineBreak);
  EXPECT_EQ(ErrorOf("\n"), HttpParseError::kBareLineBreak);
  // A bare LF is reported as soon as it arrives, before the head is complete.
  EXPECT_EQ(ErrorOf("CONNECT example.com:443 HTTP/1.1\nHost"), HttpParseError::kBareLineBreak);
}

TEST(HttpCodec, RejectsMalformedHeaderLines) {
  const std::string kLine = "CONNECT example.com:443 HTTP/1.1\r\n";
  EXPECT_EQ(ErrorOf(kLine + "Host : a\r\n\r\n"), HttpParseError::kBadHeaderName);
  EXPECT_EQ(ErrorOf(kLine + ": a\r\n\r\n"), HttpParseError::kBadHeaderName);
  EXPECT_EQ(ErrorOf(kLine + "NoColon\r\n\r\n"), HttpParseError::kBadHeaderName);
  EXPECT_EQ(ErrorOf(kLine + "Bad(Name): a\r\n\r\n"), HttpParseError::kBadHeaderName);
  EXPECT_EQ(ErrorOf(kLine + "X-A: a\r\n b\r\n\r\n"), HttpParseError::kObsFold);
  EXPECT_EQ(ErrorOf(kLine + "X-A: a\r\n\tb\r\n\r\n"), HttpParseError::kObsFold);
  EXPECT_EQ(ErrorOf(kLine + std::string("X-A: a\0b\r\n\r\n", 12)), HttpParseError::kBadHeaderValue);
  EXPECT_EQ(ErrorOf(kLine + "X-A: a\x7f\r\n\r\n"), HttpParseError::kBadHeaderValue);
  EXPECT_EQ(ErrorOf(kLine + "X-A: a\x01\r\n\r\n"), HttpParseError::kBadHeaderValue);
  EXPECT_EQ(ErrorOf(kLine + "Host: a\r\nhost: b\r\n\r\n"), HttpParseError::kDuplicateHost);
  EXPECT_EQ(ErrorOf(kLine + "Proxy-Authorization: a\r\nProxy-authorization: a\r\n\r\n"),
            HttpParseError::kDuplicateProxyAuthorization);
}

TEST(HttpCodec, NamesTheOffendingHeaderLine) {
  std::string bytes = "CONNECT example.com:443 HTTP/1.1\r\nOk: 1\r\nBad Name: 2\r\n\r\n";
  std::unique_ptr<Parsed> parsed = Parse(bytes);
  ASSERT_EQ(parsed->result.error, HttpParseError::kBadHeaderName);
  EXPECT_EQ(parsed->result.offending, "Bad Name: 2");
  EXPECT_TRUE(ViewInside(parsed->result.offending, parsed->bytes));
}

TEST(HttpCodec, TrimsHeaderValuesAndKeepsInnerBytes) {
  std::string bytes =
      "CONNECT example.com:443 HTTP/1.1\r\n"
      "X-A:  \t inner\tspace  \t\r\n"
      "X-Empty:\r\n"
      "X-Utf8: caf\xc3\xa9\r\n"
      "\r\n";
  std::unique_ptr<Parsed> parsed = Parse(bytes);
  ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete);
  ASSERT_EQ(parsed->head.header_count, 3u);
  EXPECT_EQ(parsed->head.headers[0].value, "inner\tspace");
  EXPECT_EQ(parsed->head.headers[1].value, "");
  EXPECT_EQ(parsed->head.headers[2].value, "caf\xc3\xa9");
}

TEST(HttpCodec, LimitsHeaderCount) {
  std::string bytes = "CONNECT example.com:443 HTTP/1.1\r\n";
  for (size_t i = 0; i < kMaxHttpHeaders; ++i) {
    bytes += "X-H: " + std::to_string(i) + "\r\n";
  }
  std::unique_ptr<Parsed> full = Parse(bytes + "\r\n");
  ASSERT_EQ(full->result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(full->head.header_count, kMaxHttpHeaders);
  EXPECT_EQ(full->head.headers[kMaxHttpHeaders - 1].value, "99");

  EXPECT_EQ(ErrorOf(bytes + "X-H: one too many\r\n\r\n"), HttpParseError::kTooManyHeaders);
}

TEST(HttpCodec, GuardsAgainstRequestSmuggling) {
  const std::string kLine = "POST http://example.com/ HTTP/1.1\r\n";
  std::unique_ptr<Parsed> plain = Parse(kLine + "Content-Length: 0042\r\n\r\n");
  ASSERT_EQ(plain->result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(plain->head.content_length, 42);

  std::unique_ptr<Parsed> chunked = Parse(kLine + "Transfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(chunked->result.status, HttpParseStatus::kComplete);
  EXPECT_TRUE(chunked->head.has_transfer_encoding);
  EXPECT_EQ(chunked->head.transfer_encoding, "chunked");

  EXPECT_EQ(ErrorOf(kLine + "Content-Length: 1\r\nContent-Length: 1\r\n\r\n"),
            HttpParseError::kDuplicateContentLength);
  EXPECT_EQ(ErrorOf(kLine + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            HttpParseError::kContentLengthWithTransferEncoding);
  EXPECT_EQ(ErrorOf(kLine + "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"),
            HttpParseError::kContentLengthWithTransferEncoding);
  EXPECT_EQ(ErrorOf(kLine + "Content-Length: -1\r\n\r\n"), HttpParseError::kBadContentLength);
  EXPECT_EQ(ErrorOf(kLine + "Content-Length: +1\r\n\r\n"), HttpParseError::kBadContentLength);
  EXPECT_EQ(ErrorOf(kLine + "Content-Length: 1 1\r\n\r\n"), HttpParseError::kBadContentLength);
  EXPECT_EQ(ErrorOf(kLine + "Content-Length: 0x10\r\n\r\n"), HttpParseError::kBadContentLength);
  EXPECT_EQ(ErrorOf(kLine + "Content-Length: 9999999999999999999\r\n\r\n"),
            HttpParseError::kBadContentLength);
  std::unique_ptr<Parsed> big = Parse(kLine + "Content-Length: 999999999999999999\r\n\r\n");
  ASSERT_EQ(big->result.status, HttpParseStatus::kComplete);
  EXPECT_EQ(big->head.content_length, 999999999999999999);
}

// Metadata `# expect: error kName` names an enumerator; the test needs the reverse mapping.
HttpParseError ErrorByName(const std::string& name) {
  const std::pair<const char*, HttpParseError> kNames[] = {
      {"kHeadTooLarge", HttpParseError::kHeadTooLarge},
      {"kBareLineBreak", HttpParseError::kBareLineBreak},
      {"kBadRequestLine", HttpParseError::kBadRequestLine},
      {"kBadMethod", HttpParseError::kBadMethod},
      {"kUnsupportedVersion", HttpParseError::kUnsupportedVersion},
      {"kBadTarget", HttpParseError::kBadTarget},
      {"kOriginFormTarget", HttpParseError::kOriginFormTarget},
      {"kHttpsAbsoluteForm", HttpParseError::kHttpsAbsoluteForm},
      {"kUserinfoInTarget", HttpParseError::kUserinfoInTarget},
      {"kBadHost", HttpParseError::kBadHost},
      {"kBadPort", HttpParseError::kBadPort},
      {"kBadHeaderName", HttpParseError::kBadHeaderName},
      {"kBadHeaderValue", HttpParseError::kBadHeaderValue},
      {"kObsFold", HttpParseError::kObsFold},
      {"kTooManyHeaders", HttpParseError::kTooManyHeaders},
      {"kDuplicateHost", HttpParseError::kDuplicateHost},
      {"kDuplicateProxyAuthorization", HttpParseError::kDuplicateProxyAuthorization},
      {"kDuplicateContentLength", HttpParseError::kDuplicateContentLength},
      {"kBadContentLength", HttpParseError::kBadContentLength},
      {"kContentLengthWithTransferEncoding", HttpParseError::kContentLengthWithTransferEncoding},
      {"kConnectionNamesFramingHeader", HttpParseError::kConnectionNamesFramingHeader},
  };
  for (const auto& [candidate, error] : kNames) {
    if (name == candidate) {
      return error;
    }
  }
  ADD_FAILURE() << "unknown error name " << name;
  return HttpParseError::kNone;
}

TEST(HttpCodec, ReplaysCaseFiles) {
  std::vector<std::string> paths = testing::ListCaseFiles("tests/net/cases/http", ".head");
  ASSERT_GE(paths.size(), 15u);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    testing::CaseFile file = testing::ReadCaseFile(path, "\r\n");
    std::string early_data = testing::Unescape(file.metadata["early-data"]);
    std::string bytes = file.bytes + early_data;
    std::unique_ptr<Parsed> parsed = Parse(bytes);

    const std::string& expect = file.metadata["expect"];
    if (expect == "complete") {
      ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete)
          << HttpParseErrorText(parsed->result.error) << ": " << parsed->result.offending;
      EXPECT_EQ(parsed->result.head_length, file.bytes.size());
      EXPECT_EQ(std::string_view(bytes).substr(parsed->result.head_length), early_data);
      if (file.metadata.count("host") > 0) {
        EXPECT_EQ(parsed->head.host, file.metadata["host"]);
      }
      if (file.metadata.count("port") > 0) {
        EXPECT_EQ(parsed->head.port, std::stoi(file.metadata["port"]));
      }
    } else {
      ASSERT_EQ(expect.rfind("error ", 0), 0u) << "bad expect line: " << expect;
      ASSERT_EQ(parsed->result.status, HttpParseStatus::kError);
      EXPECT_EQ(parsed->result.error, ErrorByName(expect.substr(6)))
          << HttpParseErrorText(parsed->result.error);
    }
  }
}

TEST(HttpCodec, ParsesWithoutAllocating) {
  auto head = std::make_unique<HttpRequestHead>();
  char scratch[256];
  std::string_view user;
  std::string_view password;
  char reply[kMaxHttpErrorReplyBytes];

  ASSERT_TRUE(testing::AllocationCounterIsLive());
  uint64_t before = testing::AllocationCount();
  HttpParseResult result = ParseHttpRequestHead(kCurlConnect, kMaxHead, head.get());
  bool decoded =
      DecodeBasicCredentials(head->proxy_authorization, scratch, sizeof(scratch), &user, &password);
  HttpParseResult error = ParseHttpRequestHead("GET / HTTP/1.1\r\n\r\n", kMaxHead, head.get());
  size_t reply_length =
      WriteHttpErrorReply(ErrorToken::kAuthFailed, "wrong password", true, reply, sizeof(reply));
  uint64_t allocations = testing::AllocationCount() - before;

  EXPECT_EQ(result.status, HttpParseStatus::kComplete);
  EXPECT_TRUE(decoded);
  EXPECT_EQ(error.status, HttpParseStatus::kError);
  EXPECT_GT(reply_length, 0u);
  EXPECT_EQ(allocations, 0u);
}

// --- Basic credentials ----------------------------------------------------------------------

struct Credentials {
  bool ok = false;
  std::string user;
  std::string password;
};

Credentials Decode(std::string_view value, size_t scratch_size = 512) {
  std::vector<char> scratch(scratch_size + 1);
  Credentials credentials;
  std::string_view user;
  std::string_view password;
  credentials.ok = DecodeBasicCredentials(value, scratch.data(), scratch_size, &user, &password);
  if (credentials.ok) {
    credentials.user = std::string(user);
    credentials.password = std::string(password);
  }
  return credentials;
}

TEST(HttpCodec, DecodesBasicCredentials) {
  Credentials alice = Decode("Basic YWxpY2VfY191czpwdw==");  // alice_c_us:pw
  ASSERT_TRUE(alice.ok);
  EXPECT_EQ(alice.user, "alice_c_us");
  EXPECT_EQ(alice.password, "pw");

  Credentials any_case = Decode("bAsIc   YWxpY2VfY191czpwdw==");
  ASSERT_TRUE(any_case.ok);
  EXPECT_EQ(any_case.user, "alice_c_us");
}

TEST(HttpCodec, SplitsBasicCredentialsAtFirstColon) {
  Credentials colons = Decode("Basic YWxpY2U6cDp3Ojo=");  // alice:p:w::
  ASSERT_TRUE(colons.ok);
  EXPECT_EQ(colons.user, "alice");
  EXPECT_EQ(colons.password, "p:w::");

  Credentials empty_password = Decode("Basic YWxpY2U6");  // alice:
  ASSERT_TRUE(empty_password.ok);
  EXPECT_EQ(empty_password.user, "alice");
  EXPECT_EQ(empty_password.password, "");

  Credentials empty_user = Decode("Basic OnB3");  // :pw
  ASSERT_TRUE(empty_user.ok);
  EXPECT_EQ(empty_user.user, "");
  EXPECT_EQ(empty_user.password, "pw");
}

TEST(HttpCodec, AcceptsUnpaddedBase64AndUtf8) {
  Credentials unpadded = Decode("Basic YWxpY2U6cA");  // alice:p
  ASSERT_TRUE(unpadded.ok);
  EXPECT_EQ(unpadded.password, "p");

  Credentials utf8 = Decode("Basic w6lsaWU6cMOp");  // élie:pé
  ASSERT_TRUE(utf8.ok);
  EXPECT_EQ(utf8.user, "\xc3\xa9lie");
  EXPECT_EQ(utf8.password, "p\xc3\xa9");
}

TEST(HttpCodec, RejectsMalformedBasicCredentials) {
  for (const char* value : {
           "",                      // nothing
           "Basic",                 // no credentials
           "Basic ",                // empty credentials
           "BasicYWxpY2U6cA==",     // no space after the scheme
           "Bearer YWxpY2U6cA==",   // another scheme
           "Basic YWxpY2U=",        // alice: no colon
           "Basic YWxpY2U6cA=",     // wrong padding
           "Basic YWxpY2U6cA===",   // too much padding
           "Basic YWxpY2U6c",       // length 4n+1
           "Basic YWxpY2U6cB==",    // non-zero unused bits
           "Basic YWxp Y2U6cA==",   // space inside
           "Basic YWxpY2U6cA== ",   // trailing space
           "Basic YWxpY2U6cA==\t",  // trailing tab
           "Basic YWxp-2U6cA==",    // URL-safe alphabet
           "Basic YWxp=Y2U6cA==",   // padding inside
           "Basic YWxpY2UAOnA=",    // NUL in user: alice\0:p
           "Basic YWxpY2U6cAo=",    // LF in password: alice:p\n
       }) {
    EXPECT_FALSE(Decode(value).ok) << value;
  }
}

TEST(HttpCodec, RefusesBasicCredentialsLargerThanScratch) {
  EXPECT_FALSE(Decode("Basic YWxpY2U6cA==", 6).ok);  // alice:p is 7 bytes
  EXPECT_TRUE(Decode("Basic YWxpY2U6cA==", 7).ok);
}

// --- Replies ----------------------------------------------------------------------------------

std::string ErrorReply(ErrorToken token, std::string_view details, bool proxy_status = true) {
  char out[kMaxHttpErrorReplyBytes];
  size_t length = WriteHttpErrorReply(token, details, proxy_status, out, sizeof(out));
  return std::string(out, length);
}

TEST(HttpCodec, WritesAuthFailedReply) {
  EXPECT_EQ(ErrorReply(ErrorToken::kAuthFailed, "wrong password for alice"),
            "HTTP/1.1 407 Proxy Authentication Required\r\n"
            "Proxy-Authenticate: Basic realm=\"strait\"\r\n"
            "Proxy-Status: strait; error=http_request_denied; "
            "details=\"auth_failed: wrong password for alice\"\r\n"
            "Content-Length: 0\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(HttpCodec, WritesErrorReplyWithoutDetails) {
  EXPECT_EQ(ErrorReply(ErrorToken::kTargetTimeout, ""),
            "HTTP/1.1 504 Gateway Timeout\r\n"
            "Proxy-Status: strait; error=connection_timeout; details=\"target_timeout\"\r\n"
            "Content-Length: 0\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(HttpCodec, WritesErrorReplyWithoutProxyStatus) {
  EXPECT_EQ(ErrorReply(ErrorToken::kAuthRequired, "ignored", false),
            "HTTP/1.1 407 Proxy Authentication Required\r\n"
            "Proxy-Authenticate: Basic realm=\"strait\"\r\n"
            "Content-Length: 0\r\n"
            "Connection: close\r\n"
            "\r\n");
  EXPECT_THAT(ErrorReply(ErrorToken::kNoExit, "c=gb", false), Not(HasSubstr("Proxy-Status")));
}

TEST(HttpCodec, EscapesDetailsAsStructuredFieldString) {
  constexpr char kDetails[] = "bad \"c\" \\ value\r\n\x01\0\x7f\xc3\xa9!";
  std::string reply =
      ErrorReply(ErrorToken::kBadRouting, std::string_view(kDetails, sizeof(kDetails) - 1));
  EXPECT_THAT(reply, HasSubstr("details=\"bad_routing: bad \\\"c\\\" \\\\ value!\"\r\n"));
}

TEST(HttpCodec, CapsDetailsLength) {
  std::string long_details(1000, 'x');
  std::string reply = ErrorReply(ErrorToken::kNoExit, long_details);
  EXPECT_THAT(reply, HasSubstr("details=\"no_exit: " + std::string(kMaxProxyStatusDetails, 'x') +
                               "\"\r\n"));
  EXPECT_THAT(reply, Not(HasSubstr(std::string(kMaxProxyStatusDetails + 1, 'x'))));
}

TEST(HttpCodec, ErrorReplyFitsItsBoundForEveryToken) {
  std::string worst(kMaxProxyStatusDetails, '"');  // every byte escaped
  for (const ErrorTokenRow& row : kErrorTokenTable) {
    if (row.token == ErrorToken::kNone) {
      continue;
    }
    EXPECT_GT(ErrorReply(row.token, worst).size(), 2 * kMaxProxyStatusDetails) << row.reason_token;
    std::string reply = ErrorReply(row.token, "x");
    EXPECT_THAT(reply, HasSubstr(std::string("error=") + std::string(row.proxy_status_error)));
    EXPECT_EQ(reply.rfind("HTTP/1.1 " + std::to_string(row.http.code) + " ", 0), 0u);
  }
}

TEST(HttpCodec, WritesNoErrorReplyForSuccess) {
  char out[kMaxHttpErrorReplyBytes];
  EXPECT_EQ(WriteHttpErrorReply(ErrorToken::kNone, "", true, out, sizeof(out)), 0u);
}

TEST(HttpCodec, WritesNothingWhenReplyDoesNotFit) {
  std::string full = ErrorReply(ErrorToken::kAuthFailed, "details");
  std::vector<char> out(full.size() + 8, '#');
  for (size_t cap = 0; cap < full.size(); ++cap) {
    EXPECT_EQ(WriteHttpErrorReply(ErrorToken::kAuthFailed, "details", true, out.data(), cap), 0u);
    EXPECT_EQ(out[cap], '#') << "wrote past cap " << cap;
  }
  EXPECT_EQ(WriteHttpErrorReply(ErrorToken::kAuthFailed, "details", true, out.data(), full.size()),
            full.size());
}

std::string Established(std::string_view exit_id, bool moved, bool proxy_status = true) {
  char out[MaxConnectEstablishedBytes(64)];
  size_t length = WriteHttpConnectEstablished(exit_id, moved, proxy_status, out, sizeof(out));
  return std::string(out, length);
}

TEST(HttpCodec, WritesConnectEstablishedWithExitAsToken) {
  EXPECT_EQ(Established("us-charlotte-1", false),
            "HTTP/1.1 200 Connection established\r\n"
            "Proxy-Status: strait; next-hop=us-charlotte-1\r\n"
            "\r\n");
  EXPECT_EQ(Established("gb-london-2", true),
            "HTTP/1.1 200 Connection established\r\n"
            "Proxy-Status: strait; next-hop=gb-london-2; details=\"session_moved\"\r\n"
            "\r\n");
}

TEST(HttpCodec, WritesExitIdThatIsNoTokenAsString) {
  EXPECT_THAT(Established("17", false), HasSubstr("; next-hop=\"17\"\r\n"));
  EXPECT_THAT(Established("exit \"a\"", false), HasSubstr("; next-hop=\"exit \\\"a\\\"\"\r\n"));
  EXPECT_THAT(Established("127.0.0.2", false), HasSubstr("; next-hop=\"127.0.0.2\"\r\n"));
  EXPECT_THAT(Established("*star/x:1", false), HasSubstr("; next-hop=*star/x:1\r\n"));
}

TEST(HttpCodec, WritesConnectEstablishedWithoutProxyStatus) {
  EXPECT_EQ(Established("us-1", true, false), "HTTP/1.1 200 Connection established\r\n\r\n");
  EXPECT_EQ(Established("", false),
            "HTTP/1.1 200 Connection established\r\nProxy-Status: strait\r\n\r\n");
}

TEST(HttpCodec, ConnectEstablishedFitsItsBound) {
  std::string worst(64, '"');
  EXPECT_GT(Established(worst, true).size(), 128u);
  char small[10];
  EXPECT_EQ(WriteHttpConnectEstablished("us-1", false, true, small, sizeof(small)), 0u);
}

// --- Forwarded requests -----------------------------------------------------------------------

std::string Forward(std::string_view bytes) {
  auto parsed = Parse(bytes);
  EXPECT_EQ(parsed->result.status, HttpParseStatus::kComplete)
      << HttpParseErrorText(parsed->result.error);
  std::vector<char> out(MaxForwardedHeadBytes(parsed->result.head_length));
  size_t length = WriteForwardedRequestHead(parsed->head, out.data(), out.size());
  EXPECT_GT(length, 0u);
  return std::string(out.data(), length);
}

TEST(HttpCodec, ForwardsAbsoluteFormAsOriginFormWithoutProxyHeaders) {
  EXPECT_EQ(Forward("GET http://example.com:8080/a?b HTTP/1.1\r\n"
                    "Host: wrong.example\r\n"
                    "User-Agent: curl/7.88.1\r\n"
                    "Proxy-Authorization: Basic YWxpY2U6cA==\r\n"
                    "Proxy-Connection: Keep-Alive\r\n"
                    "Accept:*/*\r\n"
                    "\r\n"),
            "GET /a?b HTTP/1.1\r\n"
            "Host: example.com:8080\r\n"
            "User-Agent: curl/7.88.1\r\n"
            "Accept: */*\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(HttpCodec, DropsHopByHopHeadersAndThoseConnectionNames) {
  EXPECT_EQ(Forward("POST http://example.com HTTP/1.0\r\n"
                    "Connection: keep-alive, X-Secret ,x-other\r\n"
                    "connection: Upgrade\r\n"
                    "Keep-Alive: timeout=5\r\n"
                    "TE: trailers\r\n"
                    "Upgrade: websocket\r\n"
                    "Proxy-Authenticate: Basic\r\n"
                    "X-Secret: 1\r\n"
                    "X-Other: 2\r\n"
                    "X-Kept: 3\r\n"
                    "Transfer-Encoding: chunked\r\n"
                    "Trailer: X-Checksum\r\n"
                    "\r\n"),
            "POST / HTTP/1.0\r\n"
            "Host: example.com\r\n"
            "X-Kept: 3\r\n"
            "Transfer-Encoding: chunked\r\n"
            "Trailer: X-Checksum\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(HttpCodec, NeverForwardsConnect) {
  auto parsed = Parse(kCurlConnect);
  ASSERT_EQ(parsed->result.status, HttpParseStatus::kComplete);
  char out[1024];
  EXPECT_EQ(WriteForwardedRequestHead(parsed->head, out, sizeof(out)), 0u);
}

TEST(HttpCodec, ForwardsQueryOnlyTargetWithRootPath) {
  EXPECT_THAT(Forward("GET http://[::1]?q=1 HTTP/1.1\r\n\r\n"),
              HasSubstr("GET /?q=1 HTTP/1.1\r\nHost: [::1]\r\n"));
}

TEST(HttpCodec, ForwardedHeadFitsItsBoundInTheWorstCase) {
  // Shortest possible header lines grow by one byte each; the request line by two.
  std::string bytes = "GET http://a HTTP/1.1\r\n";
  for (size_t i = 0; i < kMaxHttpHeaders; ++i) {
    bytes += "a:b\r\n";
  }
  bytes += "\r\n";
  std::string forwarded = Forward(bytes);
  EXPECT_EQ(forwarded.size(), bytes.size() + 2 + kMaxHttpHeaders + 19);

  auto parsed = Parse(bytes);
  std::vector<char> out(forwarded.size() - 1);
  EXPECT_EQ(WriteForwardedRequestHead(parsed->head, out.data(), out.size()), 0u);
}

}  // namespace
}  // namespace strait::net
