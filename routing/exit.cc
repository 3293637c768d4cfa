#include "routing/exit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "core/check.h"
#include "fmt/format.h"
#include "routing/place_dictionary.h"

namespace strait::routing {
namespace {

constexpr size_t kMaxUpstreamHostLength = 255;
// RFC 1929 carries each of them in one length byte; HTTP Basic has no limit but no sane upstream
// needs more.
constexpr size_t kMaxUpstreamCredentialLength = 255;

bool IsIdByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

CountryCode CountryFromSpec(std::string_view country) {
  if (country.size() != 2) {
    return CountryCode{};
  }
  return CountryCode::FromLowerLetters(LowerAscii(country[0]), LowerAscii(country[1]));
}

// The id the dictionary gives `name`, kAnyPlace for an empty name. The name must be interned.
PlaceId PlaceFromSpec(const PlaceDictionary& places, PlaceKind kind, std::string_view name) {
  if (name.empty()) {
    return kAnyPlace;
  }
  return places.Find(kind, name);
}

absl::Status ValidatePlace(PlaceKind kind, std::string_view name, std::string_view country) {
  if (name.empty()) {
    return absl::OkStatus();
  }
  char normalized[PlaceDictionary::kMaxNameLength];
  if (NormalizePlaceName(name, normalized) == 0) {
    return absl::InvalidArgumentError(
        fmt::format("{} '{}' is not 1 to {} letters, digits, '-' or words joined by '_' or ' '",
                    PlaceKindName(kind), name, PlaceDictionary::kMaxNameLength));
  }
  if (country.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{} '{}' needs a country", PlaceKindName(kind), name));
  }
  return absl::OkStatus();
}

absl::Status ValidateEgress(const Egress& egress) {
  switch (egress.kind) {
    case EgressKind::kDirect: {
      if (egress.source_len == 0) {
        return absl::OkStatus();
      }
      sa_family_t family = egress.source.ss_family;
      if (family == AF_INET && egress.source_len == sizeof(sockaddr_in)) {
        if (reinterpret_cast<const sockaddr_in&>(egress.source).sin_port != 0) {
          return absl::InvalidArgumentError("direct egress source must have port 0");
        }
        return absl::OkStatus();
      }
      if (family == AF_INET6 && egress.source_len == sizeof(sockaddr_in6)) {
        if (reinterpret_cast<const sockaddr_in6&>(egress.source).sin6_port != 0) {
          return absl::InvalidArgumentError("direct egress source must have port 0");
        }
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError(
          "direct egress source is neither an IPv4 nor an IPv6 address");
    }
    case EgressKind::kHttpConnect:
    case EgressKind::kSocks5: {
      std::string_view scheme = EgressKindName(egress.kind);
      if (egress.upstream_host.empty() || egress.upstream_host.size() > kMaxUpstreamHostLength) {
        return absl::InvalidArgumentError(
            fmt::format("{} egress host must be 1 to {} bytes", scheme, kMaxUpstreamHostLength));
      }
      for (char c : egress.upstream_host) {
        if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '@' || c == 0x7f) {
          return absl::InvalidArgumentError(
              fmt::format("{} egress host '{}' holds a space, control byte, '/' or '@'", scheme,
                          egress.upstream_host));
        }
      }
      if (egress.upstream_port == 0) {
        return absl::InvalidArgumentError(fmt::format("{} egress port must be 1 to 65535", scheme));
      }
      if (egress.upstream_username.size() > kMaxUpstreamCredentialLength ||
          egress.upstream_password.size() > kMaxUpstreamCredentialLength) {
        return absl::InvalidArgumentError(
            fmt::format("{} egress username and password must be at most {} bytes each", scheme,
                        kMaxUpstreamCredentialLength));
      }
      if (egress.kind == EgressKind::kHttpConnect &&
          egress.upstream_username.find(':') != std::string::npos) {
        // HTTP Basic separates user-id and password with the first ':' (RFC 7617).
        return absl::InvalidArgumentError("http egress username must not contain ':'");
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("egress kind is not direct, http or socks5");
}

std::string FormatHost(std::string_view host) {
  if (host.find(':') != std::string_view::npos) {
    return fmt::format("[{}]", host);
  }
  return std::string(host);
}

}  // namespace

std::string_view EgressKindName(EgressKind kind) {
  switch (kind) {
    case EgressKind::kDirect:
      return "direct";
    case EgressKind::kHttpConnect:
      return "http";
    case EgressKind::kSocks5:
      return "socks5";
  }
  return "unknown";
}

bool operator==(const Egress& a, const Egress& b) {
  return a.kind == b.kind && a.source_len == b.source_len &&
         std::memcmp(&a.source, &b.source, a.source_len) == 0 &&
         a.upstream_host == b.upstream_host && a.upstream_port == b.upstream_port &&
         a.upstream_username == b.upstream_username && a.upstream_password == b.upstream_password;
}

std::string DescribeEgress(const Egress& egress) {
  if (egress.kind == EgressKind::kDirect) {
    if (egress.source_len == 0) {
      return "direct";
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (egress.source.ss_family == AF_INET) {
      const auto& v4 = reinterpret_cast<const sockaddr_in&>(egress.source);
      inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
      return fmt::format("direct:{}", text);
    }
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(egress.source);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
    return fmt::format("direct:[{}]", text);
  }

  std::string user;
  if (!egress.upstream_username.empty()) {
    user = fmt::format("{}@", egress.upstream_username);
  }
  return fmt::format("{}://{}{}:{}", EgressKindName(egress.kind), user,
                     FormatHost(egress.upstream_host), egress.upstream_port);
}

absl::Status ValidateExitSpec(const ExitSpec& spec) {
  if (spec.id.empty() || spec.id.size() > kMaxExitIdLength) {
    return absl::InvalidArgumentError(
        fmt::format("id '{}' is not 1 to {} bytes long", spec.id, kMaxExitIdLength));
  }
  for (char c : spec.id) {
    if (!IsIdByte(c)) {
      return absl::InvalidArgumentError(fmt::format(
          "id '{}' holds a byte other than letters, digits, '.', '_', ':' and '-'", spec.id));
    }
  }
  if (static_cast<int>(spec.pool) >= kPoolCount) {
    return absl::InvalidArgumentError(
        fmt::format("pool {} is not a known pool", static_cast<int>(spec.pool)));
  }
  if (!spec.country.empty() && (spec.country.size() != 2 || !IsAsciiLetter(spec.country[0]) ||
                                !IsAsciiLetter(spec.country[1]))) {
    return absl::InvalidArgumentError(fmt::format("country '{}' is not two letters", spec.country));
  }
  absl::Status place = ValidatePlace(PlaceKind::kState, spec.state, spec.country);
  if (place.ok()) {
    place = ValidatePlace(PlaceKind::kCity, spec.city, spec.country);
  }
  if (place.ok()) {
    place = ValidatePlace(PlaceKind::kZip, spec.zip, spec.country);
  }
  if (!place.ok()) {
    return place;
  }
  if (spec.weight < 1 || spec.weight > kMaxExitWeight) {
    return absl::InvalidArgumentError(
        fmt::format("weight {} is not 1 to {}", spec.weight, kMaxExitWeight));
  }
  return ValidateEgress(spec.egress);
}

const Exit* Exit::Create(const ExitSpec& spec, ExitHandle handle, const PlaceDictionary& places,
                         std::shared_ptr<ExitRuntime> runtime) {
  Exit* exit = new Exit();
  exit->runtime_ = runtime != nullptr ? std::move(runtime) : std::make_shared<ExitRuntime>();
  exit->runtime_->healthy.store(spec.healthy, std::memory_order_relaxed);
  exit->handle_ = handle;
  exit->pool_ = spec.pool;
  exit->country_ = CountryFromSpec(spec.country);
  exit->state_ = PlaceFromSpec(places, PlaceKind::kState, spec.state);
  exit->city_ = PlaceFromSpec(places, PlaceKind::kCity, spec.city);
  exit->zip_ = PlaceFromSpec(places, PlaceKind::kZip, spec.zip);
  STRAIT_CHECK(exit->state_ != kUnknownPlace && exit->city_ != kUnknownPlace &&
               exit->zip_ != kUnknownPlace);
  exit->asn_ = spec.asn;
  exit->capacity_ = spec.capacity;
  exit->weight_ = spec.weight;
  exit->id_ = spec.id;
  exit->egress_ = spec.egress;
  return exit;
}

bool Exit::SameAttributes(const ExitSpec& spec, const PlaceDictionary& places) const {
  return id_ == spec.id && pool_ == spec.pool && country_ == CountryFromSpec(spec.country) &&
         state_ == PlaceFromSpec(places, PlaceKind::kState, spec.state) &&
         city_ == PlaceFromSpec(places, PlaceKind::kCity, spec.city) &&
         zip_ == PlaceFromSpec(places, PlaceKind::kZip, spec.zip) && asn_ == spec.asn &&
         capacity_ == spec.capacity && weight_ == spec.weight && egress_ == spec.egress;
}

void Exit::Unref() const {
  // acq_rel: every use of the exit by other holders happens before the delete.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete this;
  }
}

ExitLease Exit::TryLease() const {
  std::atomic<uint32_t>& active = runtime_->active_tunnels;
  if (capacity_ == 0) {
    active.fetch_add(1, std::memory_order_relaxed);
  } else {
    // A compare-and-swap loop, so that the capacity check and the increment are one step. Each
    // failed exchange means another thread changed the count, so the loop is lock-free; the
    // bound only guards against a broken counter.
    uint32_t current = active.load(std::memory_order_relaxed);
    int attempts = 0;
    do {
      if (current >= capacity_ || ++attempts > 1'000'000) {
        return ExitLease();
      }
    } while (!active.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
  }
  Ref();
  return ExitLease(this);
}

ExitLease& ExitLease::operator=(ExitLease&& other) noexcept {
  if (this != &other) {
    Release();
    exit_ = other.exit_;
    other.exit_ = nullptr;
  }
  return *this;
}

void ExitLease::Release() {
  if (exit_ == nullptr) {
    return;
  }
  exit_->runtime()->active_tunnels.fetch_sub(1, std::memory_order_relaxed);
  exit_->Unref();
  exit_ = nullptr;
}

}  // namespace strait::routing
