#include "routing/exit_file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "core/absl_compat.h"
#include "core/ascii.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace strait::routing {
namespace {

enum class Column : uint8_t {
  kId,
  kPool,
  kCountry,
  kState,
  kCity,
  kZip,
  kAsn,
  kCapacity,
  kWeight,
  kEgress,
  kHealthy,
};

constexpr std::array<std::string_view, 11> kColumnNames = {
    "id",  "pool",     "country", "state",  "city",   "zip",
    "asn", "capacity", "weight",  "egress", "healthy"};

constexpr std::string_view kEgressForms =
    "direct[:address], http://[user:pass@]host:port or socks5://[user:pass@]host:port";

std::string_view StdView(absl::string_view view) {
  return std::string_view(view.data(), view.size());
}

std::string_view Trim(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size() && (text[begin] == ' ' || text[begin] == '\t')) {
    ++begin;
  }
  size_t end = text.size();
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r')) {
    --end;
  }
  return text.substr(begin, end - begin);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) {
      return false;
    }
  }
  return true;
}

std::optional<Column> ColumnNamed(std::string_view name) {
  for (size_t i = 0; i < kColumnNames.size(); ++i) {
    if (EqualsIgnoreCase(name, kColumnNames[i])) {
      return static_cast<Column>(i);
    }
  }
  return std::nullopt;
}

template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

absl::Status FieldError(std::string_view field, std::string_view value, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{} '{}' {}", field, value, what));
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    int high = HexDigitValue(text[i + 1]);
    int low = HexDigitValue(text[i + 2]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

// Parses an IPv4 or IPv6 literal (the latter bare or in brackets) into a port-0 address.
bool ParseSourceAddress(std::string_view text, Egress* egress) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  char literal[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(literal)) {
    return false;
  }
  std::memcpy(literal, text.data(), text.size());
  literal[text.size()] = '\0';

  egress->source = sockaddr_storage{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(egress->source);
  if (inet_pton(AF_INET, literal, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    egress->source_len = sizeof(sockaddr_in);
    return true;
  }
  egress->source = sockaddr_storage{};
  auto& v6 = reinterpret_cast<sockaddr_in6&>(egress->source);
  if (inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    egress->source_len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::optional<bool> ParseHealthy(std::string_view text) {
  for (std::string_view yes : {"true", "yes", "up", "1"}) {
    if (EqualsIgnoreCase(text, yes)) {
      return true;
    }
  }
  for (std::string_view no : {"false", "no", "down", "0"}) {
    if (EqualsIgnoreCase(text, no)) {
      return false;
    }
  }
  return std::nullopt;
}

// Fills one field of `spec`; the error names the field and value, not the line.
absl::Status ApplyField(Column column, std::string_view value, ExitSpec* spec) {
  switch (column) {
    case Column::kId:
      spec->id = std::string(value);
      return absl::OkStatus();
    case Column::kPool: {
      std::optional<Pool> pool = ParsePool(value);
      if (!pool.has_value()) {
        return FieldError("pool", value, "is not residential, datacenter, isp or mobile");
      }
      spec->pool = *pool;
      return absl::OkStatus();
    }
    case Column::kCountry:
      spec->country = std::string(value);
      return absl::OkStatus();
    case Column::kState:
      spec->state = std::string(value);
      return absl::OkStatus();
    case Column::kCity:
      spec->city = std::string(value);
      return absl::OkStatus();
    case Column::kZip:
      spec->zip = std::string(value);
      return absl::OkStatus();
    case Column::kAsn: {
      std::string_view digits = value;
      if (digits.size() > 2 && EqualsIgnoreCase(digits.substr(0, 2), "as")) {
        digits.remove_prefix(2);
      }
      std::optional<uint32_t> asn = ParseNumber<uint32_t>(digits);
      if (!asn.has_value()) {
        return FieldError("asn", value, "is not a number from 0 to 4294967295");
      }
      spec->asn = *asn;
      return absl::OkStatus();
    }
    case Column::kCapacity: {
      std::optional<uint32_t> capacity = ParseNumber<uint32_t>(value);
      if (!capacity.has_value()) {
        return FieldError("capacity", value, "is not a number from 0 to 4294967295");
      }
      spec->capacity = *capacity;
      return absl::OkStatus();
    }
    case Column::kWeight: {
      std::optional<uint32_t> weight = ParseNumber<uint32_t>(value);
      if (!weight.has_value()) {
        return FieldError("weight", value, "is not a number");
      }
      spec->weight = *weight;
      return absl::OkStatus();
    }
    case Column::kEgress: {
      absl::StatusOr<Egress> egress = ParseEgress(value);
      if (!egress.ok()) {
        return egress.status();
      }
      spec->egress = *std::move(egress);
      return absl::OkStatus();
    }
    case Column::kHealthy: {
      std::optional<bool> healthy = ParseHealthy(value);
      if (!healthy.has_value()) {
        return FieldError("healthy", value, "is not true, false, yes, no, up, down, 1 or 0");
      }
      spec->healthy = *healthy;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown column");
}

absl::Status LineError(std::string_view source, size_t line, std::string_view message) {
  return absl::InvalidArgumentError(fmt::format("{}:{}: {}", source, line, message));
}

}  // namespace

absl::StatusOr<Egress> ParseEgress(std::string_view text) {
  Egress egress;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("egress '{}' {}", text, why));
  };

  if (text.empty() || text == "direct") {
    return egress;
  }
  if (text.starts_with("direct:")) {
    if (!ParseSourceAddress(text.substr(7), &egress)) {
      return bad("does not name an IPv4 or IPv6 source address after 'direct:'");
    }
    return egress;
  }

  std::string_view rest;
  if (text.starts_with("http://")) {
    egress.kind = EgressKind::kHttpConnect;
    rest = text.substr(7);
  } else if (text.starts_with("socks5://")) {
    egress.kind = EgressKind::kSocks5;
    rest = text.substr(9);
  } else {
    return bad(fmt::format("is not {}", kEgressForms));
  }

  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::optional<std::string> username = PercentDecode(userinfo.substr(0, colon));
    std::optional<std::string> password =
        colon == std::string_view::npos ? std::string() : PercentDecode(userinfo.substr(colon + 1));
    if (!username.has_value() || !password.has_value()) {
      return bad("has a bad %-escape in its credentials");
    }
    egress.upstream_username = *std::move(username);
    egress.upstream_password = *std::move(password);
  }

  std::string_view host, port;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || rest.substr(close + 1, 1) != ":") {
      return bad("has an unclosed '[' or no ':port' after the IPv6 address");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("has no ':port'");
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  std::optional<uint16_t> port_number = ParseNumber<uint16_t>(port);
  if (!port_number.has_value() || *port_number == 0 || host.empty()) {
    return bad("needs a host and a port from 1 to 65535");
  }
  egress.upstream_host = std::string(host);
  egress.upstream_port = *port_number;
  return egress;
}

absl::StatusOr<std::vector<ExitSpec>> ParseExitsText(std::string_view text,
                                                     std::string_view source_name) {
  std::vector<ExitSpec> specs;
  std::vector<Column> columns;
  absl::flat_hash_map<std::string, size_t> line_of_id;
  bool have_header = false;
  size_t line_number = 0;
  std::vector<std::string_view> fields;

  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;

    std::string_view content = Trim(line);
    if (content.empty() || content.front() == '#') {
      continue;
    }

    fields.clear();
    size_t start = 0;
    while (true) {
      size_t comma = content.find(',', start);
      fields.push_back(Trim(content.substr(start, comma - start)));
      if (comma == std::string_view::npos) {
        break;
      }
      start = comma + 1;
    }

    if (!have_header) {
      bool seen[kColumnNames.size()] = {};
      for (std::string_view name : fields) {
        std::optional<Column> column = ColumnNamed(name);
        if (!column.has_value()) {
          return LineError(
              source_name, line_number,
              fmt::format("unknown column '{}' (known: {})", name, fmt::join(kColumnNames, ", ")));
        }
        if (seen[static_cast<int>(*column)]) {
          return LineError(source_name, line_number, fmt::format("column '{}' twice", name));
        }
        seen[static_cast<int>(*column)] = true;
        columns.push_back(*column);
      }
      if (!seen[static_cast<int>(Column::kId)] || !seen[static_cast<int>(Column::kPool)]) {
        return LineError(source_name, line_number,
                         "the header must name at least the columns 'id' and 'pool'");
      }
      have_header = true;
      continue;
    }

    if (fields.size() != columns.size()) {
      return LineError(
          source_name, line_number,
          fmt::format("{} fields, but the header has {}", fields.size(), columns.size()));
    }
    ExitSpec spec;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].empty()) {
        continue;
      }
      absl::Status applied = ApplyField(columns[i], fields[i], &spec);
      if (!applied.ok()) {
        return LineError(source_name, line_number, StdView(applied.message()));
      }
    }
    absl::Status valid = ValidateExitSpec(spec);
    if (!valid.ok()) {
      return LineError(source_name, line_number, StdView(valid.message()));
    }
    auto [it, inserted] = line_of_id.emplace(spec.id, line_number);
    if (!inserted) {
      return LineError(source_name, line_number,
                       fmt::format("id '{}' already on line {}", spec.id, it->second));
    }
    specs.push_back(std::move(spec));
  }

  if (!have_header) {
    return absl::InvalidArgumentError(
        fmt::format("{}: no header line (e.g. 'id,pool,country,city,egress')", source_name));
  }
  return specs;
}

absl::StatusOr<std::vector<ExitSpec>> ParseExitsFile(std::string_view path) {
  std::string path_string(path);
  int fd = open(path_string.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    std::string message = fmt::format("{}: cannot open: {}", path, std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::UnavailableError(message);
  }

  std::string contents;
  char buffer[1 << 16];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int error = errno;
      close(fd);
      return absl::UnavailableError(fmt::format("{}: cannot read: {}", path, std::strerror(error)));
    }
    if (n == 0) {
      break;
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return ParseExitsText(contents, path);
}

}  // namespace strait::routing
