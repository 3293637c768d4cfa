#include "net/host_syntax.h"

#include "core/ascii.h"

namespace strait::net {
namespace {

constexpr size_t kMaxLabelLength = 63;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsNameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || c == '_';
}

// True for labels that inet_aton() and resolvers may read as a number: all decimal digits, or
// `0x` followed by hex digits (also a bare `0x`).
bool LooksNumeric(std::string_view label) {
  if (label.empty()) {
    return false;
  }
  size_t start = 0;
  bool hex = label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X');
  if (hex) {
    start = 2;
  }
  for (size_t i = start; i < label.size(); ++i) {
    if (hex ? HexDigitValue(label[i]) < 0 : !IsDigit(label[i])) {
      return false;
    }
  }
  return true;
}

// Parses one decimal number 0..max with no leading zero; false on anything else.
bool ParseDecimal(std::string_view text, uint32_t max, uint32_t* value) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
    return false;
  }
  uint32_t result = 0;
  for (char c : text) {
    if (!IsDigit(c)) {
      return false;
    }
    result = result * 10 + static_cast<uint32_t>(c - '0');
  }
  if (result > max) {
    return false;
  }
  *value = result;
  return true;
}

}  // namespace

bool ParseIpv4(std::string_view text, uint8_t out[4]) {
  if (text.size() < 7 || text.size() > 15) {
    return false;
  }
  size_t position = 0;
  for (int part = 0; part < 4; ++part) {
    size_t end = part < 3 ? text.find('.', position) : text.size();
    if (end == std::string_view::npos) {
      return false;
    }
    uint32_t value = 0;
    if (!ParseDecimal(text.substr(position, end - position), 255, &value)) {
      return false;
    }
    out[part] = static_cast<uint8_t>(value);
    position = end + 1;
  }
  return true;
}

bool ParseIpv6(std::string_view text, uint8_t out[16]) {
  // The longest form is eight full groups with an embedded dotted quad: 45 characters.
  if (text.size() < 2 || text.size() > 45) {
    return false;
  }
  uint16_t groups[8] = {};
  int count = 0;
  int gap = -1;  // index in `groups` where `::` stands, or -1
  size_t i = 0;

  if (text[0] == ':') {
    if (text[1] != ':') {
      return false;
    }
    gap = 0;
    i = 2;
  }
  while (i < text.size()) {
    if (count == 8) {
      return false;
    }
    size_t end = text.find(':', i);
    std::string_view group = text.substr(i, end == std::string_view::npos ? end : end - i);

    if (group.find('.') != std::string_view::npos) {
      // A dotted quad fills the last two groups and must end the text.
      uint8_t quad[4];
      if (end != std::string_view::npos || count > 6 || !ParseIpv4(group, quad)) {
        return false;
      }
      groups[count++] = static_cast<uint16_t>(quad[0] << 8 | quad[1]);
      groups[count++] = static_cast<uint16_t>(quad[2] << 8 | quad[3]);
      break;
    }

    if (group.empty() || group.size() > 4) {
      return false;
    }
    uint16_t value = 0;
    for (char c : group) {
      int digit = HexDigitValue(c);
      if (digit < 0) {
        return false;
      }
      value = static_cast<uint16_t>(value << 4 | digit);
    }
    groups[count++] = value;

    if (end == std::string_view::npos) {
      break;
    }
    i = end + 1;
    if (i < text.size() && text[i] == ':') {
      if (gap >= 0) {
        return false;  // a second `::`
      }
      gap = count;
      ++i;
    } else if (i == text.size()) {
      return false;  // a single trailing `:`
    }
  }

  if (gap < 0 ? count != 8 : count > 7) {
    return false;
  }
  int zeros = 8 - count;
  int source = 0;
  for (int target = 0; target < 8; ++target) {
    uint16_t value = 0;
    if (gap >= 0 && target >= gap && target < gap + zeros) {
      value = 0;
    } else {
      value = groups[source++];
    }
    out[2 * target] = static_cast<uint8_t>(value >> 8);
    out[2 * target + 1] = static_cast<uint8_t>(value & 0xff);
  }
  return true;
}

bool ParsePort(std::string_view text, bool allow_zero, uint16_t* port) {
  uint32_t value = 0;
  if (!ParseDecimal(text, 65535, &value) || (value == 0 && !allow_zero)) {
    return false;
  }
  *port = static_cast<uint16_t>(value);
  return true;
}

HostError ClassifyHost(std::string_view host, HostAddress* out) {
  if (host.empty()) {
    return HostError::kEmpty;
  }
  if (host.find(':') != std::string_view::npos) {
    out->kind = HostKind::kIpv6;
    return ParseIpv6(host, out->address) ? HostError::kNone : HostError::kBadIpv6;
  }

  std::string_view name = host;
  if (name.back() == '.') {
    name.remove_suffix(1);  // an absolute name; its last label is the one before the dot
  }
  if (name.empty()) {
    return HostError::kEmptyLabel;
  }
  if (name.size() > kMaxHostNameLength) {
    return HostError::kTooLong;
  }

  size_t label_start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      if (!IsNameCharacter(name[i])) {
        return HostError::kBadCharacter;
      }
      continue;
    }
    size_t label_length = i - label_start;
    if (label_length == 0) {
      return HostError::kEmptyLabel;
    }
    if (label_length > kMaxLabelLength) {
      return HostError::kLabelTooLong;
    }
    label_start = i + 1;
  }

  size_t last_dot = name.rfind('.');
  std::string_view last_label =
      last_dot == std::string_view::npos ? name : name.substr(last_dot + 1);
  if (!LooksNumeric(last_label)) {
    out->kind = HostKind::kName;
    return HostError::kNone;
  }
  // Only the exact dotted quad is an address; a trailing dot after one is refused too.
  if (name.size() != host.size() || !ParseIpv4(host, out->address)) {
    return HostError::kNumericName;
  }
  out->kind = HostKind::kIpv4;
  return HostError::kNone;
}

std::string_view HostErrorText(HostError error) {
  switch (error) {
    case HostError::kNone:
      return "valid host";
    case HostError::kEmpty:
      return "empty host";
    case HostError::kTooLong:
      return "host name longer than 253 bytes";
    case HostError::kBadCharacter:
      return "bad character in host";
    case HostError::kEmptyLabel:
      return "empty label in host name";
    case HostError::kLabelTooLong:
      return "host name label longer than 63 bytes";
    case HostError::kNumericName:
      return "numeric host that is not a dotted-quad IPv4 address";
    case HostError::kBadIpv6:
      return "bad IPv6 address";
  }
  return "bad host";
}

}  // namespace strait::net
