// Fuzz target for net/proxy_protocol.
//
// Input: bytes 0-1 (big-endian) are max_header_bytes; the rest is what the balancer sent. Checks:
// a complete header fits its version's bound, its addresses agree with `local`, and it is
// incomplete when one byte shorter.

#include <sys/socket.h>

#include <cstdint>
#include <string_view>

#include "core/check.h"
#include "net/proxy_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strait::net;
  if (size < 2) {
    return 0;
  }
  size_t max_header_bytes = size_t{data[0]} << 8 | data[1];
  std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);

  ProxyHeader header;
  ProxyHeaderResult result = ParseProxyHeader(bytes, max_header_bytes, &header);
  if (result.status == ProxyHeaderStatus::kError) {
    STRAIT_CHECK(result.error != ProxyHeaderError::kNone);
    STRAIT_CHECK(!ProxyHeaderErrorText(result.error).empty());
    return 0;
  }
  if (result.status == ProxyHeaderStatus::kIncomplete) {
    STRAIT_CHECK(bytes.size() < kMaxProxyV1Bytes || bytes[0] != 'P');
    return 0;
  }

  STRAIT_CHECK(result.consumed <= bytes.size());
  STRAIT_CHECK(header.version == 1 || header.version == 2);
  if (header.version == 1) {
    STRAIT_CHECK(result.consumed <= kMaxProxyV1Bytes);
    STRAIT_CHECK(bytes.substr(result.consumed - 2, 2) == "\r\n");
  } else {
    STRAIT_CHECK(result.consumed >= kProxyV2HeaderBytes && result.consumed <= max_header_bytes);
  }
  sa_family_t family = header.source.ss_family;
  STRAIT_CHECK(family == header.destination.ss_family);
  STRAIT_CHECK(header.local ? family == AF_UNSPEC : (family == AF_INET || family == AF_INET6));

  ProxyHeader again;
  STRAIT_CHECK(
      ParseProxyHeader(bytes.substr(0, result.consumed - 1), max_header_bytes, &again).status ==
      ProxyHeaderStatus::kIncomplete);
  return 0;
}
