#pragma once

// PlaceDictionary interns state, city and ZIP names as small integers, so that the routing
// parser and the exit index compare ids instead of strings.
//
// A dictionary is immutable once built and safe to read from any number of threads. The exit
// registry builds a new one for each exit snapshot, starting from the previous one, so an id
// keeps its meaning across snapshots for as long as the process runs.
//
//   PlaceDictionary::Builder builder;
//   PlaceId charlotte = builder.Intern(PlaceKind::kCity, "Charlotte").value();
//   std::shared_ptr<const PlaceDictionary> places = std::move(builder).Build();
//   places->Find(PlaceKind::kCity, "CHARLOTTE") == charlotte;   // case-insensitive
//
// Names are normalized to lower case with spaces turned into `_` ("New York" -> "new_york").
// After that a name is 1 to kMaxNameLength bytes of [a-z0-9_-], neither starting nor ending
// with `_`. Lookups allocate nothing.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "routing/routing_intent.h"

namespace strait::routing {

enum class PlaceKind : uint8_t { kState = 0, kCity = 1, kZip = 2 };

inline constexpr int kPlaceKindCount = 3;

// "state", "city", "zip": also the routing-string key of each kind.
std::string_view PlaceKindName(PlaceKind kind);

class PlaceDictionary {
 public:
  static constexpr size_t kMaxNameLength = 64;

  // The id of `name` (any letter case, spaces or `_` between words), or kUnknownPlace when no
  // exit ever had that name, or when the name is not a valid place name at all.
  PlaceId Find(PlaceKind kind, std::string_view name) const;

  // Find() for a name that NormalizePlaceName() already produced; skips normalizing again.
  PlaceId FindNormalized(PlaceKind kind, std::string_view normalized) const;

  // The normalized name of `id`; empty for kAnyPlace, kUnknownPlace and ids never issued.
  std::string_view Name(PlaceKind kind, PlaceId id) const;

  // Number of names of `kind`; ids run from 1 to size(kind).
  size_t size(PlaceKind kind) const { return names_[static_cast<int>(kind)].size(); }

  class Builder {
   public:
    Builder() = default;

    // Starts from `base`: every name keeps its id, new names get the next ids.
    explicit Builder(const PlaceDictionary& base);

    // Returns the id of `name`, adding it if new. Fails with InvalidArgument naming the input
    // when the name is empty, too long, or holds a byte outside the allowed set.
    absl::StatusOr<PlaceId> Intern(PlaceKind kind, std::string_view name);

    std::shared_ptr<const PlaceDictionary> Build() &&;

   private:
    std::unique_ptr<PlaceDictionary> dictionary_ = std::make_unique<PlaceDictionary>();
  };

  PlaceDictionary() = default;

 private:
  using IdMap = absl::flat_hash_map<std::string, PlaceId>;

  IdMap ids_[kPlaceKindCount];
  std::vector<std::string> names_[kPlaceKindCount];
};

// Writes the normalized form of `name` into `out` (which must hold kMaxNameLength bytes) and
// returns its length, or 0 when `name` cannot be a place name. Shared by the dictionary and the
// routing parser so both agree on what a name is.
size_t NormalizePlaceName(std::string_view name, char* out);

}  // namespace strait::routing
