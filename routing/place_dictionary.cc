#include "routing/place_dictionary.h"

#include "core/absl_compat.h"
#include "fmt/format.h"

namespace strait::routing {
namespace {

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

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
    char c = name[i] == ' ' ? '_' : LowerAscii(name[i]);
    if (!IsNameByte(c)) {
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
