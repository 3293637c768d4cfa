#include "tools/load_protocol.h"

#include <charconv>

#include "fmt/format.h"

namespace strait::load {
namespace {

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) {
      return false;
    }
  }
  return true;
}

bool ParseUint(std::string_view text, uint64_t* value) {
  if (text.empty()) {
    return false;
  }
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

// Position of the first `separator` in `text` outside a quoted string, or npos.
size_t FindOutsideQuotes(std::string_view text, char separator) {
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted && c == '\\') {
      ++i;  // the escaped character cannot end the string
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == separator) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::string_view Unquote(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

// Splits off the text before the first `separator` (outside quotes); `rest` keeps what follows.
std::string_view NextItem(std::string_view* rest, char separator) {
  size_t at = FindOutsideQuotes(*rest, separator);
  std::string_view item = rest->substr(0, at);
  *rest = at == std::string_view::npos ? std::string_view() : rest->substr(at + 1);
  return item;
}

}  // namespace

std::string Base64Encode(std::string_view input) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((input.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= input.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(input[i]) << 16) |
                 (static_cast<uint8_t>(input[i + 1]) << 8) | static_cast<uint8_t>(input[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t left = input.size() - i;
  if (left > 0) {
    uint32_t v = static_cast<uint8_t>(input[i]) << 16;
    if (left == 2) {
      v |= static_cast<uint8_t>(input[i + 1]) << 8;
    }
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(left == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string BuildHttpConnect(std::string_view authority, std::string_view user,
                             std::string_view password) {
  if (user.empty()) {
    return fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n\r\n", authority);
  }
  std::string credentials = fmt::format("{}:{}", user, password);
  return fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\nProxy-Authorization: Basic {1}\r\n\r\n",
                     authority, Base64Encode(credentials));
}

ProxyStatus ParseProxyStatus(std::string_view value) {
  ProxyStatus status;
  std::string_view rest = value;
  std::string_view member = TrimSpaces(NextItem(&rest, ','));
  if (member.empty()) {
    return status;
  }
  status.present = true;
  status.proxy_name = Unquote(TrimSpaces(NextItem(&member, ';')));
  while (!member.empty()) {
    std::string_view parameter = TrimSpaces(NextItem(&member, ';'));
    size_t equals = parameter.find('=');
    std::string_view key = TrimSpaces(parameter.substr(0, equals));
    std::string_view parameter_value = equals == std::string_view::npos
                                           ? std::string_view()
                                           : Unquote(TrimSpaces(parameter.substr(equals + 1)));
    if (key == "next-hop") {
      status.next_hop = parameter_value;
    } else if (key == "error") {
      status.error = parameter_value;
    } else if (key == "details") {
      status.reason = TrimSpaces(parameter_value.substr(0, parameter_value.find(':')));
    }
  }
  return status;
}

HttpReply ParseHttpReply(std::string_view buffer) {
  HttpReply reply;
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    bool too_long = buffer.size() >= kMaxHttpReplyBytes;
    reply.state = too_long ? ParseState::kMalformed : ParseState::kIncomplete;
    return reply;
  }
  if (end + 4 > kMaxHttpReplyBytes) {
    reply.state = ParseState::kMalformed;
    return reply;
  }
  reply.header_bytes = end + 4;
  std::string_view head = buffer.substr(0, end + 2);  // every line keeps its "\r\n"

  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  head.remove_prefix(line_end + 2);
  uint64_t code = 0;
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      !ParseUint(status_line.substr(9, 3), &code) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    reply.state = ParseState::kMalformed;
    return reply;
  }
  reply.status = static_cast<int>(code);

  while (!head.empty()) {
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      reply.state = ParseState::kMalformed;
      return reply;
    }
    if (EqualsIgnoreCase(line.substr(0, colon), "proxy-status") && !reply.proxy_status.present) {
      reply.proxy_status = ParseProxyStatus(TrimSpaces(line.substr(colon + 1)));
    }
  }
  reply.state = ParseState::kComplete;
  return reply;
}

std::string BuildSocksGreeting(bool with_auth) {
  return std::string({'\x05', '\x01', with_auth ? '\x02' : '\x00'});
}

std::string BuildSocksAuth(std::string_view user, std::string_view password) {
  user = user.substr(0, 255);
  password = password.substr(0, 255);
  std::string out;
  out.reserve(3 + user.size() + password.size());
  out.push_back('\x01');
  out.push_back(static_cast<char>(user.size()));
  out.append(user);
  out.push_back(static_cast<char>(password.size()));
  out.append(password);
  return out;
}

std::string BuildSocksConnectIpv4(uint32_t ipv4_host_order, uint16_t port) {
  return std::string({'\x05', '\x01', '\x00', '\x01', static_cast<char>(ipv4_host_order >> 24),
                      static_cast<char>(ipv4_host_order >> 16),
                      static_cast<char>(ipv4_host_order >> 8), static_cast<char>(ipv4_host_order),
                      static_cast<char>(port >> 8), static_cast<char>(port)});
}

namespace {

// The two-byte answers (method selection, RFC 1929 status): a version byte, then a code.
SocksReply ParseTwoByteReply(std::string_view buffer, char version) {
  SocksReply reply;
  if (buffer.size() < 2) {
    return reply;
  }
  reply.state = buffer[0] == version ? ParseState::kComplete : ParseState::kMalformed;
  reply.code = static_cast<uint8_t>(buffer[1]);
  reply.bytes = 2;
  return reply;
}

}  // namespace

SocksReply ParseSocksMethodReply(std::string_view buffer) {
  return ParseTwoByteReply(buffer, 0x05);
}

SocksReply ParseSocksAuthReply(std::string_view buffer) { return ParseTwoByteReply(buffer, 0x01); }

SocksReply ParseSocksConnectReply(std::string_view buffer) {
  SocksReply reply;
  if (buffer.size() < 5) {
    return reply;
  }
  if (buffer[0] != 0x05 || buffer[2] != 0x00) {
    reply.state = ParseState::kMalformed;
    return reply;
  }
  reply.code = static_cast<uint8_t>(buffer[1]);
  size_t address_bytes = 0;
  switch (buffer[3]) {
    case 0x01:
      address_bytes = 4;
      break;
    case 0x04:
      address_bytes = 16;
      break;
    case 0x03:
      address_bytes = 1 + static_cast<uint8_t>(buffer[4]);
      break;
    default:
      reply.state = ParseState::kMalformed;
      return reply;
  }
  size_t total = 4 + address_bytes + 2;
  if (buffer.size() < total) {
    return reply;
  }
  reply.state = ParseState::kComplete;
  reply.bytes = total;
  return reply;
}

Command ParseCommand(std::string_view line) {
  Command command;
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  size_t space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  std::string_view argument =
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1);

  auto with_optional_count = [&](CommandKind kind) {
    if (!argument.empty() && !ParseUint(argument, &command.count)) {
      command.token = "count is not a number";
      return;
    }
    command.kind = kind;
  };
  auto without_argument = [&](CommandKind kind) {
    if (!argument.empty()) {
      command.token = "takes no argument";
      return;
    }
    command.kind = kind;
  };

  if (verb == "PING" || verb == "QUIT") {
    if (argument.empty() || argument.find(' ') != std::string_view::npos) {
      command.token = "PING and QUIT need one token";
      return command;
    }
    command.kind = verb == "PING" ? CommandKind::kPing : CommandKind::kQuit;
    command.token = argument;
  } else if (verb == "WHO") {
    without_argument(CommandKind::kWho);
  } else if (verb == "ECHO") {
    without_argument(CommandKind::kEcho);
  } else if (verb == "SINK") {
    with_optional_count(CommandKind::kSink);
  } else if (verb == "SOURCE") {
    with_optional_count(CommandKind::kSource);
  } else if (verb == "DUPLEX") {
    without_argument(CommandKind::kDuplex);
  } else if (verb == "STATS") {
    without_argument(CommandKind::kStats);
  } else {
    command.token = "unknown command";
  }
  return command;
}

std::string FormatStats(const TargetStats& stats) {
  return fmt::format("STATS tunnels={} pings={} bytes_in={} bytes_out={}\n", stats.tunnels,
                     stats.pings, stats.bytes_in, stats.bytes_out);
}

bool ParseStats(std::string_view line, TargetStats* stats) {
  if (line.substr(0, 6) != "STATS ") {
    return false;
  }
  std::string_view rest = line.substr(6);
  int seen = 0;
  while (!rest.empty()) {
    std::string_view field = NextItem(&rest, ' ');
    size_t equals = field.find('=');
    uint64_t value = 0;
    if (equals == std::string_view::npos || !ParseUint(field.substr(equals + 1), &value)) {
      return false;
    }
    std::string_view key = field.substr(0, equals);
    if (key == "tunnels") {
      stats->tunnels = value;
    } else if (key == "pings") {
      stats->pings = value;
    } else if (key == "bytes_in") {
      stats->bytes_in = value;
    } else if (key == "bytes_out") {
      stats->bytes_out = value;
    } else {
      return false;
    }
    ++seen;
  }
  return seen == 4;
}

bool ParsePong(std::string_view line, std::string_view* token, std::string_view* address) {
  if (line.substr(0, 5) != "PONG ") {
    return false;
  }
  std::string_view rest = line.substr(5);
  size_t space = rest.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == rest.size()) {
    return false;
  }
  *token = rest.substr(0, space);
  *address = rest.substr(space + 1);
  return address->find(' ') == std::string_view::npos;
}

std::string_view AddressIp(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    return close == std::string_view::npos ? address : address.substr(1, close - 1);
  }
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || address.find(':') != colon) {
    return address;  // no port, or a bare IPv6 address
  }
  return address.substr(0, colon);
}

bool ParseRoutingKind(std::string_view name, RoutingKind* kind) {
  static constexpr RoutingKind kAll[] = {RoutingKind::kNone,       RoutingKind::kPlain,
                                         RoutingKind::kRotating,   RoutingKind::kStickyOne,
                                         RoutingKind::kStickyMany, RoutingKind::kTargeted};
  for (RoutingKind candidate : kAll) {
    if (RoutingKindName(candidate) == name) {
      *kind = candidate;
      return true;
    }
  }
  return false;
}

std::string_view RoutingKindName(RoutingKind kind) {
  switch (kind) {
    case RoutingKind::kNone:
      return "none";
    case RoutingKind::kPlain:
      return "plain";
    case RoutingKind::kRotating:
      return "rotating";
    case RoutingKind::kStickyOne:
      return "sticky-one";
    case RoutingKind::kStickyMany:
      return "sticky-many";
    case RoutingKind::kTargeted:
      return "targeted";
  }
  return "?";
}

std::string RoutingUser(RoutingKind kind, std::string_view account, uint64_t sequence,
                        uint32_t sessions) {
  switch (kind) {
    case RoutingKind::kNone:
      return std::string();
    case RoutingKind::kPlain:
    case RoutingKind::kRotating:
      return std::string(account);
    case RoutingKind::kStickyOne:
      return fmt::format("{}_s_one", account);
    case RoutingKind::kStickyMany:
      return fmt::format("{}_s_m{}", account, sequence % (sessions == 0 ? 1 : sessions));
    case RoutingKind::kTargeted:
      return fmt::format("{}_c_us_city_charlotte", account);
  }
  return std::string(account);
}

}  // namespace strait::load
