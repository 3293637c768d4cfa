#include "net/http_codec.h"

#include <array>
#include <charconv>
#include <cstring>

namespace strait::net {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// RFC 9110 tchar: letters, digits and !#$%&'*+-.^_`|~.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> token{};
  for (int c = '0'; c <= '9'; ++c) {
    token[c] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    token[c] = true;
    token[c - 'a' + 'A'] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    token[static_cast<uint8_t>(c)] = true;
  }
  return token;
}();
constexpr size_t kMaxContentLengthDigits = 18;  // below 2^63, so no overflow check is needed

bool IsHeaderSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimHeaderSpace(std::string_view text) {
  while (!text.empty() && IsHeaderSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && IsHeaderSpace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool IsToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (!IsHttpTokenChar(c)) {
      return false;
    }
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

HttpParseResult Error(HttpParseError error, std::string_view offending) {
  HttpParseResult result;
  result.status = HttpParseStatus::kError;
  result.error = error;
  result.offending = offending;
  return result;
}

// Finds the end of the head within the first `limit` bytes: returns the length including the
// empty line, 0 when there is none yet, or sets `*bare_break` at a LF without its CR.
size_t FindHeadEnd(std::string_view bytes, size_t limit, size_t* bare_break) {
  size_t scan = bytes.size() < limit ? bytes.size() : limit;
  size_t line_start = 0;
  while (line_start < scan) {
    const void* found = std::memchr(bytes.data() + line_start, '\n', scan - line_start);
    if (found == nullptr) {
      return 0;
    }
    size_t lf = static_cast<size_t>(static_cast<const char*>(found) - bytes.data());
    if (lf == 0 || bytes[lf - 1] != '\r') {
      *bare_break = lf;
      return 0;
    }
    if (lf == line_start + 1) {
      return lf + 1;  // the empty line
    }
    line_start = lf + 1;
  }
  return 0;
}

// Splits `authority` into host and port and validates both. `default_port` 0 means the port is
// required (authority-form of CONNECT).
HttpParseError ParseAuthority(std::string_view authority, uint16_t default_port,
                              HttpRequestHead* head) {
  if (authority.find('@') != std::string_view::npos) {
    return HttpParseError::kUserinfoInTarget;
  }
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return HttpParseError::kBadHost;
    }
    head->host = authority.substr(1, close - 1);
    head->host_address.kind = HostKind::kIpv6;
    if (!ParseIpv6(head->host, head->host_address.address)) {
      return HttpParseError::kBadHost;
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return HttpParseError::kBadHost;
      }
      has_port = true;
      port_text = rest.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    head->host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
      if (port_text.find(':') != std::string_view::npos) {
        return HttpParseError::kBadHost;  // an IPv6 literal without brackets
      }
    }
    if (ClassifyHost(head->host, &head->host_address) != HostError::kNone) {
      return HttpParseError::kBadHost;
    }
  }

  if (!has_port) {
    if (default_port == 0) {
      return HttpParseError::kBadPort;
    }
    head->port = default_port;
    return HttpParseError::kNone;
  }
  return ParsePort(port_text, false, &head->port) ? HttpParseError::kNone
                                                  : HttpParseError::kBadPort;
}

HttpParseError ParseTarget(HttpRequestHead* head) {
  std::string_view target = head->target;
  if (head->is_connect) {
    head->authority = target;
    return ParseAuthority(target, 0, head);
  }

  constexpr std::string_view kHttp = "http://";
  if (target.front() == '/') {
    return HttpParseError::kOriginFormTarget;
  }
  if (StartsWithIgnoreCase(target, "https://")) {
    return HttpParseError::kHttpsAbsoluteForm;
  }
  if (!StartsWithIgnoreCase(target, kHttp) || target.find('#') != std::string_view::npos) {
    return HttpParseError::kBadTarget;  // another scheme, `*`, authority-form, a fragment
  }
  std::string_view rest = target.substr(kHttp.size());
  size_t path_start = rest.find_first_of("/?");
  head->authority = rest.substr(0, path_start);
  head->path = path_start == std::string_view::npos ? std::string_view(rest.data() + rest.size(), 0)
                                                    : rest.substr(path_start);
  return ParseAuthority(head->authority, 80, head);
}

// Parses `METHOD SP target SP version` (without its CRLF) into `head`.
HttpParseResult ParseRequestLine(std::string_view line, HttpRequestHead* head) {
  size_t first_space = line.find(' ');
  if (first_space == std::string_view::npos || first_space == 0) {
    return Error(HttpParseError::kBadRequestLine, line);
  }
  size_t second_space = line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos || second_space == first_space + 1) {
    return Error(HttpParseError::kBadRequestLine, line);
  }
  head->method = line.substr(0, first_space);
  head->target = line.substr(first_space + 1, second_space - first_space - 1);
  head->version = line.substr(second_space + 1);

  if (!IsToken(head->method)) {
    return Error(HttpParseError::kBadMethod, head->method);
  }
  for (char c : head->target) {
    if (c < 0x21 || c > 0x7e) {
      return Error(HttpParseError::kBadTarget, head->target);
    }
  }
  std::string_view version = head->version;
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return Error(HttpParseError::kBadRequestLine, line);
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return Error(HttpParseError::kUnsupportedVersion, version);
  }
  head->version_minor = static_cast<uint8_t>(version[7] - '0');

  head->is_connect = head->method == "CONNECT";
  HttpParseError target_error = ParseTarget(head);
  if (target_error != HttpParseError::kNone) {
    return Error(target_error, head->target);
  }
  return HttpParseResult{};
}

bool ParseContentLength(std::string_view value, int64_t* length) {
  if (value.empty() || value.size() > kMaxContentLengthDigits) {
    return false;
  }
  int64_t result = 0;
  for (char c : value) {
    if (c < '0' || c > '9') {
      return false;
    }
    result = result * 10 + (c - '0');
  }
  *length = result;
  return true;
}

// Records the headers Strait reads itself; rejects the duplicates that enable smuggling.
HttpParseResult NoteKnownHeader(const HttpHeader& header, std::string_view line,
                                HttpRequestHead* head) {
  if (EqualsIgnoreCase(header.name, "Proxy-Authorization")) {
    if (head->has_proxy_authorization) {
      return Error(HttpParseError::kDuplicateProxyAuthorization, line);
    }
    head->has_proxy_authorization = true;
    head->proxy_authorization = header.value;
  } else if (EqualsIgnoreCase(header.name, "Host")) {
    if (head->has_host_header) {
      return Error(HttpParseError::kDuplicateHost, line);
    }
    head->has_host_header = true;
    head->host_header = header.value;
  } else if (EqualsIgnoreCase(header.name, "Content-Length")) {
    if (head->content_length >= 0) {
      return Error(HttpParseError::kDuplicateContentLength, line);
    }
    if (!ParseContentLength(header.value, &head->content_length)) {
      return Error(HttpParseError::kBadContentLength, line);
    }
  } else if (EqualsIgnoreCase(header.name, "Transfer-Encoding")) {
    // Several Transfer-Encoding lines form one list; Strait only needs to know one is present.
    head->has_transfer_encoding = true;
    head->transfer_encoding = header.value;
  }
  return HttpParseResult{};
}

HttpParseResult ParseHeaderLine(std::string_view line, HttpRequestHead* head) {
  if (IsHeaderSpace(line.front())) {
    return Error(HttpParseError::kObsFold, line);
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    return Error(HttpParseError::kBadHeaderName, line);
  }
  HttpHeader header{line.substr(0, colon), TrimHeaderSpace(line.substr(colon + 1))};
  for (char c : header.value) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
      return Error(HttpParseError::kBadHeaderValue, line);
    }
  }
  if (head->header_count == kMaxHttpHeaders) {
    return Error(HttpParseError::kTooManyHeaders, line);
  }
  head->headers[head->header_count++] = header;
  return NoteKnownHeader(header, line, head);
}

// Writes into a fixed buffer; remembers overflow instead of failing each call.
class Output {
 public:
  Output(char* out, size_t cap) : out_(out), cap_(cap) {}

  void Put(std::string_view text) {
    if (overflow_ || text.size() > cap_ - length_) {
      overflow_ = true;
      return;
    }
    std::memcpy(out_ + length_, text.data(), text.size());
    length_ += text.size();
  }

  void PutChar(char c) { Put(std::string_view(&c, 1)); }

  void PutNumber(unsigned value) {
    char digits[10];
    char* end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
    Put(std::string_view(digits, static_cast<size_t>(end - digits)));
  }

  // An RFC 8941 sf-string of at most `max_bytes` input bytes: `"` and `\` escaped, anything
  // outside printable ASCII dropped.
  void PutStructuredString(std::string_view text, size_t max_bytes) {
    PutChar('"');
    PutStringContent(text, max_bytes);
    PutChar('"');
  }

  void PutStringContent(std::string_view text, size_t max_bytes) {
    if (text.size() > max_bytes) {
      text = text.substr(0, max_bytes);
    }
    for (char c : text) {
      if (c < 0x20 || c > 0x7e) {
        continue;
      }
      if (c == '"' || c == '\\') {
        PutChar('\\');
      }
      PutChar(c);
    }
  }

  size_t Finish() const { return overflow_ ? 0 : length_; }

 private:
  char* out_;
  size_t cap_;
  size_t length_ = 0;
  bool overflow_ = false;
};

// RFC 8941 sf-token: ( ALPHA / "*" ) *( tchar / ":" / "/" ).
bool IsStructuredToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  char first = text.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '*')) {
    return false;
  }
  for (char c : text.substr(1)) {
    if (!IsHttpTokenChar(c) && c != ':' && c != '/') {
      return false;
    }
  }
  return true;
}

// Value of each base64 character, -1 for bytes outside the standard alphabet. A table: the
// branchy version was a quarter of a CONNECT head's parse time.
constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> values{};
  values.fill(-1);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    values[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return values;
}();

int Base64Value(char c) { return kBase64Values[static_cast<uint8_t>(c)]; }

// Strict RFC 4648 base64: standard alphabet, padding optional but exact when present, unused
// bits zero. Returns the decoded length, or -1.
int64_t DecodeBase64(std::string_view text, char* out, size_t cap) {
  size_t padding = 0;
  while (padding < 2 && !text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 0 && (text.size() + padding) % 4 != 0) {
    return -1;
  }
  if (text.size() % 4 == 1) {
    return -1;
  }
  size_t decoded = text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1);
  if (decoded > cap) {
    return -1;
  }

  uint32_t bits = 0;
  int bit_count = 0;
  size_t length = 0;
  for (char c : text) {
    int value = Base64Value(c);
    if (value < 0) {
      return -1;
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out[length++] = static_cast<char>((bits >> bit_count) & 0xff);
    }
  }
  if ((bits & ((1u << bit_count) - 1)) != 0) {
    return -1;  // non-canonical: leftover bits must be zero
  }
  return static_cast<int64_t>(length);
}

// True when the header named `name` is listed in any Connection header of `head`.
bool NamedByConnection(const HttpRequestHead& head, std::string_view name) {
  for (size_t i = 0; i < head.header_count; ++i) {
    const HttpHeader& header = head.headers[i];
    if (!EqualsIgnoreCase(header.name, "Connection")) {
      continue;
    }
    std::string_view list = header.value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      if (EqualsIgnoreCase(TrimHeaderSpace(list.substr(0, comma)), name)) {
        return true;
      }
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  return false;
}

bool IsHopByHop(const HttpRequestHead& head, std::string_view name) {
  constexpr std::string_view kDropped[] = {
      "Connection",
      "Proxy-Connection",
      "Proxy-Authorization",
      "Proxy-Authenticate",
      "Keep-Alive",
      "TE",
      "Upgrade",
      "Host",
  };
  for (std::string_view dropped : kDropped) {
    if (EqualsIgnoreCase(name, dropped)) {
      return true;
    }
  }
  return NamedByConnection(head, name);
}

}  // namespace

bool IsHttpTokenChar(char c) { return kTokenChars[static_cast<uint8_t>(c)]; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

HttpParseResult ParseHttpRequestHead(std::string_view bytes, size_t max_head_bytes,
                                     HttpRequestHead* head) {
  size_t bare_break = std::string_view::npos;
  size_t head_length = FindHeadEnd(bytes, max_head_bytes, &bare_break);
  if (bare_break != std::string_view::npos) {
    return Error(HttpParseError::kBareLineBreak, bytes.substr(0, bare_break + 1));
  }
  if (head_length == 0) {
    if (bytes.size() >= max_head_bytes) {
      return Error(HttpParseError::kHeadTooLarge, std::string_view());
    }
    return HttpParseResult{};
  }

  *head = HttpRequestHead{};
  std::string_view remaining = bytes.substr(0, head_length - kCrlf.size());
  size_t line_end = remaining.find(kCrlf);
  if (remaining.substr(0, line_end).find('\r') != std::string_view::npos) {
    return Error(HttpParseError::kBareLineBreak, remaining.substr(0, line_end));
  }
  HttpParseResult line_result = ParseRequestLine(remaining.substr(0, line_end), head);
  if (line_result.status == HttpParseStatus::kError) {
    return line_result;
  }
  remaining.remove_prefix(line_end + kCrlf.size());

  while (!remaining.empty()) {
    line_end = remaining.find(kCrlf);
    if (remaining.substr(0, line_end).find('\r') != std::string_view::npos) {
      return Error(HttpParseError::kBareLineBreak, remaining.substr(0, line_end));
    }
    HttpParseResult header_result = ParseHeaderLine(remaining.substr(0, line_end), head);
    if (header_result.status == HttpParseStatus::kError) {
      return header_result;
    }
    remaining.remove_prefix(line_end + kCrlf.size());
  }

  if (head->has_transfer_encoding && head->content_length >= 0) {
    return Error(HttpParseError::kContentLengthWithTransferEncoding, head->transfer_encoding);
  }
  // A header that frames the message cannot be hop-by-hop: dropping it while forwarding would
  // leave the body to be read as a second request.
  for (std::string_view framing : {"Content-Length", "Transfer-Encoding", "Host"}) {
    if (NamedByConnection(*head, framing)) {
      return Error(HttpParseError::kConnectionNamesFramingHeader, framing);
    }
  }

  HttpParseResult result;
  result.status = HttpParseStatus::kComplete;
  result.head_length = head_length;
  return result;
}

std::string_view HttpParseErrorText(HttpParseError error) {
  switch (error) {
    case HttpParseError::kNone:
      return "no error";
    case HttpParseError::kHeadTooLarge:
      return "request head too large";
    case HttpParseError::kBareLineBreak:
      return "line break other than CRLF";
    case HttpParseError::kBadRequestLine:
      return "malformed request line";
    case HttpParseError::kBadMethod:
      return "method is not a token";
    case HttpParseError::kUnsupportedVersion:
      return "HTTP version other than 1.0 or 1.1";
    case HttpParseError::kBadTarget:
      return "malformed request target";
    case HttpParseError::kOriginFormTarget:
      return "origin-form target sent to a proxy";
    case HttpParseError::kHttpsAbsoluteForm:
      return "https:// target; use CONNECT for TLS";
    case HttpParseError::kUserinfoInTarget:
      return "userinfo in request target";
    case HttpParseError::kBadHost:
      return "malformed host in request target";
    case HttpParseError::kBadPort:
      return "missing or invalid port in request target";
    case HttpParseError::kBadHeaderName:
      return "malformed header name";
    case HttpParseError::kBadHeaderValue:
      return "control character in header value";
    case HttpParseError::kObsFold:
      return "obsolete header line folding";
    case HttpParseError::kTooManyHeaders:
      return "too many header lines";
    case HttpParseError::kDuplicateHost:
      return "duplicate Host header";
    case HttpParseError::kDuplicateProxyAuthorization:
      return "duplicate Proxy-Authorization header";
    case HttpParseError::kDuplicateContentLength:
      return "duplicate Content-Length header";
    case HttpParseError::kBadContentLength:
      return "invalid Content-Length";
    case HttpParseError::kContentLengthWithTransferEncoding:
      return "both Transfer-Encoding and Content-Length";
    case HttpParseError::kConnectionNamesFramingHeader:
      return "Connection names a header that frames the message";
  }
  return "malformed request";
}

bool DecodeBasicCredentials(std::string_view authorization_value, char* scratch,
                            size_t scratch_size, std::string_view* user,
                            std::string_view* password) {
  constexpr std::string_view kScheme = "Basic";
  if (!StartsWithIgnoreCase(authorization_value, kScheme)) {
    return false;
  }
  std::string_view rest = authorization_value.substr(kScheme.size());
  if (rest.empty() || rest.front() != ' ') {
    return false;  // `Basicx...`, or no credentials at all
  }
  while (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }

  int64_t decoded_length = DecodeBase64(rest, scratch, scratch_size);
  if (decoded_length < 0) {
    return false;
  }
  std::string_view decoded(scratch, static_cast<size_t>(decoded_length));
  for (char c : decoded) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return false;  // RFC 7617: neither part may contain control characters
    }
  }
  size_t colon = decoded.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  *user = decoded.substr(0, colon);
  *password = decoded.substr(colon + 1);
  return true;
}

size_t WriteHttpErrorReply(ErrorToken token, std::string_view details, bool include_proxy_status,
                           char* out, size_t cap) {
  if (token == ErrorToken::kNone) {
    return 0;  // success has its own writer; a 200 "error" would confuse every client
  }
  HttpStatusLine status = HttpStatus(token);
  Output output(out, cap);
  output.Put("HTTP/1.1 ");
  output.PutNumber(static_cast<unsigned>(status.code));
  output.PutChar(' ');
  output.Put(status.reason_phrase);
  output.Put(kCrlf);
  if (status.code == 407) {
    output.Put("Proxy-Authenticate: Basic realm=\"strait\"\r\n");
  }
  if (include_proxy_status) {
    output.Put("Proxy-Status: strait; error=");
    output.Put(ProxyStatusError(token));
    output.Put("; details=\"");
    output.Put(ReasonToken(token));
    if (!details.empty()) {
      output.Put(": ");
      output.PutStringContent(details, kMaxProxyStatusDetails);
    }
    output.Put("\"\r\n");
  }
  output.Put("Content-Length: 0\r\nConnection: close\r\n\r\n");
  return output.Finish();
}

size_t WriteHttpConnectEstablished(std::string_view exit_id, bool session_moved,
                                   bool include_proxy_status, char* out, size_t cap) {
  Output output(out, cap);
  output.Put("HTTP/1.1 200 Connection established\r\n");
  if (include_proxy_status) {
    output.Put("Proxy-Status: strait");
    if (!exit_id.empty()) {
      output.Put("; next-hop=");
      if (IsStructuredToken(exit_id)) {
        output.Put(exit_id);
      } else {
        output.PutStructuredString(exit_id, exit_id.size());
      }
    }
    if (session_moved) {
      output.Put("; details=\"session_moved\"");
    }
    output.Put(kCrlf);
  }
  output.Put(kCrlf);
  return output.Finish();
}

size_t WriteForwardedRequestHead(const HttpRequestHead& head, char* out, size_t cap) {
  if (head.is_connect) {
    return 0;  // a CONNECT is answered, never forwarded
  }
  Output output(out, cap);
  output.Put(head.method);
  output.PutChar(' ');
  if (head.path.empty() || head.path.front() == '?') {
    output.PutChar('/');
  }
  output.Put(head.path);
  output.PutChar(' ');
  output.Put(head.version);
  output.Put(kCrlf);

  output.Put("Host: ");
  output.Put(head.authority);
  output.Put(kCrlf);
  for (size_t i = 0; i < head.header_count; ++i) {
    const HttpHeader& header = head.headers[i];
    if (IsHopByHop(head, header.name)) {
      continue;
    }
    output.Put(header.name);
    output.Put(": ");
    output.Put(header.value);
    output.Put(kCrlf);
  }
  output.Put("Connection: close\r\n\r\n");
  return output.Finish();
}

}  // namespace strait::net
