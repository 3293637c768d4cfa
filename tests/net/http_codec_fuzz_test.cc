// Fuzz target for net/http_codec: the request-head parser, the Basic decoder and the writers.
//
// Input: byte 0 chooses max_head_bytes (16 + 32 * byte) and the ErrorToken for the reply
// writers; the rest is the client's bytes. Beyond "no crash, no sanitizer report" it checks the
// parser's contract: views stay inside the input, a complete head ends in CRLF CRLF within the
// limit and parses identically when cut to head_length, any shorter prefix is incomplete, the
// writers' documented bounds hold, and untrusted text never adds a line to a reply.

#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/check.h"
#include "net/http_codec.h"

namespace strait::net {
namespace {

bool Inside(std::string_view view, std::string_view buffer) {
  return view.empty() || (view.data() >= buffer.data() &&
                          view.data() + view.size() <= buffer.data() + buffer.size());
}

size_t CountLines(std::string_view text) {
  size_t lines = 0;
  for (size_t at = text.find("\r\n"); at != std::string_view::npos;
       at = text.find("\r\n", at + 2)) {
    ++lines;
  }
  return lines;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

void CheckCompleteHead(std::string_view bytes, size_t max_head, const HttpParseResult& result,
                       const HttpRequestHead& head) {
  STRAIT_CHECK(result.head_length >= 4 && result.head_length <= bytes.size());
  STRAIT_CHECK(result.head_length <= max_head);
  STRAIT_CHECK(bytes.substr(result.head_length - 4, 4) == "\r\n\r\n");
  STRAIT_CHECK(head.header_count <= kMaxHttpHeaders);
  STRAIT_CHECK(head.port != 0);
  STRAIT_CHECK(!head.host.empty());
  std::string_view parsed_head = bytes.substr(0, result.head_length);
  STRAIT_CHECK(Inside(head.method, parsed_head) && Inside(head.target, parsed_head));
  STRAIT_CHECK(Inside(head.host, parsed_head) && Inside(head.path, parsed_head));
  STRAIT_CHECK(Inside(head.proxy_authorization, parsed_head));
  for (size_t i = 0; i < head.header_count; ++i) {
    STRAIT_CHECK(Inside(head.headers[i].name, parsed_head));
    STRAIT_CHECK(Inside(head.headers[i].value, parsed_head));
    STRAIT_CHECK(head.headers[i].value.find_first_of("\r\n") == std::string_view::npos);
  }
  STRAIT_CHECK(!(head.has_transfer_encoding && head.content_length >= 0));

  // Cut at head_length: the same head; one byte less: not yet a head.
  static HttpRequestHead again;
  HttpParseResult cut = ParseHttpRequestHead(parsed_head, max_head, &again);
  STRAIT_CHECK(cut.status == HttpParseStatus::kComplete && cut.head_length == result.head_length);
  STRAIT_CHECK(again.port == head.port && again.host == head.host);
  HttpParseResult shorter =
      ParseHttpRequestHead(parsed_head.substr(0, result.head_length - 1), max_head, &again);
  STRAIT_CHECK(shorter.status == HttpParseStatus::kIncomplete);
}

void CheckCredentials(const HttpRequestHead& head) {
  if (!head.has_proxy_authorization) {
    return;
  }
  char scratch[8192];
  std::string_view user;
  std::string_view password;
  if (DecodeBasicCredentials(head.proxy_authorization, scratch, sizeof(scratch), &user,
                             &password)) {
    STRAIT_CHECK(user.find(':') == std::string_view::npos);
    STRAIT_CHECK(user.size() + 1 + password.size() <= head.proxy_authorization.size());
    STRAIT_CHECK(Inside(user, std::string_view(scratch, sizeof(scratch))));
  }
}

void CheckForwarded(const HttpParseResult& result, const HttpRequestHead& head) {
  if (head.is_connect) {
    return;
  }
  static char out[8192 + kMaxHttpHeaders + 32];
  size_t bound = MaxForwardedHeadBytes(result.head_length);
  STRAIT_CHECK(bound <= sizeof(out));
  size_t length = WriteForwardedRequestHead(head, out, bound);
  STRAIT_CHECK(length > 0 && length <= bound);
  std::string_view forwarded(out, length);
  STRAIT_CHECK(forwarded.substr(length - 4) == "\r\n\r\n");
  // No proxy credentials or hop-by-hop header survives, in any letter case.
  for (size_t at = forwarded.find("\r\n"); at + 2 < length; at = forwarded.find("\r\n", at + 2)) {
    std::string_view line = forwarded.substr(at + 2);
    STRAIT_CHECK(!StartsWithIgnoreCase(line, "Proxy-Authorization:"));
    STRAIT_CHECK(!StartsWithIgnoreCase(line, "Proxy-Connection:"));
    STRAIT_CHECK(!StartsWithIgnoreCase(line, "Keep-Alive:"));
  }
  STRAIT_CHECK(CountLines(forwarded) <= head.header_count + 4);
}

void CheckWriters(uint8_t selector, std::string_view text) {
  auto token = static_cast<ErrorToken>(1 + selector % (kErrorTokenCount - 1));
  char reply[kMaxHttpErrorReplyBytes];
  size_t length = WriteHttpErrorReply(token, text, true, reply, sizeof(reply));
  STRAIT_CHECK(length > 0);
  size_t expected_lines = HttpStatus(token).code == 407 ? 6 : 5;
  STRAIT_CHECK(CountLines(std::string_view(reply, length)) == expected_lines);

  std::string_view exit_id = text.substr(0, 64);
  char established[MaxConnectEstablishedBytes(64)];
  length =
      WriteHttpConnectEstablished(exit_id, selector & 1, true, established, sizeof(established));
  STRAIT_CHECK(length > 0);
  STRAIT_CHECK(CountLines(std::string_view(established, length)) == 3);
}

}  // namespace
}  // namespace strait::net

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strait::net;
  if (size == 0) {
    return 0;
  }
  size_t max_head = 16 + size_t{data[0]} * 32;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  static HttpRequestHead head;
  HttpParseResult result = ParseHttpRequestHead(bytes, max_head, &head);
  switch (result.status) {
    case HttpParseStatus::kIncomplete:
      STRAIT_CHECK(bytes.size() < max_head);
      break;
    case HttpParseStatus::kError:
      STRAIT_CHECK(result.error != HttpParseError::kNone);
      STRAIT_CHECK(Inside(result.offending, bytes));
      STRAIT_CHECK(!HttpParseErrorText(result.error).empty());
      break;
    case HttpParseStatus::kComplete:
      CheckCompleteHead(bytes, max_head, result, head);
      CheckCredentials(head);
      CheckForwarded(result, head);
      break;
  }

  // The Basic decoder on raw input too, behind a scheme it accepts.
  char scratch[4096];
  std::string_view user;
  std::string_view password;
  std::string_view raw = bytes.substr(0, 4000);
  if (DecodeBasicCredentials(raw, scratch, sizeof(scratch), &user, &password)) {
    STRAIT_CHECK(user.find(':') == std::string_view::npos);
  }

  CheckWriters(data[0], bytes);
  return 0;
}
