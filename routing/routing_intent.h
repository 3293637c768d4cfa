#pragma once

// The routing intent: what a client asked for in its username, in a fixed-size form that exit
// selection compares as integers. Produced by ParseRoutingString() (routing/parser.h).
//
// The string views point into the username the intent was parsed from; the intent is valid only
// while that buffer lives. Place ids come from the PlaceDictionary used for parsing and are
// comparable with the ids of the exit snapshot that owns that dictionary.

#include <cstdint>
#include <string_view>

namespace strait::routing {

// ISO 3166-1 alpha-2 country as two lower-case ASCII letters packed high byte first
// ('g' << 8 | 'b' for "gb"). Zero means "no country given".
struct CountryCode {
  uint16_t packed = 0;

  // `a` and `b` must already be lower-case letters.
  static constexpr CountryCode FromLowerLetters(char a, char b) {
    return CountryCode{
        static_cast<uint16_t>((static_cast<uint8_t>(a) << 8) | static_cast<uint8_t>(b))};
  }

  constexpr bool empty() const { return packed == 0; }
  constexpr char first() const { return static_cast<char>(packed >> 8); }
  constexpr char second() const { return static_cast<char>(packed & 0xff); }

  friend constexpr bool operator==(CountryCode, CountryCode) = default;
};

// Interned id of a state, city or ZIP name; see routing/place_dictionary.h.
using PlaceId = uint32_t;

// The constraint was not given.
inline constexpr PlaceId kAnyPlace = 0;

// The constraint was given with a syntactically valid name that no exit has (the dictionary does
// not know it). Selection answers no_exit for it; it is not a parse error.
inline constexpr PlaceId kUnknownPlace = 0xffffffffu;

enum RoutingFlag : uint8_t {
  kRoutingFlagSmartpath = 1 << 0,  // `smartpath`: the gateway picks the pool per target
  kRoutingFlagStrict = 1 << 1,     // `strict`: a sticky session never moves to another exit
};

struct RoutingIntent {
  std::string_view account;

  CountryCode country;
  uint8_t flags = 0;

  PlaceId state = kAnyPlace;
  PlaceId city = kAnyPlace;
  PlaceId zip = kAnyPlace;

  // The values as the client wrote them (any letter case, words joined by `_`); empty when the
  // key was absent. Kept for messages and for formatting names the dictionary does not know.
  std::string_view state_text;
  std::string_view city_text;
  std::string_view zip_text;

  uint32_t asn = 0;  // 0: no ASN constraint

  // Sticky session: empty session_id means rotating. session_key identifies the pair
  // (account, session id) in the affinity table; see SessionKey() in routing/parser.h.
  std::string_view session_id;
  uint64_t session_key = 0;

  uint32_t ttl_s = 0;  // 0: no ttl given, the configured default applies

  bool sticky() const { return !session_id.empty(); }
  bool smartpath() const { return (flags & kRoutingFlagSmartpath) != 0; }
  bool strict() const { return (flags & kRoutingFlagStrict) != 0; }
};

}  // namespace strait::routing
