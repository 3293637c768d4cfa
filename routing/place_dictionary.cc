#include "routing/place_dictionary.h"

#include <array>

#include "core/absl_compat.h"
#include "fmt/format.h"

namespace strait::routing {
namespace {

// Each byte's normalized form: letters lower-cased, ' ' turned into '_', digits, '-' and '_'
// kept; 0 for a byte no name may hold. One load per byte (the routing parser calls this for every
// place name it reads).
constexpr std::array<char, 256> MakeNormalizedBytes() {
  std::array<char, 256> bytes{};
  for (char c = 'a'; c <= 'z'; ++c) {
    bytes[static_cast<uint8_t>(c)] = c;
    bytes[static_cast<uint8_t>(c - 'a' + 'A')] = c;
  }
  for (char c = '0'; c <= '9'; ++c) {
    bytes[static_cast<uint8_t>(c)] = c;
  }
  bytes['-'] = '-';
  bytes['_'] = '_';
  bytes[' '] = '_';
  return bytes;
}

constexpr std::array<char, 256> kNormalizedBytes = MakeNormalizedBytes();

}  // namespace

std::string_view PlaceKindName(PlaceKind kind) {
  switch (kind) {
    case PlaceKind::kState:
      return "state";
    case PlaceKind::kCity:
      return "city";
    case PlaceKind::kZip:
      return "zip";
  }
  return "place";
}

size_t NormalizePlaceName(std::string_view name, char* out) {
  if (name.empty() || name.size() > PlaceDictionary::kMaxNameLength) {
    return 0;
  }

  for (size_t i = 0; i < name.size(); ++i) {
    char c = kNormalizedBytes[static_cast<uint8_t>(name[i])];
    if (c == 0) {
      return 0;
    }
    out[i] = c;
  }

  if (out[0] == '_' || out[name.size() - 1] == '_') {
    return 0;
  }
  return name.size();
}

PlaceId PlaceDictionary::Find(PlaceKind kind, std::string_view name) const {
  char normalized[kMaxNameLength];
  size_t length = NormalizePlaceName(name, normalized);
  if (length == 0) {
    return kUnknownPlace;
  }
  return FindNormalized(kind, std::string_view(normalized, length));
}

PlaceId PlaceDictionary::FindNormalized(PlaceKind kind, std::string_view normalized) const {
  const IdMap& ids = ids_[static_cast<int>(kind)];
  auto it = ids.find(AbslView(normalized));
  return it == ids.end() ? kUnknownPlace : it->second;
}

std::string_view PlaceDictionary::Name(PlaceKind kind, PlaceId id) const {
  const std::vector<std::string>& names = names_[static_cast<int>(kind)];
  if (id == kAnyPlace || id > names.size()) {
    return {};
  }
  return names[id - 1];
}

PlaceDictionary::Builder::Builder(const PlaceDictionary& base)
    : dictionary_(std::make_unique<PlaceDictionary>(base)) {}

absl::StatusOr<PlaceId> PlaceDictionary::Builder::Intern(PlaceKind kind, std::string_view name) {
  char normalized[kMaxNameLength];
  size_t length = NormalizePlaceName(name, normalized);
  if (length == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "{} name '{}' is not 1 to {} letters, digits, '-' or words joined by '_' or ' '",
        PlaceKindName(kind), name, kMaxNameLength));
  }

  int index = static_cast<int>(kind);
  std::string_view key(normalized, length);
  auto it = dictionary_->ids_[index].find(AbslView(key));
  if (it != dictionary_->ids_[index].end()) {
    return it->second;
  }

  std::vector<std::string>& names = dictionary_->names_[index];
  if (names.size() + 1 >= kUnknownPlace) {
    return absl::ResourceExhaustedError(
        fmt::format("too many distinct {} names", PlaceKindName(kind)));
  }
  names.emplace_back(key);
  PlaceId id = static_cast<PlaceId>(names.size());
  dictionary_->ids_[index].emplace(std::string(key), id);
  return id;
}

std::shared_ptr<const PlaceDictionary> PlaceDictionary::Builder::Build() && {
  return std::shared_ptr<const PlaceDictionary>(std::move(dictionary_));
}

}  // namespace strait::routing
