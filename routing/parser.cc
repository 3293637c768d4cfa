#include "routing/parser.h"

#include <sys/random.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <array>
#include <charconv>
#include <cerrno>
#include <cstdint>

#include "core/check.h"
#include "routing/internal/siphash.h"
#include "routing/internal/us_states.h"

namespace strait::routing {
namespace {

// ---------------------------------------------------------------------------------------------
// Bytes and keys

enum CharClass : uint8_t {
  kOther = 0,
  kLetter = 1 << 0,
  kDigit = 1 << 1,
  kDash = 1 << 2,
  kDot = 1 << 3,
  kSeparator = 1 << 4,
};

constexpr uint8_t kWordByte = kLetter | kDigit | kDash | kDot;

constexpr std::array<uint8_t, 256> MakeCharClasses() {
  std::array<uint8_t, 256> classes{};
  for (int c = 'a'; c <= 'z'; ++c) {
    classes[c] = kLetter;
    classes[c - 'a' + 'A'] = kLetter;
  }
  for (int c = '0'; c <= '9'; ++c) {
    classes[c] = kDigit;
  }
  classes['-'] = kDash;
  classes['.'] = kDot;
  classes['_'] = kSeparator;
  return classes;
}

// Bytes of a word have a class in kWordByte, '_' separates words, anything else is kBadByte. One
// table load per byte tells all three apart.
constexpr std::array<uint8_t, 256> kCharClasses = MakeCharClasses();

uint8_t ClassOf(char c) { return kCharClasses[static_cast<uint8_t>(c)]; }

#if defined(__SSE2__)
// Scans the 16 bytes at `p` at once (the byte loop costs about a cycle per byte, which dominated
// long strings): returns the number of leading word bytes, 16 when all are, and adds kDash and
// kDot to *punctuation when those bytes hold one. Signed byte compares are fine: bytes >= 0x80
// compare negative and fall outside every range, as they must.
[[gnu::always_inline]] inline size_t ScanChunk16(const char* p, uint8_t* punctuation) {
  __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // OR-ing 0x20 maps exactly the letters, and nothing else, into 'a'..'z'.
  __m128i folded = _mm_or_si128(bytes, _mm_set1_epi8(0x20));
  __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                                 _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
  __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(bytes, _mm_set1_epi8('0' - 1)),
                                _mm_cmplt_epi8(bytes, _mm_set1_epi8('9' + 1)));
  auto alnum = static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(letter, digit)));
  auto dashes = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('-'))));
  auto dots = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8('.'))));

  uint32_t stops = ~(alnum | dashes | dots) & 0xffffu;
  size_t length = stops == 0 ? 16 : static_cast<size_t>(__builtin_ctz(stops));
  uint32_t prefix = (1u << length) - 1;  // length <= 16, so no overflow
  *punctuation |= static_cast<uint8_t>(((dashes & prefix) != 0 ? kDash : 0) |
                                       ((dots & prefix) != 0 ? kDot : 0));
  return length;
}
#endif

bool IsDigit(char c) { return ClassOf(c) == kDigit; }

// Lower-cases an ASCII letter and leaves every other byte alone.
char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

enum class Key : uint8_t {
  kCountry,
  kState,
  kCity,
  kZip,
  kAsn,
  kSession,
  kTtl,
  kSmartpath,
  kStrict,
  kNotAKey,
};

constexpr int kKeyCount = static_cast<int>(Key::kNotAKey);

constexpr std::string_view kKeyNames[kKeyCount] = {
    "c", "state", "city", "zip", "asn", "s", "ttl", "smartpath", "strict",
};

std::string_view KeyName(Key key) { return kKeyNames[static_cast<int>(key)]; }

constexpr uint16_t KeyBit(Key key) { return static_cast<uint16_t>(1u << static_cast<int>(key)); }

// True when `word` (bytes of the word alphabet only) equals the lower-case `key` in any case.
// OR-ing 0x20 lower-cases a letter and leaves digits, '-' and '.' unchanged, and none of those
// becomes a letter, so one OR per byte compares case-insensitively.
bool WordIsKey(std::string_view word, std::string_view key) {
  if (word.size() != key.size()) {
    return false;
  }
  for (size_t i = 0; i < key.size(); ++i) {
    if ((word[i] | 0x20) != key[i]) {
      return false;
    }
  }
  return true;
}

// The key `word` names, or kNotAKey. Dispatches on the length first: one comparison per word.
[[gnu::always_inline]] inline Key LookupKey(std::string_view word) {
  switch (word.size()) {
    case 1:
      if ((word[0] | 0x20) == 'c') {
        return Key::kCountry;
      }
      if ((word[0] | 0x20) == 's') {
        return Key::kSession;
      }
      return Key::kNotAKey;
    case 3:
      if (WordIsKey(word, "zip")) {
        return Key::kZip;
      }
      if (WordIsKey(word, "asn")) {
        return Key::kAsn;
      }
      if (WordIsKey(word, "ttl")) {
        return Key::kTtl;
      }
      return Key::kNotAKey;
    case 4:
      return WordIsKey(word, "city") ? Key::kCity : Key::kNotAKey;
    case 5:
      return WordIsKey(word, "state") ? Key::kState : Key::kNotAKey;
    case 6:
      return WordIsKey(word, "strict") ? Key::kStrict : Key::kNotAKey;
    case 9:
      return WordIsKey(word, "smartpath") ? Key::kSmartpath : Key::kNotAKey;
    default:
      return Key::kNotAKey;
  }
}

bool IsPlaceKey(Key key) { return key == Key::kState || key == Key::kCity || key == Key::kZip; }

bool IsFlagKey(Key key) { return key == Key::kSmartpath || key == Key::kStrict; }

PlaceKind PlaceKindOf(Key key) {
  switch (key) {
    case Key::kState:
      return PlaceKind::kState;
    case Key::kCity:
      return PlaceKind::kCity;
    default:
      return PlaceKind::kZip;
  }
}

// ---------------------------------------------------------------------------------------------
// Countries

// Officially assigned ISO 3166-1 alpha-2 codes (249, checked against Debian's iso-codes
// /usr/share/iso-codes/json/iso_3166-1.json) plus the user-assigned `xk` for Kosovo. Row i lists
// the second letters of the codes whose first letter is 'a' + i.
constexpr std::string_view kCountrySecondLetters[26] = {
    /* a */ "defgilmoqrstuwxz",
    /* b */ "abdefghijlmnoqrstvwyz",
    /* c */ "acdfghiklmnoruvwxyz",
    /* d */ "ejkmoz",
    /* e */ "ceghrst",
    /* f */ "ijkmor",
    /* g */ "abdefghilmnpqrstuwy",
    /* h */ "kmnrtu",
    /* i */ "delmnoqrst",
    /* j */ "emop",
    /* k */ "eghimnprwyz",
    /* l */ "abcikrstuvy",
    /* m */ "acdefghklmnopqrstuvwxyz",
    /* n */ "acefgilopruz",
    /* o */ "m",
    /* p */ "aefghklmnrstwy",
    /* q */ "a",
    /* r */ "eosuw",
    /* s */ "abcdeghijklmnorstvxyz",
    /* t */ "cdfghjklmnortvwz",
    /* u */ "agmsyz",
    /* v */ "aceginu",
    /* w */ "fs",
    /* x */ "k",
    /* y */ "et",
    /* z */ "amw",
};

// One bit per second letter, one word per first letter.
constexpr std::array<uint32_t, 26> MakeCountryTable() {
  std::array<uint32_t, 26> table{};
  for (int first = 0; first < 26; ++first) {
    for (char second : kCountrySecondLetters[first]) {
      table[first] |= 1u << (second - 'a');
    }
  }
  return table;
}

constexpr std::array<uint32_t, 26> kCountryTable = MakeCountryTable();

// `a` and `b` are lower-case letters.
bool IsAssignedCountry(char a, char b) { return (kCountryTable[a - 'a'] >> (b - 'a')) & 1u; }

// ---------------------------------------------------------------------------------------------
// Numbers

// Parses 1 to `max_digits` decimal digits without a leading zero ("0" itself is allowed) into
// *value. False for anything else. max_digits <= 19, so the value cannot overflow.
bool ParseDecimal(std::string_view digits, size_t max_digits, uint64_t* value) {
  if (digits.empty() || digits.size() > max_digits || (digits[0] == '0' && digits.size() > 1)) {
    return false;
  }
  uint64_t result = 0;
  for (char c : digits) {
    if (!IsDigit(c)) {
      return false;
    }
    result = result * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = result;
  return true;
}

// ---------------------------------------------------------------------------------------------
// The parser

static_assert(kMaxRoutingStringLength <= 255, "the parser keeps offsets in bytes");

// A word (or several joined by '_') of the input, [begin, end), and whether it holds '-' or '.'
// (kDash, kDot), which session ids and place names must check for and the scan learns for free.
struct Span {
  size_t begin;
  size_t end;
  uint8_t punctuation = 0;
};

// One parse: the input, the dictionary, what was read so far and the first error. Every step
// returns false after recording the error, so Run() reads as the grammar with early returns.
//
// The intent is kept in small fields (offsets as bytes, ids) and written out only on success:
// zeroing a 120-byte RoutingIntent and copying it out cost more than the rest of a short parse
// (`alice` took ~40 ns that way, ~8 ns this way; `bazel run --config=opt
// //bench/routing:parser_benchmark`).
class Parser {
 public:
  Parser(std::string_view input, const PlaceDictionary& places) : in_(input), places_(places) {}

  RoutingError Run(RoutingIntent* intent);

 private:
  std::string_view View(Span span) const { return in_.substr(span.begin, span.end - span.begin); }

  bool Seen(Key key) const { return (seen_ & KeyBit(key)) != 0; }

  // The value read for `key`, or empty when the key was not given.
  std::string_view ValueOf(Key key) const {
    int index = static_cast<int>(key);
    return Seen(key) ? in_.substr(value_begin_[index], value_end_[index] - value_begin_[index])
                     : std::string_view();
  }

  bool Fail(RoutingErrorCode code, size_t offset, std::string_view part,
            std::string_view key = {}) {
    error_.code = code;
    error_.offset = static_cast<uint16_t>(offset);
    error_.part = part;
    error_.key = key;
    return false;
  }

  // Scans the word starting at `begin` up to the next '_' or the end of the input, into *word.
  [[gnu::always_inline]] inline bool ScanWord(size_t begin, Span* word);

  // Reads the word after the '_' at `separator` into *word; an empty one is an error.
  [[gnu::always_inline]] inline bool NextWord(size_t separator, Span* word);

  // Each checks the value of its key and records it.
  bool SetCountry(Span value);
  bool SetPlace(Key key, Span value);
  bool SetAsn(Span value);
  bool SetSession(Span value);
  bool SetTtl(Span value);
  bool SetValue(Key key, Span value);

  // After the last word: ttl and strict need s, places need c. Reports the first offender in
  // reading order.
  bool CheckDependencies();

  // Writes every field of *intent from what was read.
  void Emit(size_t account_end, RoutingIntent* intent) const;

  std::string_view in_;
  const PlaceDictionary& places_;
  RoutingError error_;

  uint16_t seen_ = 0;  // KeyBit() of every key read so far
  uint8_t flags_ = 0;
  CountryCode country_;
  uint32_t asn_ = 0;
  uint32_t ttl_s_ = 0;
  PlaceId place_ids_[kPlaceKindCount];  // valid for the place keys in seen_

  // Where each key read so far, and its value, were written; valid for the keys in seen_ only,
  // so they need no zeroing.
  uint8_t key_begin_[kKeyCount];
  uint8_t key_end_[kKeyCount];
  uint8_t value_begin_[kKeyCount];
  uint8_t value_end_[kKeyCount];
};

inline bool Parser::ScanWord(size_t begin, Span* word) {
  size_t end = begin;
  uint8_t punctuation = 0;
  bool stopped = false;
#if defined(__SSE2__)
  // 16 bytes at a time while they lie inside the input; the tail goes byte by byte.
  while (!stopped && end + 16 <= in_.size()) {
    size_t length = ScanChunk16(in_.data() + end, &punctuation);
    end += length;
    stopped = length < 16;
  }
#endif
  while (!stopped && end < in_.size()) {
    uint8_t byte_class = ClassOf(in_[end]);
    if ((byte_class & kWordByte) == 0) {
      break;
    }
    punctuation |= byte_class & (kDash | kDot);
    ++end;
  }
  if (end < in_.size() && ClassOf(in_[end]) != kSeparator) [[unlikely]] {
    return Fail(RoutingErrorCode::kBadByte, end, in_.substr(end, 1));
  }
  *word = Span{begin, end, punctuation};
  return true;
}

inline bool Parser::NextWord(size_t separator, Span* word) {
  if (!ScanWord(separator + 1, word)) {
    return false;
  }
  if (word->begin == word->end) [[unlikely]] {
    if (word->end == in_.size()) {
      return Fail(RoutingErrorCode::kTrailingSeparator, separator, in_.substr(separator, 1));
    }
    return Fail(RoutingErrorCode::kEmptyPart, separator, in_.substr(separator, 2));
  }
  return true;
}

bool Parser::SetCountry(Span value) {
  std::string_view text = View(value);
  if (text.size() != 2 || ClassOf(text[0]) != kLetter || ClassOf(text[1]) != kLetter) {
    return Fail(RoutingErrorCode::kBadCountry, value.begin, text, "c");
  }
  char first = LowerAscii(text[0]);
  char second = LowerAscii(text[1]);
  if (!IsAssignedCountry(first, second)) {
    return Fail(RoutingErrorCode::kUnknownCountry, value.begin, text, "c");
  }
  country_ = CountryCode::FromLowerLetters(first, second);
  return true;
}

bool Parser::SetPlace(Key key, Span value) {
  std::string_view text = View(value);
  char normalized[PlaceDictionary::kMaxNameLength];
  size_t length = text.size() <= PlaceDictionary::kMaxNameLength && (value.punctuation & kDot) == 0
                      ? NormalizePlaceName(text, normalized)
                      : 0;
  if (length == 0) {
    return Fail(RoutingErrorCode::kBadPlaceName, value.begin, text, KeyName(key));
  }

  PlaceKind kind = PlaceKindOf(key);
  place_ids_[static_cast<int>(kind)] =
      places_.FindNormalized(kind, std::string_view(normalized, length));
  return true;
}

bool Parser::SetAsn(Span value) {
  std::string_view text = View(value);
  uint64_t asn = 0;
  if (!ParseDecimal(text, 10, &asn) || asn == 0 || asn > 0xffffffffu) {
    return Fail(RoutingErrorCode::kBadAsn, value.begin, text, "asn");
  }
  asn_ = static_cast<uint32_t>(asn);
  return true;
}

bool Parser::SetSession(Span value) {
  std::string_view text = View(value);
  if (text.size() > kMaxSessionIdLength || value.punctuation != 0) {
    return Fail(RoutingErrorCode::kBadSessionId, value.begin, text, "s");
  }
  return true;
}

bool Parser::SetTtl(Span value) {
  std::string_view text = View(value);
  uint32_t unit_s = 0;
  switch (LowerAscii(text.back())) {
    case 'm':
      unit_s = 60;
      break;
    case 'h':
      unit_s = 60 * 60;
      break;
    case 'd':
      unit_s = 24 * 60 * 60;
      break;
    default:
      break;
  }

  // More than 6 digits cannot be in range, so they only need to be digits to count as "out of
  // range" rather than malformed.
  std::string_view digits = text.substr(0, text.size() - 1);
  bool shaped = unit_s != 0 && !digits.empty() && (digits[0] != '0' || digits.size() == 1);
  for (size_t i = 0; shaped && i < digits.size(); ++i) {
    shaped = IsDigit(digits[i]);
  }
  if (!shaped) {
    return Fail(RoutingErrorCode::kBadTtl, value.begin, text, "ttl");
  }

  uint64_t count = 0;
  bool in_range = ParseDecimal(digits, 6, &count) && count * unit_s >= kMinTtlSeconds &&
                  count * unit_s <= kMaxTtlSeconds;
  if (!in_range) {
    return Fail(RoutingErrorCode::kTtlOutOfRange, value.begin, text, "ttl");
  }
  ttl_s_ = static_cast<uint32_t>(count * unit_s);
  return true;
}

bool Parser::SetValue(Key key, Span value) {
  int index = static_cast<int>(key);
  value_begin_[index] = static_cast<uint8_t>(value.begin);
  value_end_[index] = static_cast<uint8_t>(value.end);
  switch (key) {
    case Key::kCountry:
      return SetCountry(value);
    case Key::kAsn:
      return SetAsn(value);
    case Key::kSession:
      return SetSession(value);
    case Key::kTtl:
      return SetTtl(value);
    default:
      return SetPlace(key, value);
  }
}

bool Parser::CheckDependencies() {
  struct Rule {
    Key key;
    Key needs;
    RoutingErrorCode code;
  };
  static constexpr Rule kRules[] = {
      {Key::kState, Key::kCountry, RoutingErrorCode::kPlaceWithoutCountry},
      {Key::kCity, Key::kCountry, RoutingErrorCode::kPlaceWithoutCountry},
      {Key::kZip, Key::kCountry, RoutingErrorCode::kPlaceWithoutCountry},
      {Key::kTtl, Key::kSession, RoutingErrorCode::kTtlWithoutSession},
      {Key::kStrict, Key::kSession, RoutingErrorCode::kStrictWithoutSession},
  };
  static constexpr uint16_t kDependents = KeyBit(Key::kState) | KeyBit(Key::kCity) |
                                          KeyBit(Key::kZip) | KeyBit(Key::kTtl) |
                                          KeyBit(Key::kStrict);
  if ((seen_ & kDependents) == 0) {
    return true;
  }

  const Rule* first = nullptr;
  for (const Rule& rule : kRules) {
    bool broken = Seen(rule.key) && !Seen(rule.needs);
    if (broken && (first == nullptr || key_begin_[static_cast<int>(rule.key)] <
                                           key_begin_[static_cast<int>(first->key)])) {
      first = &rule;
    }
  }
  if (first == nullptr) {
    return true;
  }
  int index = static_cast<int>(first->key);
  Span word{key_begin_[index], key_end_[index]};
  return Fail(first->code, word.begin, View(word), KeyName(first->key));
}

void Parser::Emit(size_t account_end, RoutingIntent* intent) const {
  // Every field is written: a field added to RoutingIntent must be added here too.
  static_assert(sizeof(RoutingIntent) == 120, "RoutingIntent changed: update Parser::Emit");

  // The session key is computed from locals before any store to *intent: reading back a view
  // just stored field by field stalls on store forwarding.
  std::string_view account = in_.substr(0, account_end);
  std::string_view session_id = ValueOf(Key::kSession);
  uint64_t session_key = Seen(Key::kSession) ? SessionKey(account, session_id) : uint64_t{0};

  intent->account = account;
  intent->country = country_;
  intent->flags = flags_;

  intent->state = Seen(Key::kState) ? place_ids_[static_cast<int>(PlaceKind::kState)] : kAnyPlace;
  intent->city = Seen(Key::kCity) ? place_ids_[static_cast<int>(PlaceKind::kCity)] : kAnyPlace;
  intent->zip = Seen(Key::kZip) ? place_ids_[static_cast<int>(PlaceKind::kZip)] : kAnyPlace;
  intent->state_text = ValueOf(Key::kState);
  if (intent->state == kUnknownPlace && country_ == CountryCode::FromLowerLetters('u', 's')) {
    // A USPS code (`state_fl`) stands for the state's name unless the exits file itself uses
    // the code. The text stays as written, so the canonical form is never longer than the input.
    std::string_view name = internal::UsStateName(intent->state_text);
    if (!name.empty()) {
      intent->state = places_.FindNormalized(PlaceKind::kState, name);
    }
  }
  intent->city_text = ValueOf(Key::kCity);
  intent->zip_text = ValueOf(Key::kZip);

  intent->asn = asn_;
  intent->session_id = session_id;
  intent->session_key = session_key;
  intent->ttl_s = ttl_s_;
}

RoutingError Parser::Run(RoutingIntent* intent) {
  if (in_.size() > kMaxRoutingStringLength) [[unlikely]] {
    Fail(RoutingErrorCode::kTooLong, kMaxRoutingStringLength, in_);
    return error_;
  }

  Span account;
  if (!ScanWord(0, &account)) {
    return error_;
  }
  if (account.end == 0) {
    Fail(RoutingErrorCode::kEmptyAccount, 0, {});
    return error_;
  }
  if (account.end > kMaxAccountLength) {
    Fail(RoutingErrorCode::kAccountTooLong, 0, View(account));
    return error_;
  }

  // `word` is the next word to read as a key. A place value ends by reading the key after it,
  // which it hands over through `have_word` instead of scanning it twice.
  size_t cursor = account.end;
  Span word{0, 0};
  bool have_word = false;
  Key last_flag = Key::kNotAKey;
  while (have_word || cursor < in_.size()) {
    if (!have_word && !NextWord(cursor, &word)) {
      return error_;
    }
    have_word = false;
    cursor = word.end;

    std::string_view text = View(word);
    Key key = LookupKey(text);
    if (key == Key::kNotAKey) {
      if (last_flag != Key::kNotAKey) {
        Fail(RoutingErrorCode::kUnexpectedValue, word.begin, text, KeyName(last_flag));
      } else {
        Fail(RoutingErrorCode::kUnknownKey, word.begin, text);
      }
      return error_;
    }
    if (Seen(key)) {
      Fail(RoutingErrorCode::kDuplicateKey, word.begin, text, KeyName(key));
      return error_;
    }
    seen_ |= KeyBit(key);
    key_begin_[static_cast<int>(key)] = static_cast<uint8_t>(word.begin);
    key_end_[static_cast<int>(key)] = static_cast<uint8_t>(word.end);

    last_flag = Key::kNotAKey;
    if (IsFlagKey(key)) {
      flags_ |= key == Key::kStrict ? kRoutingFlagStrict : kRoutingFlagSmartpath;
      last_flag = key;
      continue;
    }

    Span value{0, 0};
    if (cursor == in_.size()) {
      Fail(RoutingErrorCode::kEmptyValue, word.begin, text, KeyName(key));
      return error_;
    }
    if (!NextWord(cursor, &value)) {
      return error_;
    }
    cursor = value.end;

    if (IsPlaceKey(key)) {
      if (LookupKey(View(value)) != Key::kNotAKey) {
        Fail(RoutingErrorCode::kEmptyValue, word.begin, text, KeyName(key));
        return error_;
      }
      // The name runs until the next word that is a key.
      while (cursor < in_.size()) {
        Span next{0, 0};
        if (!NextWord(cursor, &next)) {
          return error_;
        }
        if (LookupKey(View(next)) != Key::kNotAKey) {
          word = next;
          have_word = true;
          break;
        }
        value.end = next.end;
        value.punctuation |= next.punctuation;
        cursor = next.end;
      }
    }
    if (!SetValue(key, value)) {
      return error_;
    }
  }

  if (!CheckDependencies()) {
    return error_;
  }
  Emit(account.end, intent);
  return error_;
}

// ---------------------------------------------------------------------------------------------
// Messages and formatting

// Appends to out[0..capacity) without ever writing past it, and keeps counting past the end so
// a caller can learn the length it would have needed.
class BoundedWriter {
 public:
  BoundedWriter(char* out, size_t capacity) : out_(out), capacity_(capacity) {}

  void Char(char c) {
    if (length_ < capacity_) {
      out_[length_] = c;
    }
    ++length_;
  }

  void Text(std::string_view text) {
    for (char c : text) {
      Char(c);
    }
  }

  void Number(uint64_t value) {
    char digits[20];
    char* end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
    Text(std::string_view(digits, static_cast<size_t>(end - digits)));
  }

  void LowerText(std::string_view text) {
    for (char c : text) {
      Char(LowerAscii(c));
    }
  }

  // 'text' with bytes outside printable ASCII (and the quote and backslash) as \xNN, cut with
  // "..." once kMaxQuoted bytes of output are written, so a message quoting client bytes is
  // bounded and safe to log. Without `quotes`, the same minus the surrounding quotes.
  void Quoted(std::string_view text, bool quotes = true) {
    static constexpr size_t kMaxQuoted = 64;
    static constexpr char kHex[] = "0123456789abcdef";
    if (quotes) {
      Char('\'');
    }
    size_t written = 0;
    for (char c : text) {
      auto byte = static_cast<uint8_t>(c);
      bool plain = byte >= 0x20 && byte < 0x7f && c != '\'' && c != '\\';
      size_t width = plain ? 1 : 4;
      if (written + width > kMaxQuoted) {
        Text("...");
        break;
      }
      if (plain) {
        Char(c);
      } else {
        Text("\\x");
        Char(kHex[byte >> 4]);
        Char(kHex[byte & 0xf]);
      }
      written += width;
    }
    if (quotes) {
      Char('\'');
    }
  }

  size_t length() const { return length_; }

 private:
  char* out_;
  size_t capacity_;
  size_t length_ = 0;
};

void DescribeTo(const RoutingError& error, BoundedWriter* w) {
  switch (error.code) {
    case RoutingErrorCode::kNone:
      w->Text("ok");
      return;
    case RoutingErrorCode::kTooLong:
      w->Text("routing string is ");
      w->Number(error.part.size());
      w->Text(" bytes, longer than ");
      w->Number(kMaxRoutingStringLength);
      return;
    case RoutingErrorCode::kBadByte:
      w->Text("byte ");
      w->Quoted(error.part);
      w->Text(" at offset ");
      w->Number(error.offset);
      w->Text(" is not allowed (letters, digits, '-', '.', '_')");
      return;
    case RoutingErrorCode::kEmptyAccount:
      w->Text("empty account");
      return;
    case RoutingErrorCode::kAccountTooLong:
      w->Text("account ");
      w->Quoted(error.part);
      w->Text(" is longer than ");
      w->Number(kMaxAccountLength);
      w->Text(" bytes");
      return;
    case RoutingErrorCode::kEmptyPart:
      w->Text("empty part '__' at offset ");
      w->Number(error.offset);
      return;
    case RoutingErrorCode::kTrailingSeparator:
      w->Text("trailing '_' at offset ");
      w->Number(error.offset);
      return;
    case RoutingErrorCode::kUnknownKey:
      w->Text("unknown key ");
      w->Quoted(error.part);
      w->Text(" at offset ");
      w->Number(error.offset);
      return;
    case RoutingErrorCode::kDuplicateKey:
      w->Text("duplicate key ");
      w->Quoted(error.key);
      return;
    case RoutingErrorCode::kEmptyValue:
      w->Text("key ");
      w->Quoted(error.key);
      w->Text(" needs a value");
      return;
    case RoutingErrorCode::kUnexpectedValue:
      w->Text(error.key);
      w->Text(" takes no value, got ");
      w->Quoted(error.part);
      return;
    case RoutingErrorCode::kBadCountry:
      w->Text("country ");
      w->Quoted(error.part);
      w->Text(" is not two letters");
      return;
    case RoutingErrorCode::kUnknownCountry:
      w->Text("country ");
      w->Quoted(error.part);
      w->Text(" is not an ISO 3166-1 alpha-2 code");
      return;
    case RoutingErrorCode::kBadPlaceName:
      w->Text(error.key);
      w->Text(" ");
      w->Quoted(error.part);
      w->Text(" is not words of letters, digits or '-' joined by '_', at most ");
      w->Number(PlaceDictionary::kMaxNameLength);
      w->Text(" bytes");
      return;
    case RoutingErrorCode::kBadAsn:
      w->Text("asn ");
      w->Quoted(error.part);
      w->Text(" is not a number from 1 to 4294967295");
      return;
    case RoutingErrorCode::kBadSessionId:
      w->Text("session id ");
      w->Quoted(error.part);
      w->Text(" is not 1 to ");
      w->Number(kMaxSessionIdLength);
      w->Text(" letters or digits");
      return;
    case RoutingErrorCode::kBadTtl:
      w->Text("ttl ");
      w->Quoted(error.part);
      w->Text(" is not a number followed by m, h or d");
      return;
    case RoutingErrorCode::kTtlOutOfRange:
      w->Text("ttl ");
      w->Quoted(error.part, /*quotes=*/false);
      w->Text(" out of range (1m..24h)");
      return;
    case RoutingErrorCode::kTtlWithoutSession:
      w->Text("ttl without s");
      return;
    case RoutingErrorCode::kStrictWithoutSession:
      w->Text("strict without s");
      return;
    case RoutingErrorCode::kPlaceWithoutCountry:
      w->Text(error.key);
      w->Text(" without c");
      return;
  }
  w->Text("unknown routing error");
}

void FormatTo(const RoutingIntent& intent, BoundedWriter* w) {
  w->Text(intent.account);
  if (!intent.country.empty()) {
    w->Text("_c_");
    w->Char(intent.country.first());
    w->Char(intent.country.second());
  }
  if (!intent.state_text.empty()) {
    w->Text("_state_");
    w->LowerText(intent.state_text);
  }
  if (!intent.city_text.empty()) {
    w->Text("_city_");
    w->LowerText(intent.city_text);
  }
  if (!intent.zip_text.empty()) {
    w->Text("_zip_");
    w->LowerText(intent.zip_text);
  }
  if (intent.asn != 0) {
    w->Text("_asn_");
    w->Number(intent.asn);
  }
  if (intent.sticky()) {
    w->Text("_s_");
    w->Text(intent.session_id);
  }
  if (intent.ttl_s != 0) {
    static constexpr uint32_t kDay = 24 * 60 * 60;
    static constexpr uint32_t kHour = 60 * 60;
    w->Text("_ttl_");
    if (intent.ttl_s % kDay == 0) {
      w->Number(intent.ttl_s / kDay);
      w->Char('d');
    } else if (intent.ttl_s % kHour == 0) {
      w->Number(intent.ttl_s / kHour);
      w->Char('h');
    } else {
      w->Number((static_cast<uint64_t>(intent.ttl_s) + 59) / 60);
      w->Char('m');
    }
  }
  if (intent.smartpath()) {
    w->Text("_smartpath");
  }
  if (intent.strict()) {
    w->Text("_strict");
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Session keys

struct SipKey {
  uint64_t words[2];
};

// Drawn once per process. getrandom(2) blocks only until the kernel's pool is first seeded at
// boot, and never allocates, unlike a user-space generator's first call.
const SipKey& ProcessSecret() {
  static const SipKey secret = [] {
    SipKey key{};
    auto* bytes = reinterpret_cast<uint8_t*>(key.words);
    size_t filled = 0;
    while (filled < sizeof(key.words)) {
      ssize_t got = getrandom(bytes + filled, sizeof(key.words) - filled, 0);
      if (got < 0) {
        STRAIT_CHECK(errno == EINTR);
        continue;
      }
      filled += static_cast<size_t>(got);
    }
    return key;
  }();
  return secret;
}

}  // namespace

std::string_view RoutingErrorCodeName(RoutingErrorCode code) {
  switch (code) {
    case RoutingErrorCode::kNone:
      return "none";
    case RoutingErrorCode::kTooLong:
      return "too_long";
    case RoutingErrorCode::kBadByte:
      return "bad_byte";
    case RoutingErrorCode::kEmptyAccount:
      return "empty_account";
    case RoutingErrorCode::kAccountTooLong:
      return "account_too_long";
    case RoutingErrorCode::kEmptyPart:
      return "empty_part";
    case RoutingErrorCode::kTrailingSeparator:
      return "trailing_separator";
    case RoutingErrorCode::kUnknownKey:
      return "unknown_key";
    case RoutingErrorCode::kDuplicateKey:
      return "duplicate_key";
    case RoutingErrorCode::kEmptyValue:
      return "empty_value";
    case RoutingErrorCode::kUnexpectedValue:
      return "unexpected_value";
    case RoutingErrorCode::kBadCountry:
      return "bad_country";
    case RoutingErrorCode::kUnknownCountry:
      return "unknown_country";
    case RoutingErrorCode::kBadPlaceName:
      return "bad_place_name";
    case RoutingErrorCode::kBadAsn:
      return "bad_asn";
    case RoutingErrorCode::kBadSessionId:
      return "bad_session_id";
    case RoutingErrorCode::kBadTtl:
      return "bad_ttl";
    case RoutingErrorCode::kTtlOutOfRange:
      return "ttl_out_of_range";
    case RoutingErrorCode::kTtlWithoutSession:
      return "ttl_without_session";
    case RoutingErrorCode::kStrictWithoutSession:
      return "strict_without_session";
    case RoutingErrorCode::kPlaceWithoutCountry:
      return "place_without_country";
  }
  return "unknown";
}

size_t RoutingError::Describe(char* out, size_t capacity) const {
  BoundedWriter writer(out, capacity);
  DescribeTo(*this, &writer);
  return writer.length() < capacity ? writer.length() : capacity;
}

std::string RoutingError::Message() const {
  char buffer[kMaxRoutingErrorMessageLength];
  size_t length = Describe(buffer, sizeof(buffer));
  return std::string(buffer, length);
}

RoutingError ParseRoutingString(std::string_view username, const PlaceDictionary& places,
                                RoutingIntent* intent) {
  return Parser(username, places).Run(intent);
}

size_t FormatRoutingIntent(const RoutingIntent& intent, char* out, size_t capacity) {
  BoundedWriter writer(out, capacity);
  FormatTo(intent, &writer);
  return writer.length() <= capacity ? writer.length() : 0;
}

std::string FormatRoutingIntent(const RoutingIntent& intent) {
  BoundedWriter probe(nullptr, 0);
  FormatTo(intent, &probe);
  std::string result(probe.length(), '\0');
  BoundedWriter writer(result.data(), result.size());
  FormatTo(intent, &writer);
  return result;
}

bool SameRoute(const RoutingIntent& a, const RoutingIntent& b) {
  return a.account == b.account && a.country == b.country && a.flags == b.flags &&
         a.state == b.state && a.city == b.city && a.zip == b.zip &&
         EqualsIgnoreCase(a.state_text, b.state_text) &&
         EqualsIgnoreCase(a.city_text, b.city_text) && EqualsIgnoreCase(a.zip_text, b.zip_text) &&
         a.asn == b.asn && a.session_id == b.session_id && a.session_key == b.session_key &&
         a.ttl_s == b.ttl_s;
}

uint64_t SessionKey(std::string_view account, std::string_view session_id) {
  STRAIT_CHECK(account.size() <= UINT32_MAX);

  // The account's length first, so ("ab", "c") and ("a", "bc") hash different bytes.
  auto length = static_cast<uint32_t>(account.size());
  const char prefix[4] = {static_cast<char>(length & 0xff), static_cast<char>((length >> 8) & 0xff),
                          static_cast<char>((length >> 16) & 0xff),
                          static_cast<char>(length >> 24)};
  internal::SipHasher24 hasher(ProcessSecret().words);
  hasher.Update(std::string_view(prefix, sizeof(prefix)));
  hasher.Update(account);
  hasher.Update(session_id);
  return hasher.Finish();
}

}  // namespace strait::routing
