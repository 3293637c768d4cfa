#pragma once

// The routing-string parser: turns the username of a client's proxy credentials into a
// RoutingIntent (routing/routing_intent.h), and an intent back into its canonical string.
//
//   RoutingIntent intent;
//   RoutingError error = ParseRoutingString("alice_c_us_city_new_york_s_ab12_ttl_2h", places,
//                                           &intent);
//   if (!error.ok()) {
//     char message[kMaxRoutingErrorMessageLength];
//     size_t length = error.Describe(message, sizeof(message));   // "bad_routing" details
//   }
//
// Grammar. A routing string is an account followed by `_key` or `_key_value` parts:
//
//   routing  = account *( "_" key [ "_" value ] )      at most kMaxRoutingStringLength bytes
//   account  = 1..kMaxAccountLength of [A-Za-z0-9.-]   case-sensitive, never holds '_'
//
//   key        value                                      rule
//   c          two letters, an ISO 3166-1 alpha-2 code    stored lower case
//   state      place name (below)                         needs c
//   city       place name                                 needs c
//   zip        place name (letters, digits, '-')          needs c
//   asn        1..4294967295, decimal, no leading zeros   no "as"/"AS" prefix: "asn_7018" only
//   s          1..kMaxSessionIdLength of [A-Za-z0-9]      case-sensitive; makes the route sticky
//   ttl        N then m, h or d; N without leading zeros  needs s; 1m..24h (1d is 24h)
//   smartpath  (none)                                     the gateway picks the pool
//   strict     (none)                                     needs s; the session never moves
//
// - Keys are case-insensitive and may come in any order; each may appear once.
// - Values other than the session id are case-insensitive (`C_US` == `c_us`).
// - A place name is one or more words of [A-Za-z0-9-] joined by '_' (`new_york`,
//   `north_carolina`), at most PlaceDictionary::kMaxNameLength bytes. It runs until the next word
//   that is a key, so a place whose name contains a key as a word (a city "c" or "s") cannot be
//   written, and a value that starts with a key is missing: `city_asn_7018` is an error
//   ("key 'city' needs a value"). Names are looked up in the PlaceDictionary after
//   NormalizePlaceName(); a name the dictionary does not know gives kUnknownPlace, not an error.
// - The country must be one of the 249 officially assigned ISO 3166-1 alpha-2 codes or `xk`
//   (Kosovo, user-assigned but used by registries and geolocation data). `uk` is not accepted:
//   the United Kingdom is `gb`.
// - Anything else is an error that names the offending part; the parser never falls back to a
//   looser route.
//
// Costs and limits: ParseRoutingString() makes one pass over the bytes, allocates nothing (error
// path included) and throws nothing: ~7 ns for `alice`, ~30 ns for a sticky session, ~270 ns for
// a 255-byte string using every key (three place lookups and the session key's SipHash are over
// half of that), 6 to 14 times faster than splitting into strings
// (`bazel run --config=opt //bench/routing:parser_benchmark`, table in bench/README.md). All
// functions here are thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "routing/place_dictionary.h"
#include "routing/routing_intent.h"

namespace strait::routing {

// Longest username accepted; 255 is also the RFC 1929 SOCKS5 limit.
inline constexpr size_t kMaxRoutingStringLength = 255;

// Longest account name.
inline constexpr size_t kMaxAccountLength = 64;

// Longest session id (the value of `s`).
inline constexpr size_t kMaxSessionIdLength = 64;

// TTL bounds, in seconds.
inline constexpr uint32_t kMinTtlSeconds = 60;
inline constexpr uint32_t kMaxTtlSeconds = 24 * 60 * 60;

// Every message of RoutingError::Describe() fits in this many bytes.
inline constexpr size_t kMaxRoutingErrorMessageLength = 192;

enum class RoutingErrorCode : uint8_t {
  kNone = 0,
  kTooLong,               // longer than kMaxRoutingStringLength
  kBadByte,               // a byte outside [A-Za-z0-9._-]
  kEmptyAccount,          // nothing before the first '_'
  kAccountTooLong,        // longer than kMaxAccountLength
  kEmptyPart,             // "__"
  kTrailingSeparator,     // the string ends with '_'
  kUnknownKey,            // a word where a key belongs that is not one
  kDuplicateKey,          // a key given twice
  kEmptyValue,            // a key that needs a value has none
  kUnexpectedValue,       // a value after `smartpath` or `strict`
  kBadCountry,            // not two letters
  kUnknownCountry,        // two letters, but no ISO 3166-1 alpha-2 code
  kBadPlaceName,          // state / city / zip value not a place name
  kBadAsn,                // not 1..4294967295 in decimal without leading zeros
  kBadSessionId,          // not 1..64 letters or digits
  kBadTtl,                // not N followed by m, h or d
  kTtlOutOfRange,         // outside 1m..24h
  kTtlWithoutSession,     // ttl without s
  kStrictWithoutSession,  // strict without s
  kPlaceWithoutCountry,   // state, city or zip without c
};

// A stable snake_case name for logs and metric labels ("unknown_key"); "none" for kNone.
std::string_view RoutingErrorCodeName(RoutingErrorCode code);

// The outcome of ParseRoutingString(): kNone, or what is wrong and where. Views point into the
// parsed username and are valid only while it lives.
struct RoutingError {
  RoutingErrorCode code = RoutingErrorCode::kNone;
  uint16_t offset = 0;    // byte offset of the offending part in the input
  std::string_view part;  // the offending key/value, a view into the input
  // The key the error concerns, in canonical lower case ("ttl"), static storage; empty when the
  // error concerns no particular key (kBadByte, kEmptyAccount, ...).
  std::string_view key;

  bool ok() const { return code == RoutingErrorCode::kNone; }

  // Writes the human message ("unknown key 'cty' at offset 8", "ttl without s",
  // "ttl 25h out of range (1m..24h)", "country 'usa' is not two letters", "duplicate key 'c'")
  // into out[0..capacity), never allocating, and returns the number of bytes written. The text
  // is not NUL-terminated; it is cut at `capacity` when longer. Bytes of the input outside
  // printable ASCII are written as \xNN, and a quoted part is cut after 64 bytes with "...", so
  // every message fits in kMaxRoutingErrorMessageLength bytes.
  size_t Describe(char* out, size_t capacity) const;

  // Describe() into a string, for tests and logs (allocates).
  std::string Message() const;
};

// Parses `username` in one pass, with no heap allocation and no exceptions. On success fills
// *intent (its views point into `username`, session_key is SessionKey(account, session id)) and
// returns an ok error; on failure returns the first problem in reading order, then the first
// missing dependency (`ttl without s`) in reading order, and leaves *intent unchanged. Place
// names are looked up in `places`: unknown names give kUnknownPlace, not an error.
RoutingError ParseRoutingString(std::string_view username, const PlaceDictionary& places,
                                RoutingIntent* intent);

// Writes the canonical, shortest form of `intent` into out[0..capacity): the account, then c,
// state, city, zip, asn, s, ttl, smartpath, strict; values lower-cased except the session id;
// ttl in the largest exact unit (120 minutes -> `2h`, 24 hours -> `1d`). Returns its length, or
// 0 when it does not fit (nothing useful is written then). Places are written from their text
// (state_text ...), so a place given only as an id is left out; a ttl that is not whole minutes
// is rounded up to one. For every intent ParseRoutingString() produced,
// parse(format(x)) is SameRoute() as x. Allocates nothing.
size_t FormatRoutingIntent(const RoutingIntent& intent, char* out, size_t capacity);

// FormatRoutingIntent() into a string (allocates).
std::string FormatRoutingIntent(const RoutingIntent& intent);

// True when `a` and `b` ask for the same route: every field equal, the place texts equal ignoring
// ASCII letter case (the parser keeps them as written).
bool SameRoute(const RoutingIntent& a, const RoutingIntent& b);

// Key of the sticky pair (account, session id) in the affinity table: SipHash-2-4 keyed with a
// process-wide random secret (drawn once from getrandom(2)), so clients cannot craft collisions,
// over the account's length (4 bytes), the account and the session id, so the pair is
// unambiguous. The same pair gives the same key on every thread for the life of the process, and
// a different one in another process. Allocates nothing.
uint64_t SessionKey(std::string_view account, std::string_view session_id);

}  // namespace strait::routing
