// Protocol codecs on the handshake path: what one new tunnel costs to parse.
//
//   bazel run --config=opt //bench/net:codec_benchmark
//
// Each codec is measured against a baseline in the same run: the HTTP head against the usual
// std::string / std::istringstream / std::map parser, the SOCKS5 handshake against one that
// copies each field into owning strings, PROXY v1 against sscanf + inet_pton, and PROXY v2
// against v1 (what the binary format saves). `allocs_per_iter` counts operator new calls, so
// "allocates nothing" is measured, not claimed. Figures: bench/README.md, "Protocol codecs".

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include "benchmark/benchmark.h"
#include "net/http_codec.h"
#include "net/proxy_protocol.h"
#include "net/socks5_codec.h"
#include "tests/testing/allocation_counter.h"

namespace strait::net {
namespace {

// What curl sends through a proxy with a routing string in the user name.
constexpr std::string_view kConnectHead =
    "CONNECT www.example.com:443 HTTP/1.1\r\n"
    "Host: www.example.com:443\r\n"
    "Proxy-Authorization: Basic YWxpY2VfY191c19jaXR5X2NoYXJsb3R0ZV9zX2FiYzEyMzpzZWNyZXQ=\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

// Reports allocations per iteration; call once after the timing loop.
class AllocationScope {
 public:
  AllocationScope() : before_(testing::AllocationCount()) {}
  void Report(benchmark::State& state) const {
    state.counters["allocs_per_iter"] =
        benchmark::Counter(static_cast<double>(testing::AllocationCount() - before_),
                           benchmark::Counter::kAvgIterations);
  }

 private:
  uint64_t before_;
};

void BM_HttpParseConnectHead(benchmark::State& state) {
  HttpRequestHead head;
  char scratch[256];
  AllocationScope allocations;
  for (auto _ : state) {
    HttpParseResult result = ParseHttpRequestHead(kConnectHead, 8192, &head);
    std::string_view user;
    std::string_view password;
    bool ok = DecodeBasicCredentials(head.proxy_authorization, scratch, sizeof(scratch), &user,
                                     &password);
    benchmark::DoNotOptimize(result);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(user.data());
  }
  allocations.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kConnectHead.size()));
}
BENCHMARK(BM_HttpParseConnectHead);

// Baseline: the parser people write first. Splits lines with getline, keeps lower-cased header
// names in a std::map, decodes base64 into a std::string.
struct NaiveHead {
  std::string method, target, version, host, user, password;
  int port = 0;
  std::map<std::string, std::string> headers;
};

std::string NaiveBase64Decode(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0;
  int value = 0;
  for (char c : text) {
    size_t index = kAlphabet.find(c);
    if (index == std::string::npos) {
      break;
    }
    value = (value << 6) | static_cast<int>(index);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return out;
}

bool NaiveParse(const std::string& bytes, NaiveHead* head) {
  size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) {
    return false;
  }
  std::istringstream stream(bytes.substr(0, end));
  std::string line;
  std::getline(stream, line);
  line.erase(line.find_last_not_of('\r') + 1);
  std::istringstream request_line(line);
  request_line >> head->method >> head->target >> head->version;
  size_t colon = head->target.rfind(':');
  head->host = head->target.substr(0, colon);
  head->port = std::stoi(head->target.substr(colon + 1));
  while (std::getline(stream, line)) {
    line.erase(line.find_last_not_of('\r') + 1);
    size_t separator = line.find(':');
    std::string name = line.substr(0, separator);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(separator + 1);
    value.erase(0, value.find_first_not_of(' '));
    head->headers[name] = value;
  }
  std::string authorization = head->headers["proxy-authorization"];
  std::string decoded = NaiveBase64Decode(authorization.substr(authorization.find(' ') + 1));
  size_t split = decoded.find(':');
  head->user = decoded.substr(0, split);
  head->password = decoded.substr(split + 1);
  return true;
}

void BM_HttpParseConnectHeadNaive(benchmark::State& state) {
  std::string bytes(kConnectHead);
  AllocationScope allocations;
  for (auto _ : state) {
    NaiveHead head;
    bool ok = NaiveParse(bytes, &head);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(head.user.data());
  }
  allocations.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kConnectHead.size()));
}
BENCHMARK(BM_HttpParseConnectHeadNaive);

void BM_HttpWriteErrorReply(benchmark::State& state) {
  char out[kMaxHttpErrorReplyBytes];
  AllocationScope allocations;
  for (auto _ : state) {
    size_t length = WriteHttpErrorReply(ErrorToken::kNoExit, "c=gb city=london: no healthy exit",
                                        true, out, sizeof(out));
    benchmark::DoNotOptimize(length);
    benchmark::ClobberMemory();
  }
  allocations.Report(state);
}
BENCHMARK(BM_HttpWriteErrorReply);

// Greeting (user/pass and no-auth offered), authentication, CONNECT to a domain: one write.
std::string Socks5Handshake() {
  std::string bytes("\x05\x02\x00\x02", 4);
  std::string user = "alice_c_us_city_charlotte_s_abc123";
  std::string password = "secret";
  bytes += '\x01';
  bytes += static_cast<char>(user.size());
  bytes += user;
  bytes += static_cast<char>(password.size());
  bytes += password;
  std::string host = "www.example.com";
  bytes += std::string("\x05\x01\x00\x03", 4);
  bytes += static_cast<char>(host.size());
  bytes += host;
  bytes += std::string("\x01\xbb", 2);
  return bytes;
}

void BM_Socks5ParseHandshake(benchmark::State& state) {
  std::string stream = Socks5Handshake();
  AllocationScope allocations;
  for (auto _ : state) {
    std::string_view bytes = stream;
    Socks5Greeting greeting;
    Socks5Credentials credentials;
    Socks5Request request;
    Socks5ParseResult result = ParseSocks5Greeting(bytes, false, &greeting);
    bytes.remove_prefix(result.consumed);
    result = ParseSocks5Auth(bytes, &credentials);
    bytes.remove_prefix(result.consumed);
    result = ParseSocks5Request(bytes, &request);
    benchmark::DoNotOptimize(result);
    benchmark::DoNotOptimize(request.port);
    benchmark::DoNotOptimize(credentials.user.data());
  }
  allocations.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_Socks5ParseHandshake);

// Baseline: the same three messages read into owning strings, no host validation.
void BM_Socks5ParseHandshakeCopying(benchmark::State& state) {
  std::string stream = Socks5Handshake();
  AllocationScope allocations;
  for (auto _ : state) {
    const auto* p = reinterpret_cast<const uint8_t*>(stream.data());
    std::string methods(reinterpret_cast<const char*>(p + 2), p[1]);
    bool user_pass = methods.find('\x02') != std::string::npos;
    p += 2 + p[1];
    std::string user(reinterpret_cast<const char*>(p + 2), p[1]);
    p += 2 + p[1];
    std::string password(reinterpret_cast<const char*>(p + 1), p[0]);
    p += 1 + p[0];
    std::string host(reinterpret_cast<const char*>(p + 5), p[4]);
    p += 5 + p[4];
    int port = p[0] << 8 | p[1];
    benchmark::DoNotOptimize(user_pass);
    benchmark::DoNotOptimize(port);
    benchmark::DoNotOptimize(host.data());
    benchmark::DoNotOptimize(password.data());
  }
  allocations.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_Socks5ParseHandshakeCopying);

// An IPv6 PROXY v2 header with one 17-byte TLV, as a cloud balancer sends it.
std::string ProxyV2Header() {
  std::string header("\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x38", 16);
  std::string block(36, '\0');
  block[0] = 0x20;
  block[1] = 0x01;
  block[15] = 1;
  block[31] = 2;
  block[32] = static_cast<char>(0xc3);
  block[33] = 0x50;
  block[34] = 0x01;
  block[35] = static_cast<char>(0xbb);
  block += std::string("\xea\x00\x0e\x01vpce-0123abcd", 17);
  return header + block;
}

constexpr std::string_view kProxyV1Line = "PROXY TCP6 2001:db8::1 2001:db8::2 50000 443\r\n";

void BM_ProxyV2Parse(benchmark::State& state) {
  std::string bytes = ProxyV2Header();
  ProxyHeader header;
  AllocationScope allocations;
  for (auto _ : state) {
    ProxyHeaderResult result = ParseProxyHeader(bytes, kDefaultMaxProxyHeaderBytes, &header);
    benchmark::DoNotOptimize(result);
    benchmark::DoNotOptimize(header.source);
  }
  allocations.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_ProxyV2Parse);

void BM_ProxyV1Parse(benchmark::State& state) {
  ProxyHeader header;
  AllocationScope allocations;
  for (auto _ : state) {
    ProxyHeaderResult result = ParseProxyHeader(kProxyV1Line, kDefaultMaxProxyHeaderBytes, &header);
    benchmark::DoNotOptimize(result);
    benchmark::DoNotOptimize(header.source);
  }
  allocations.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kProxyV1Line.size()));
}
BENCHMARK(BM_ProxyV1Parse);

// Baseline: the common C idiom, sscanf into buffers then inet_pton (which is also laxer: sscanf
// skips any whitespace and accepts leading zeros in ports).
void BM_ProxyV1ParseSscanf(benchmark::State& state) {
  std::string line(kProxyV1Line);
  AllocationScope allocations;
  for (auto _ : state) {
    char family[8];
    char source[64];
    char destination[64];
    unsigned source_port = 0;
    unsigned destination_port = 0;
    int fields = std::sscanf(line.c_str(), "PROXY %7s %63s %63s %u %u", family, source, destination,
                             &source_port, &destination_port);
    in6_addr source_address;
    in6_addr destination_address;
    bool ok = fields == 5 && inet_pton(AF_INET6, source, &source_address) == 1 &&
              inet_pton(AF_INET6, destination, &destination_address) == 1;
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(source_address);
  }
  allocations.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kProxyV1Line.size()));
}
BENCHMARK(BM_ProxyV1ParseSscanf);

}  // namespace
}  // namespace strait::net

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  if (!strait::testing::AllocationCounterIsLive()) {
    std::fprintf(stderr, "allocation counter is not in use; allocs_per_iter would be wrong\n");
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
