#include "routing/parser.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace strait::routing {
namespace {

// The places every test may look up; anything else is unknown to the dictionary.
class RoutingParser : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PlaceDictionary::Builder builder;
    florida_ = builder.Intern(PlaceKind::kState, "florida").value();
    north_carolina_ = builder.Intern(PlaceKind::kState, "North Carolina").value();
    london_ = builder.Intern(PlaceKind::kCity, "london").value();
    charlotte_ = builder.Intern(PlaceKind::kCity, "charlotte").value();
    new_york_ = builder.Intern(PlaceKind::kCity, "new_york").value();
    zip_32808_ = builder.Intern(PlaceKind::kZip, "32808").value();
    places_ = new std::shared_ptr<const PlaceDictionary>(std::move(builder).Build());
  }

  static void TearDownTestSuite() {
    delete places_;
    places_ = nullptr;
  }

  // Parses `input`, which must outlive the result, expecting success.
  static RoutingIntent Parse(std::string_view input) {
    RoutingIntent intent;
    RoutingError error = ParseRoutingString(input, **places_, &intent);
    EXPECT_TRUE(error.ok()) << "'" << input << "': " << error.Message();
    return intent;
  }

  // Parses `input`, expecting an error.
  static RoutingError Fail(std::string_view input) {
    RoutingIntent intent;
    RoutingError error = ParseRoutingString(input, **places_, &intent);
    EXPECT_FALSE(error.ok()) << "'" << input << "' parsed as " << FormatRoutingIntent(intent);
    return error;
  }

  static std::shared_ptr<const PlaceDictionary>* places_;
  static PlaceId florida_;
  static PlaceId north_carolina_;
  static PlaceId london_;
  static PlaceId charlotte_;
  static PlaceId new_york_;
  static PlaceId zip_32808_;
};

std::shared_ptr<const PlaceDictionary>* RoutingParser::places_ = nullptr;
PlaceId RoutingParser::florida_ = 0;
PlaceId RoutingParser::north_carolina_ = 0;
PlaceId RoutingParser::london_ = 0;
PlaceId RoutingParser::charlotte_ = 0;
PlaceId RoutingParser::new_york_ = 0;
PlaceId RoutingParser::zip_32808_ = 0;

constexpr CountryCode kGb = CountryCode::FromLowerLetters('g', 'b');
constexpr CountryCode kUs = CountryCode::FromLowerLetters('u', 's');

// --- DESIGN.md examples ------------------------------------------------------------------------

TEST_F(RoutingParser, ParsesBareAccountAsRotatingAnyExit) {
  RoutingIntent intent = Parse("alice");
  EXPECT_EQ(intent.account, "alice");
  EXPECT_TRUE(intent.country.empty());
  EXPECT_EQ(intent.state, kAnyPlace);
  EXPECT_EQ(intent.city, kAnyPlace);
  EXPECT_EQ(intent.zip, kAnyPlace);
  EXPECT_EQ(intent.asn, 0u);
  EXPECT_FALSE(intent.sticky());
  EXPECT_EQ(intent.session_key, 0u);
  EXPECT_EQ(intent.ttl_s, 0u);
  EXPECT_EQ(intent.flags, 0);
  EXPECT_EQ(FormatRoutingIntent(intent), "alice");
}

TEST_F(RoutingParser, ParsesCountry) {
  RoutingIntent intent = Parse("alice_c_gb");
  EXPECT_EQ(intent.account, "alice");
  EXPECT_EQ(intent.country, kGb);
  EXPECT_EQ(intent.country.first(), 'g');
  EXPECT_EQ(intent.country.second(), 'b');
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_c_gb");
}

TEST_F(RoutingParser, ParsesCountryAndCity) {
  RoutingIntent intent = Parse("alice_c_gb_city_london");
  EXPECT_EQ(intent.country, kGb);
  EXPECT_EQ(intent.city, london_);
  EXPECT_EQ(intent.city_text, "london");
  EXPECT_EQ(intent.state, kAnyPlace);
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_c_gb_city_london");
}

TEST_F(RoutingParser, ParsesCountryAndState) {
  RoutingIntent intent = Parse("alice_c_us_state_florida");
  EXPECT_EQ(intent.country, kUs);
  EXPECT_EQ(intent.state, florida_);
  EXPECT_EQ(intent.state_text, "florida");
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_c_us_state_florida");
}

TEST_F(RoutingParser, ParsesCountryAndZip) {
  RoutingIntent intent = Parse("alice_c_us_zip_32808");
  EXPECT_EQ(intent.country, kUs);
  EXPECT_EQ(intent.zip, zip_32808_);
  EXPECT_EQ(intent.zip_text, "32808");
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_c_us_zip_32808");
}

TEST_F(RoutingParser, ParsesAsn) {
  RoutingIntent intent = Parse("alice_asn_7018");
  EXPECT_EQ(intent.asn, 7018u);
  EXPECT_TRUE(intent.country.empty());
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_asn_7018");
}

TEST_F(RoutingParser, ParsesCombinedTargeting) {
  RoutingIntent intent = Parse("alice_c_us_city_charlotte_asn_7018");
  EXPECT_EQ(intent.country, kUs);
  EXPECT_EQ(intent.city, charlotte_);
  EXPECT_EQ(intent.asn, 7018u);
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_c_us_city_charlotte_asn_7018");
}

TEST_F(RoutingParser, ParsesStickySession) {
  RoutingIntent intent = Parse("alice_s_we12NkllMSS");
  EXPECT_TRUE(intent.sticky());
  EXPECT_EQ(intent.session_id, "we12NkllMSS");
  EXPECT_EQ(intent.session_key, SessionKey("alice", "we12NkllMSS"));
  EXPECT_EQ(intent.ttl_s, 0u);
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_s_we12NkllMSS");
}

TEST_F(RoutingParser, ParsesStickySessionWithTtl) {
  RoutingIntent intent = Parse("alice_s_we12NkllMSS_ttl_2h");
  EXPECT_EQ(intent.session_id, "we12NkllMSS");
  EXPECT_EQ(intent.ttl_s, 2u * 3600);
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_s_we12NkllMSS_ttl_2h");
}

TEST_F(RoutingParser, ParsesSmartpath) {
  RoutingIntent intent = Parse("alice_smartpath");
  EXPECT_TRUE(intent.smartpath());
  EXPECT_FALSE(intent.strict());
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_smartpath");
}

TEST_F(RoutingParser, ParsesStrictSession) {
  RoutingIntent intent = Parse("alice_s_abc_strict");
  EXPECT_TRUE(intent.strict());
  EXPECT_FALSE(intent.smartpath());
  EXPECT_EQ(intent.session_id, "abc");
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_s_abc_strict");
}

TEST_F(RoutingParser, ParsesTheIssueExample) {
  RoutingIntent intent = Parse("alice_c_us_city_charlotte_asn_7018_s_h12kJsas129_ttl_2h");
  EXPECT_EQ(intent.account, "alice");
  EXPECT_EQ(intent.country, kUs);
  EXPECT_EQ(intent.city, charlotte_);
  EXPECT_EQ(intent.asn, 7018u);
  EXPECT_EQ(intent.session_id, "h12kJsas129");
  EXPECT_EQ(intent.ttl_s, 7200u);
}

// --- Values and keys ---------------------------------------------------------------------------

TEST_F(RoutingParser, JoinsMultiWordCityUntilNextKey) {
  RoutingIntent intent = Parse("alice_c_us_city_new_york_asn_7018");
  EXPECT_EQ(intent.city_text, "new_york");
  EXPECT_EQ(intent.city, new_york_);
  EXPECT_EQ(intent.asn, 7018u);
}

TEST_F(RoutingParser, JoinsMultiWordStateFollowedByCity) {
  RoutingIntent intent = Parse("alice_c_us_state_north_carolina_city_charlotte");
  EXPECT_EQ(intent.state_text, "north_carolina");
  EXPECT_EQ(intent.state, north_carolina_);
  EXPECT_EQ(intent.city_text, "charlotte");
  EXPECT_EQ(intent.city, charlotte_);
}

TEST_F(RoutingParser, JoinsMultiWordValueAtTheEnd) {
  RoutingIntent intent = Parse("alice_c_us_city_new_york");
  EXPECT_EQ(intent.city_text, "new_york");
  EXPECT_EQ(intent.city, new_york_);
}

TEST_F(RoutingParser, AcceptsDashesAndDigitsInPlaceNames) {
  RoutingIntent intent = Parse("alice_c_gb_city_stoke-on-trent_zip_sw1a_1aa");
  EXPECT_EQ(intent.city_text, "stoke-on-trent");
  EXPECT_EQ(intent.zip_text, "sw1a_1aa");
}

TEST_F(RoutingParser, GivesUnknownPlaceForNamesTheDictionaryLacks) {
  RoutingIntent intent = Parse("alice_c_us_state_ohio_city_Springfield_zip_45501");
  EXPECT_EQ(intent.state, kUnknownPlace);
  EXPECT_EQ(intent.city, kUnknownPlace);
  EXPECT_EQ(intent.zip, kUnknownPlace);
  EXPECT_EQ(intent.city_text, "Springfield");
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_c_us_state_ohio_city_springfield_zip_45501");
}

TEST_F(RoutingParser, KeepsPlaceKindsApart) {
  // "florida" is a state in the dictionary, not a city.
  RoutingIntent intent = Parse("alice_c_us_city_florida");
  EXPECT_EQ(intent.city, kUnknownPlace);
}

TEST_F(RoutingParser, TreatsKeysAndValuesCaseInsensitively) {
  RoutingIntent intent = Parse("alice_C_US_CITY_New_York_ASN_7018_SMARTPATH");
  EXPECT_EQ(intent.country, kUs);
  EXPECT_EQ(intent.city, new_york_);
  EXPECT_EQ(intent.city_text, "New_York");
  EXPECT_EQ(intent.asn, 7018u);
  EXPECT_TRUE(intent.smartpath());
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_c_us_city_new_york_asn_7018_smartpath");
}

TEST_F(RoutingParser, KeepsAccountAndSessionIdCase) {
  RoutingIntent upper = Parse("Alice_S_AbC_TTL_2H_STRICT");
  EXPECT_EQ(upper.account, "Alice");
  EXPECT_EQ(upper.session_id, "AbC");
  EXPECT_EQ(upper.ttl_s, 7200u);
  EXPECT_TRUE(upper.strict());
  EXPECT_EQ(FormatRoutingIntent(upper), "Alice_s_AbC_ttl_2h_strict");

  RoutingIntent lower = Parse("alice_s_abc");
  EXPECT_NE(upper.session_key, lower.session_key);
  EXPECT_NE(SessionKey("Alice", "AbC"), SessionKey("alice", "AbC"));
}

TEST_F(RoutingParser, AcceptsDotsAndDashesInAccount) {
  RoutingIntent intent = Parse("team-7.eu_c_de");
  EXPECT_EQ(intent.account, "team-7.eu");
}

TEST_F(RoutingParser, AcceptsKeysInAnyOrder) {
  const std::vector<std::string> parts = {
      "c_us", "state_north_carolina", "city_new_york", "asn_7018", "s_Ab9", "ttl_90m", "strict"};
  const RoutingIntent expected =
      Parse("bob_c_us_state_north_carolina_city_new_york_asn_7018_s_Ab9_ttl_90m_strict");
  std::vector<size_t> order(parts.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  int permutations = 0;
  do {
    std::string input = "bob";
    for (size_t i : order) {
      input += "_" + parts[i];
    }
    RoutingIntent intent = Parse(input);
    ASSERT_TRUE(SameRoute(intent, expected)) << input;
    ASSERT_EQ(FormatRoutingIntent(intent),
              "bob_c_us_state_north_carolina_city_new_york_asn_7018_s_Ab9_ttl_90m_strict");
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 5040);
}

TEST_F(RoutingParser, AcceptsBothFlagsTogether) {
  RoutingIntent intent = Parse("alice_strict_smartpath_s_x");
  EXPECT_TRUE(intent.strict());
  EXPECT_TRUE(intent.smartpath());
  EXPECT_EQ(FormatRoutingIntent(intent), "alice_s_x_smartpath_strict");
}

TEST_F(RoutingParser, AcceptsAssignedCountriesOnly) {
  int accepted = 0;
  for (char a = 'a'; a <= 'z'; ++a) {
    for (char b = 'a'; b <= 'z'; ++b) {
      std::string input = std::string("alice_c_") + a + b;
      RoutingIntent intent;
      RoutingError error = ParseRoutingString(input, **places_, &intent);
      if (error.ok()) {
        ++accepted;
        EXPECT_EQ(intent.country, CountryCode::FromLowerLetters(a, b));
      } else {
        EXPECT_EQ(error.code, RoutingErrorCode::kUnknownCountry) << input;
      }
    }
  }
  // 249 officially assigned ISO 3166-1 alpha-2 codes plus xk.
  EXPECT_EQ(accepted, 250);
  for (const char* code : {"gb", "us", "de", "xk", "ax", "ss", "sx", "zw", "aq"}) {
    Parse(std::string("alice_c_") + code);
  }
  for (const char* code : {"uk", "eu", "zz", "aa", "xx", "su", "yu"}) {
    EXPECT_EQ(Fail(std::string("alice_c_") + code).code, RoutingErrorCode::kUnknownCountry) << code;
  }
}

// --- Boundaries --------------------------------------------------------------------------------

TEST_F(RoutingParser, AcceptsTtlFromOneMinuteToOneDay) {
  EXPECT_EQ(Parse("a_s_x_ttl_1m").ttl_s, 60u);
  EXPECT_EQ(Parse("a_s_x_ttl_59m").ttl_s, 59u * 60);
  EXPECT_EQ(Parse("a_s_x_ttl_1440m").ttl_s, 86400u);
  EXPECT_EQ(Parse("a_s_x_ttl_1h").ttl_s, 3600u);
  EXPECT_EQ(Parse("a_s_x_ttl_24h").ttl_s, 86400u);
  EXPECT_EQ(Parse("a_s_x_ttl_1d").ttl_s, 86400u);
  EXPECT_EQ(Parse("a_s_x_ttl_30M").ttl_s, 1800u);
}

TEST_F(RoutingParser, RejectsTtlOutsideOneMinuteToOneDay) {
  for (const char* input : {"a_s_x_ttl_0m", "a_s_x_ttl_1441m", "a_s_x_ttl_25h", "a_s_x_ttl_2d",
                            "a_s_x_ttl_0h", "a_s_x_ttl_0d", "a_s_x_ttl_9999999999999999999999d"}) {
    EXPECT_EQ(Fail(input).code, RoutingErrorCode::kTtlOutOfRange) << input;
  }
}

TEST_F(RoutingParser, AcceptsAsnFromOneToMaxUint32) {
  EXPECT_EQ(Parse("a_asn_1").asn, 1u);
  EXPECT_EQ(Parse("a_asn_4294967295").asn, 4294967295u);
}

TEST_F(RoutingParser, RejectsAsnOutsideRangeOrShape) {
  for (const char* input : {"a_asn_0", "a_asn_4294967296", "a_asn_07018", "a_asn_as7018",
                            "a_asn_AS7018", "a_asn_99999999999", "a_asn_70-18", "a_asn_7.0"}) {
    EXPECT_EQ(Fail(input).code, RoutingErrorCode::kBadAsn) << input;
  }
}

TEST_F(RoutingParser, AcceptsSessionIdUpTo64Bytes) {
  std::string at_limit = "a_s_" + std::string(64, 'Z');
  EXPECT_EQ(Parse(at_limit).session_id.size(), 64u);

  std::string over = "a_s_" + std::string(65, 'Z');
  RoutingError error = Fail(over);
  EXPECT_EQ(error.code, RoutingErrorCode::kBadSessionId);
  EXPECT_EQ(error.offset, 4);
  EXPECT_EQ(error.part.size(), 65u);
}

TEST_F(RoutingParser, AcceptsInputAtMaxLengthOnly) {
  // "a_s_<id>_city_<name>..." is awkward to stretch; a long account plus place names reaches
  // exactly 255 bytes with only valid parts.
  std::string input = std::string(64, 'a') + "_c_us_city_" + std::string(64, 'b') + "_state_" +
                      std::string(64, 'c') + "_zip_";
  input += std::string(kMaxRoutingStringLength - input.size(), 'd');
  ASSERT_EQ(input.size(), kMaxRoutingStringLength);
  RoutingIntent intent = Parse(input);
  EXPECT_EQ(intent.account.size(), 64u);
  EXPECT_EQ(intent.city_text.size(), 64u);
  EXPECT_EQ(FormatRoutingIntent(intent).size(), input.size());

  std::string longer = input + "d";
  RoutingError error = Fail(longer);
  EXPECT_EQ(error.code, RoutingErrorCode::kTooLong);
  EXPECT_EQ(error.offset, kMaxRoutingStringLength);
  EXPECT_EQ(error.Message(), "routing string is 256 bytes, longer than 255");
}

TEST_F(RoutingParser, AcceptsAccountUpTo64Bytes) {
  EXPECT_EQ(Parse(std::string(64, 'q')).account.size(), 64u);
  std::string over(65, 'q');
  RoutingError error = Fail(over);
  EXPECT_EQ(error.code, RoutingErrorCode::kAccountTooLong);
  EXPECT_EQ(error.Message(), "account '" + std::string(64, 'q') + "...' is longer than 64 bytes");
}

TEST_F(RoutingParser, AcceptsPlaceNameUpTo64Bytes) {
  std::string at_limit = "a_c_us_city_" + std::string(30, 'x') + "_" + std::string(33, 'y');
  EXPECT_EQ(Parse(at_limit).city_text.size(), 64u);

  std::string over = "a_c_us_city_" + std::string(30, 'x') + "_" + std::string(34, 'y');
  RoutingError error = Fail(over);
  EXPECT_EQ(error.code, RoutingErrorCode::kBadPlaceName);
  EXPECT_EQ(error.offset, 12);
  EXPECT_EQ(error.part.size(), 65u);
}

// The scanner reads 16 bytes at a time where it can and byte by byte near the end; a bad byte is
// found at every offset either way, including the bytes just outside the allowed ranges.
TEST_F(RoutingParser, FindsBadByteAtEveryOffset) {
  std::string valid = std::string(64, 'a') + "_c_us_city_" + std::string(64, 'b') + "_state_" +
                      std::string(64, 'c') + "_zip_";
  valid += std::string(kMaxRoutingStringLength - valid.size(), 'd');
  Parse(valid);
  for (char bad : {'\x01', ' ', ',', '/', ':', '@', '[', '^', '`', '{', '\x7f', '\x80', '\xff'}) {
    for (size_t offset = 0; offset < valid.size(); ++offset) {
      std::string input = valid;
      input[offset] = bad;
      RoutingIntent intent;
      RoutingError error = ParseRoutingString(input, **places_, &intent);
      ASSERT_EQ(error.code, RoutingErrorCode::kBadByte) << offset << " " << int{bad};
      ASSERT_EQ(error.offset, offset);
      ASSERT_EQ(error.part, std::string_view(&input[offset], 1));
    }
  }
}

TEST_F(RoutingParser, FindsPunctuationAnywhereInSessionIdsAndPlaceNames) {
  for (size_t i = 0; i < kMaxSessionIdLength; ++i) {
    for (char c : {'-', '.'}) {
      std::string session(kMaxSessionIdLength, 'x');
      session[i] = c;
      std::string input = "alice_s_" + session + "_strict";
      EXPECT_EQ(Fail(input).code, RoutingErrorCode::kBadSessionId) << input;
    }
  }
  for (size_t i = 0; i < PlaceDictionary::kMaxNameLength; ++i) {
    std::string name(PlaceDictionary::kMaxNameLength, 'y');
    name[i] = '.';
    std::string input = "alice_c_us_city_" + name + "_asn_1";
    EXPECT_EQ(Fail(input).code, RoutingErrorCode::kBadPlaceName) << input;
    name[i] = '-';
    input = "alice_c_us_city_" + name + "_asn_1";
    EXPECT_EQ(Parse(input).city_text, name);
  }
}

// --- Errors: code, offset, part and the exact message -------------------------------------------

struct ErrorCase {
  std::string input;
  RoutingErrorCode code;
  uint16_t offset;
  std::string part;
  std::string message;
};

std::vector<ErrorCase> ErrorCases() {
  using C = RoutingErrorCode;
  return {
      {"", C::kEmptyAccount, 0, "", "empty account"},
      {"_c_us", C::kEmptyAccount, 0, "", "empty account"},
      {"alice_c_us:", C::kBadByte, 10, ":",
       "byte ':' at offset 10 is not allowed (letters, digits, '-', '.', '_')"},
      {"al ice", C::kBadByte, 2, " ",
       "byte ' ' at offset 2 is not allowed (letters, digits, '-', '.', '_')"},
      {std::string("alice\x01", 6), C::kBadByte, 5, "\x01",
       "byte '\\x01' at offset 5 is not allowed (letters, digits, '-', '.', '_')"},
      {"alice_s_\xc3\xa9", C::kBadByte, 8, "\xc3",
       "byte '\\xc3' at offset 8 is not allowed (letters, digits, '-', '.', '_')"},
      {"alice_c_u'", C::kBadByte, 9, "'",
       "byte '\\x27' at offset 9 is not allowed (letters, digits, '-', '.', '_')"},
      {"alice__c_us", C::kEmptyPart, 5, "__", "empty part '__' at offset 5"},
      {"alice_c_us__asn_1", C::kEmptyPart, 10, "__", "empty part '__' at offset 10"},
      {"alice_c_us_city_new__york", C::kEmptyPart, 19, "__", "empty part '__' at offset 19"},
      {"alice_", C::kTrailingSeparator, 5, "_", "trailing '_' at offset 5"},
      {"alice_c_us_", C::kTrailingSeparator, 10, "_", "trailing '_' at offset 10"},
      {"alice_c_", C::kTrailingSeparator, 7, "_", "trailing '_' at offset 7"},
      {"alice_city_new_", C::kTrailingSeparator, 14, "_", "trailing '_' at offset 14"},
      {"ab_c_gb_cty", C::kUnknownKey, 8, "cty", "unknown key 'cty' at offset 8"},
      {"alice_country_us", C::kUnknownKey, 6, "country", "unknown key 'country' at offset 6"},
      {"alice_c_us_gb", C::kUnknownKey, 11, "gb", "unknown key 'gb' at offset 11"},
      {"alice_s_ab_cd", C::kUnknownKey, 11, "cd", "unknown key 'cd' at offset 11"},
      {"alice_ttl_2h_cty", C::kUnknownKey, 13, "cty", "unknown key 'cty' at offset 13"},
      {"alice_c_us_c_gb", C::kDuplicateKey, 11, "c", "duplicate key 'c'"},
      {"alice_c_us_C_gb", C::kDuplicateKey, 11, "C", "duplicate key 'c'"},
      {"alice_s_a_S_b", C::kDuplicateKey, 10, "S", "duplicate key 's'"},
      {"alice_smartpath_smartpath", C::kDuplicateKey, 16, "smartpath", "duplicate key 'smartpath'"},
      {"alice_c_us_city_a_city_b", C::kDuplicateKey, 18, "city", "duplicate key 'city'"},
      {"alice_c", C::kEmptyValue, 6, "c", "key 'c' needs a value"},
      {"alice_asn", C::kEmptyValue, 6, "asn", "key 'asn' needs a value"},
      {"alice_s", C::kEmptyValue, 6, "s", "key 's' needs a value"},
      {"alice_s_a_ttl", C::kEmptyValue, 10, "ttl", "key 'ttl' needs a value"},
      {"alice_c_us_city", C::kEmptyValue, 11, "city", "key 'city' needs a value"},
      {"alice_c_us_city_asn_7018", C::kEmptyValue, 11, "city", "key 'city' needs a value"},
      {"alice_c_us_STATE_City_x", C::kEmptyValue, 11, "STATE", "key 'state' needs a value"},
      {"alice_smartpath_yes", C::kUnexpectedValue, 16, "yes",
       "smartpath takes no value, got 'yes'"},
      {"alice_s_ab_strict_1", C::kUnexpectedValue, 18, "1", "strict takes no value, got '1'"},
      {"alice_c_usa", C::kBadCountry, 8, "usa", "country 'usa' is not two letters"},
      {"alice_c_u", C::kBadCountry, 8, "u", "country 'u' is not two letters"},
      {"alice_c_u1", C::kBadCountry, 8, "u1", "country 'u1' is not two letters"},
      {"alice_c_united_kingdom", C::kBadCountry, 8, "united",
       "country 'united' is not two letters"},
      {"alice_c_city_london", C::kBadCountry, 8, "city", "country 'city' is not two letters"},
      {"alice_c_zz", C::kUnknownCountry, 8, "zz", "country 'zz' is not an ISO 3166-1 alpha-2 code"},
      {"alice_c_UK", C::kUnknownCountry, 8, "UK", "country 'UK' is not an ISO 3166-1 alpha-2 code"},
      {"alice_c_us_city_st.louis", C::kBadPlaceName, 16, "st.louis",
       "city 'st.louis' is not words of letters, digits or '-' joined by '_', at most 64 bytes"},
      {"alice_c_us_zip_32.808_asn_1", C::kBadPlaceName, 15, "32.808",
       "zip '32.808' is not words of letters, digits or '-' joined by '_', at most 64 bytes"},
      {"alice_asn_0", C::kBadAsn, 10, "0", "asn '0' is not a number from 1 to 4294967295"},
      {"alice_asn_4294967296", C::kBadAsn, 10, "4294967296",
       "asn '4294967296' is not a number from 1 to 4294967295"},
      {"alice_asn_07018", C::kBadAsn, 10, "07018",
       "asn '07018' is not a number from 1 to 4294967295"},
      {"alice_asn_as7018", C::kBadAsn, 10, "as7018",
       "asn 'as7018' is not a number from 1 to 4294967295"},
      {"alice_s_ab-c", C::kBadSessionId, 8, "ab-c",
       "session id 'ab-c' is not 1 to 64 letters or digits"},
      {"alice_s_a.b", C::kBadSessionId, 8, "a.b",
       "session id 'a.b' is not 1 to 64 letters or digits"},
      {"alice_s_ab_ttl_2x", C::kBadTtl, 15, "2x", "ttl '2x' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_2", C::kBadTtl, 15, "2", "ttl '2' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_h", C::kBadTtl, 15, "h", "ttl 'h' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_02h", C::kBadTtl, 15, "02h",
       "ttl '02h' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_00m", C::kBadTtl, 15, "00m",
       "ttl '00m' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_2hh", C::kBadTtl, 15, "2hh",
       "ttl '2hh' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_1.5h", C::kBadTtl, 15, "1.5h",
       "ttl '1.5h' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_-2h", C::kBadTtl, 15, "-2h",
       "ttl '-2h' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_120s", C::kBadTtl, 15, "120s",
       "ttl '120s' is not a number followed by m, h or d"},
      {"alice_s_ab_ttl_25h", C::kTtlOutOfRange, 15, "25h", "ttl 25h out of range (1m..24h)"},
      {"alice_s_ab_ttl_0m", C::kTtlOutOfRange, 15, "0m", "ttl 0m out of range (1m..24h)"},
      {"alice_s_ab_ttl_1441m", C::kTtlOutOfRange, 15, "1441m", "ttl 1441m out of range (1m..24h)"},
      {"alice_s_ab_ttl_2D", C::kTtlOutOfRange, 15, "2D", "ttl 2D out of range (1m..24h)"},
      {"alice_ttl_2h", C::kTtlWithoutSession, 6, "ttl", "ttl without s"},
      {"alice_TTL_2h_c_us", C::kTtlWithoutSession, 6, "TTL", "ttl without s"},
      {"alice_strict", C::kStrictWithoutSession, 6, "strict", "strict without s"},
      {"alice_city_london", C::kPlaceWithoutCountry, 6, "city", "city without c"},
      {"alice_state_florida", C::kPlaceWithoutCountry, 6, "state", "state without c"},
      {"alice_zip_32808", C::kPlaceWithoutCountry, 6, "zip", "zip without c"},
      // Two missing dependencies: the first in reading order is reported.
      {"alice_zip_32808_city_x_ttl_1h", C::kPlaceWithoutCountry, 6, "zip", "zip without c"},
      {"alice_strict_ttl_2h", C::kStrictWithoutSession, 6, "strict", "strict without s"},
      {"alice_ttl_2h_strict_city_x", C::kTtlWithoutSession, 6, "ttl", "ttl without s"},
  };
}

TEST_F(RoutingParser, ReportsEachErrorWithOffsetPartAndMessage) {
  for (const ErrorCase& c : ErrorCases()) {
    SCOPED_TRACE(c.input);
    RoutingIntent intent;
    RoutingError error = ParseRoutingString(c.input, **places_, &intent);
    EXPECT_EQ(error.code, c.code) << RoutingErrorCodeName(error.code);
    EXPECT_EQ(error.offset, c.offset);
    EXPECT_EQ(error.part, c.part);
    EXPECT_EQ(error.Message(), c.message);
    // The part is a view into the input, at the offset it names.
    if (!error.part.empty()) {
      EXPECT_EQ(error.part.data(), c.input.data() + error.offset);
    }
  }
}

TEST_F(RoutingParser, CoversEveryErrorCodeInTheCaseTable) {
  std::set<RoutingErrorCode> covered = {RoutingErrorCode::kTooLong,
                                        RoutingErrorCode::kAccountTooLong};
  for (const ErrorCase& c : ErrorCases()) {
    covered.insert(c.code);
  }
  for (int code = 1; code <= static_cast<int>(RoutingErrorCode::kPlaceWithoutCountry); ++code) {
    EXPECT_TRUE(covered.count(static_cast<RoutingErrorCode>(code)) == 1)
        << RoutingErrorCodeName(static_cast<RoutingErrorCode>(code));
  }
}

TEST_F(RoutingParser, NamesEveryErrorCodeDistinctly) {
  std::set<std::string_view> names;
  int last = static_cast<int>(RoutingErrorCode::kPlaceWithoutCountry);
  for (int code = 0; code <= last; ++code) {
    std::string_view name = RoutingErrorCodeName(static_cast<RoutingErrorCode>(code));
    EXPECT_NE(name, "unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(last + 1));
  EXPECT_EQ(RoutingErrorCodeName(RoutingErrorCode::kUnknownKey), "unknown_key");
}

TEST_F(RoutingParser, LeavesIntentUntouchedOnError) {
  RoutingIntent intent;
  intent.asn = 42;
  intent.account = "before";
  RoutingError error = ParseRoutingString("alice_c_us_asn_7018_cty", **places_, &intent);
  EXPECT_EQ(error.code, RoutingErrorCode::kUnknownKey);
  EXPECT_EQ(intent.asn, 42u);
  EXPECT_EQ(intent.account, "before");
  EXPECT_TRUE(intent.country.empty());
}

TEST_F(RoutingParser, DescribeTruncatesWithinCapacity) {
  RoutingError error = Fail("ab_c_gb_cty");
  char buffer[16];
  std::memset(buffer, '#', sizeof(buffer));
  size_t length = error.Describe(buffer, 10);
  EXPECT_EQ(length, 10u);
  EXPECT_EQ(std::string_view(buffer, length), "unknown ke");
  for (size_t i = 10; i < sizeof(buffer); ++i) {
    EXPECT_EQ(buffer[i], '#') << i;
  }
  std::memset(buffer, '#', sizeof(buffer));
  EXPECT_EQ(error.Describe(buffer, 0), 0u);
  EXPECT_EQ(buffer[0], '#');
}

TEST_F(RoutingParser, KeepsEveryMessageWithinTheDocumentedLength) {
  // The longest parts quoted in the longest message templates.
  std::string long_place = "a_c_us_state_" + std::string(70, 'x');
  std::string long_key = "a_" + std::string(200, 'k');
  std::string long_country = "a_c_" + std::string(200, 'k');
  std::string long_ttl = "a_s_b_ttl_" + std::string(200, '9') + "m";
  for (const std::string& input : {long_place, long_key, long_country, long_ttl}) {
    RoutingError error = Fail(input);
    char buffer[1024];
    size_t length = error.Describe(buffer, sizeof(buffer));
    EXPECT_LE(length, kMaxRoutingErrorMessageLength) << std::string_view(buffer, length);
    EXPECT_NE(std::string_view(buffer, length).find("..."), std::string_view::npos)
        << std::string_view(buffer, length);
  }
}

// --- Formatting and session keys ---------------------------------------------------------------

TEST_F(RoutingParser, FormatsTtlInTheLargestExactUnit) {
  EXPECT_EQ(FormatRoutingIntent(Parse("a_s_x_ttl_120m")), "a_s_x_ttl_2h");
  EXPECT_EQ(FormatRoutingIntent(Parse("a_s_x_ttl_90m")), "a_s_x_ttl_90m");
  EXPECT_EQ(FormatRoutingIntent(Parse("a_s_x_ttl_1440m")), "a_s_x_ttl_1d");
  EXPECT_EQ(FormatRoutingIntent(Parse("a_s_x_ttl_24h")), "a_s_x_ttl_1d");
  EXPECT_EQ(FormatRoutingIntent(Parse("a_s_x_ttl_60m")), "a_s_x_ttl_1h");
}

TEST_F(RoutingParser, FormatsInCanonicalKeyOrder) {
  EXPECT_EQ(FormatRoutingIntent(Parse("a_STRICT_ttl_5M_S_Q_asn_9_zip_Z1_City_X_state_Y_c_DE_"
                                      "smartpath")),
            "a_c_de_state_y_city_x_zip_z1_asn_9_s_Q_ttl_5m_smartpath_strict");
}

TEST_F(RoutingParser, FormatReturnsZeroWhenCapacityIsTooSmall) {
  RoutingIntent intent = Parse("alice_c_gb");
  char buffer[16];
  std::memset(buffer, '#', sizeof(buffer));
  EXPECT_EQ(FormatRoutingIntent(intent, buffer, 9), 0u);
  EXPECT_EQ(buffer[9], '#');
  EXPECT_EQ(FormatRoutingIntent(intent, buffer, 10), 10u);
  EXPECT_EQ(std::string_view(buffer, 10), "alice_c_gb");
}

TEST_F(RoutingParser, FormatRoundsTtlOfPartialMinutesUp) {
  RoutingIntent intent;
  intent.account = "a";
  intent.session_id = "x";
  intent.ttl_s = 61;
  EXPECT_EQ(FormatRoutingIntent(intent), "a_s_x_ttl_2m");
}

TEST(RoutingSessionKey, IsStableAndSeparatesPairs) {
  EXPECT_EQ(SessionKey("alice", "abc"), SessionKey("alice", "abc"));
  EXPECT_NE(SessionKey("alice", "abc"), SessionKey("alice", "abd"));
  EXPECT_NE(SessionKey("alice", "abc"), SessionKey("bob", "abc"));
  // Length-prefixing the account makes the split between account and session id part of the key.
  EXPECT_NE(SessionKey("ab", "c"), SessionKey("a", "bc"));
  EXPECT_NE(SessionKey("", "abc"), SessionKey("a", "bc"));
}

TEST(RoutingSessionKey, SpreadsKeysOverSixtyFourBits) {
  // 10k distinct pairs, no collision and both halves of the word used.
  std::set<uint64_t> keys;
  uint64_t ored = 0;
  for (int i = 0; i < 10000; ++i) {
    uint64_t key = SessionKey("acct", std::to_string(i));
    keys.insert(key);
    ored |= key;
  }
  EXPECT_EQ(keys.size(), 10000u);
  EXPECT_EQ(ored, ~uint64_t{0});
}

// --- Properties --------------------------------------------------------------------------------

constexpr std::string_view kAlnum =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

std::string RandomString(std::mt19937_64& rng, std::string_view alphabet, size_t min_length,
                         size_t max_length) {
  size_t length = std::uniform_int_distribution<size_t>(min_length, max_length)(rng);
  std::string result;
  for (size_t i = 0; i < length; ++i) {
    result += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
  }
  return result;
}

bool IsKeyWord(std::string word) {
  for (char& c : word) {
    c = static_cast<char>(c | 0x20);
  }
  for (std::string_view key :
       {"c", "state", "city", "zip", "asn", "s", "ttl", "smartpath", "strict"}) {
    if (word == key) {
      return true;
    }
  }
  return false;
}

// A place name of 1 to 3 words that are not keys, any letter case, at most 64 bytes; sometimes
// one the dictionary knows.
std::string RandomPlace(std::mt19937_64& rng, std::initializer_list<const char*> known) {
  if (rng() % 4 == 0) {
    return *(known.begin() + rng() % known.size());
  }
  std::string name;
  size_t words = 1 + rng() % 3;
  for (size_t i = 0; i < words; ++i) {
    std::string word;
    do {
      word = RandomString(rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", 1,
                          20);
    } while (IsKeyWord(word));
    name += (i == 0 ? "" : "_") + word;
  }
  return name;
}

struct Owned {
  // Backing storage for the views of the intent.
  std::string account, state, city, zip, session;
  RoutingIntent intent;
};

void RandomIntent(std::mt19937_64& rng, const PlaceDictionary& places, Owned* out) {
  static constexpr const char* kCountries[] = {"gb", "us", "de", "fr", "jp", "br", "xk", "za"};
  *out = Owned{};
  out->account =
      RandomString(rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", 1,
                   kMaxAccountLength);
  RoutingIntent& intent = out->intent;
  intent.account = out->account;
  if (rng() % 3 != 0) {
    const char* country = kCountries[rng() % std::size(kCountries)];
    intent.country = CountryCode::FromLowerLetters(country[0], country[1]);
    if (rng() % 2 == 0) {
      out->state = RandomPlace(rng, {"florida", "North_Carolina"});
    }
    if (rng() % 2 == 0) {
      out->city = RandomPlace(rng, {"london", "New_York", "charlotte"});
    }
    if (rng() % 3 == 0) {
      out->zip = RandomPlace(rng, {"32808"});
    }
  }
  intent.state_text = out->state;
  intent.city_text = out->city;
  intent.zip_text = out->zip;
  intent.state = out->state.empty() ? kAnyPlace : places.Find(PlaceKind::kState, out->state);
  intent.city = out->city.empty() ? kAnyPlace : places.Find(PlaceKind::kCity, out->city);
  intent.zip = out->zip.empty() ? kAnyPlace : places.Find(PlaceKind::kZip, out->zip);
  if (rng() % 3 == 0) {
    intent.asn = static_cast<uint32_t>(1 + rng() % 0xffffffffu);
  }
  if (rng() % 2 == 0) {
    out->session = RandomString(rng, kAlnum, 1, kMaxSessionIdLength);
    intent.session_id = out->session;
    intent.session_key = SessionKey(out->account, out->session);
    if (rng() % 2 == 0) {
      intent.ttl_s = static_cast<uint32_t>(60 * (1 + rng() % 1440));
    }
    if (rng() % 3 == 0) {
      intent.flags |= kRoutingFlagStrict;
    }
  }
  if (rng() % 4 == 0) {
    intent.flags |= kRoutingFlagSmartpath;
  }
}

TEST_F(RoutingParser, RoundTripsRandomValidIntents) {
  std::mt19937_64 rng(20240601);
  int checked = 0;
  int too_long = 0;
  Owned owned;
  for (int i = 0; i < 20000; ++i) {
    RandomIntent(rng, **places_, &owned);
    std::string formatted = FormatRoutingIntent(owned.intent);
    if (formatted.size() > kMaxRoutingStringLength) {
      ++too_long;
      continue;
    }
    RoutingIntent parsed;
    RoutingError error = ParseRoutingString(formatted, **places_, &parsed);
    ASSERT_TRUE(error.ok()) << formatted << ": " << error.Message();
    ASSERT_TRUE(SameRoute(parsed, owned.intent)) << formatted;
    ASSERT_EQ(FormatRoutingIntent(parsed), formatted);
    ++checked;
  }
  // The generator mostly stays under the length limit, so most cases are really checked.
  EXPECT_GT(checked, 15000) << too_long << " too long";
}

// Writes the parts of a valid intent in random order and letter case, as a client might.
TEST_F(RoutingParser, CanonicalizesShuffledAndRecasedStrings) {
  std::mt19937_64 rng(77);
  Owned owned;
  int checked = 0;
  for (int i = 0; i < 5000; ++i) {
    RandomIntent(rng, **places_, &owned);
    std::string canonical = FormatRoutingIntent(owned.intent);
    if (canonical.size() > kMaxRoutingStringLength) {
      continue;
    }
    // Split the canonical form back into its key parts by parsing it, then rebuild shuffled.
    std::vector<std::string> parts;
    const RoutingIntent& x = owned.intent;
    if (!x.country.empty()) {
      parts.push_back(std::string("C_") + x.country.first() +
                      static_cast<char>(x.country.second() - 32));
    }
    if (!x.state_text.empty()) {
      parts.push_back("State_" + std::string(x.state_text));
    }
    if (!x.city_text.empty()) {
      parts.push_back("CITY_" + std::string(x.city_text));
    }
    if (!x.zip_text.empty()) {
      parts.push_back("zIp_" + std::string(x.zip_text));
    }
    if (x.asn != 0) {
      parts.push_back("ASN_" + std::to_string(x.asn));
    }
    if (x.sticky()) {
      parts.push_back("S_" + std::string(x.session_id));
    }
    if (x.ttl_s != 0) {
      parts.push_back("Ttl_" + std::to_string(x.ttl_s / 60) + "M");
    }
    if (x.smartpath()) {
      parts.push_back("SmartPath");
    }
    if (x.strict()) {
      parts.push_back("STRICT");
    }
    std::shuffle(parts.begin(), parts.end(), rng);
    std::string input(x.account);
    for (const std::string& part : parts) {
      input += "_" + part;
    }
    if (input.size() > kMaxRoutingStringLength) {
      continue;
    }
    RoutingIntent parsed;
    RoutingError error = ParseRoutingString(input, **places_, &parsed);
    ASSERT_TRUE(error.ok()) << input << ": " << error.Message();
    ASSERT_TRUE(SameRoute(parsed, x)) << input;
    ASSERT_EQ(FormatRoutingIntent(parsed), canonical) << input;
    ++checked;
  }
  EXPECT_GT(checked, 3500);
}

// Random bytes, and random strings made of routing-string pieces, never crash the parser; each
// either parses (and then round-trips) or gives an error whose part lies inside the input.
TEST_F(RoutingParser, SurvivesRandomInput) {
  static constexpr std::string_view kPieces[] = {
      "_",      "c",  "s",  "state", "city", "zip", "asn", "ttl",  "smartpath",
      "strict", "us", "gb", "new",   "york", "0",   "1",   "7018", "24h",
      "1m",     "2d", "x",  "-",     ".",    "A",   "__"};
  std::mt19937_64 rng(5);
  int parsed_ok = 0;
  int failed = 0;
  for (int i = 0; i < 40000; ++i) {
    std::string input;
    if (i % 2 == 0) {
      size_t length = rng() % 300;
      for (size_t j = 0; j < length; ++j) {
        input += static_cast<char>(rng() & 0xff);
      }
    } else {
      input = "a";
      size_t pieces = rng() % 12;
      for (size_t j = 0; j < pieces; ++j) {
        input += kPieces[rng() % std::size(kPieces)];
      }
    }

    RoutingIntent intent;
    RoutingError error = ParseRoutingString(input, **places_, &intent);
    if (error.ok()) {
      ++parsed_ok;
      std::string canonical = FormatRoutingIntent(intent);
      RoutingIntent again;
      ASSERT_TRUE(ParseRoutingString(canonical, **places_, &again).ok()) << canonical;
      ASSERT_TRUE(SameRoute(again, intent)) << input;
      continue;
    }
    ++failed;
    ASSERT_LE(error.offset, input.size());
    ASSERT_GE(error.part.data() + error.part.size(), error.part.data());
    if (!error.part.empty()) {
      ASSERT_GE(error.part.data(), input.data());
      ASSERT_LE(error.part.data() + error.part.size(), input.data() + input.size());
    }
    std::string message = error.Message();
    ASSERT_FALSE(message.empty());
    ASSERT_LE(message.size(), kMaxRoutingErrorMessageLength);
  }
  // Both outcomes were exercised.
  EXPECT_GT(parsed_ok, 100);
  EXPECT_GT(failed, 20000);
}

}  // namespace
}  // namespace strait::routing
