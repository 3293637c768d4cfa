// Counts heap allocations made by the parser. This binary replaces the global operator new
// (//tests/testing:allocation_counter), so it holds only these tests.

#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "routing/parser.h"
#include "tests/testing/allocation_counter.h"

namespace strait::routing {
namespace {

std::shared_ptr<const PlaceDictionary> MakePlaces() {
  PlaceDictionary::Builder builder;
  EXPECT_TRUE(builder.Intern(PlaceKind::kCity, "new_york").ok());
  EXPECT_TRUE(builder.Intern(PlaceKind::kCity, "london").ok());
  EXPECT_TRUE(builder.Intern(PlaceKind::kState, "north_carolina").ok());
  EXPECT_TRUE(builder.Intern(PlaceKind::kZip, "32808").ok());
  return std::move(builder).Build();
}

// Allocations made by one parse of `input`, plus describing its error or formatting its intent
// into a stack buffer.
uint64_t AllocationsOfParse(std::string_view input, const PlaceDictionary& places, bool* ok) {
  char buffer[512];
  uint64_t before = strait::testing::AllocationCount();
  RoutingIntent intent;
  RoutingError error = ParseRoutingString(input, places, &intent);
  size_t length = error.ok() ? FormatRoutingIntent(intent, buffer, sizeof(buffer))
                             : error.Describe(buffer, sizeof(buffer));
  uint64_t after = strait::testing::AllocationCount();
  *ok = error.ok();
  EXPECT_GT(length, 0u) << input;
  return after - before;
}

TEST(RoutingParserAllocations, CounterSeesAllocations) {
  // The counter works, so the zeros below mean something.
  uint64_t before = strait::testing::AllocationCount();
  auto* leak_check = new std::string(100, 'x');
  delete leak_check;
  EXPECT_GT(strait::testing::AllocationCount(), before);
}

TEST(RoutingParserAllocations, ParsesWithoutAllocating) {
  std::shared_ptr<const PlaceDictionary> places = MakePlaces();

  // The first sticky parse in the process also draws the session-key secret; it is measured too.
  static constexpr std::string_view kValid[] = {
      "alice_s_we12NkllMSS_ttl_2h",
      "alice",
      "alice_c_gb",
      "alice_c_gb_city_london",
      "alice_c_us_state_florida",
      "alice_c_us_zip_32808",
      "alice_asn_7018",
      "alice_c_us_city_charlotte_asn_7018",
      "alice_s_we12NkllMSS",
      "alice_smartpath",
      "alice_s_abc_strict",
      "alice_C_US_STATE_North_Carolina_CITY_New_York_ZIP_32808_s_x_ttl_1d_strict_smartpath",
  };
  for (std::string_view input : kValid) {
    bool ok = false;
    EXPECT_EQ(AllocationsOfParse(input, *places, &ok), 0u) << input;
    EXPECT_TRUE(ok) << input;
  }
}

TEST(RoutingParserAllocations, FailsWithoutAllocating) {
  std::shared_ptr<const PlaceDictionary> places = MakePlaces();
  const std::string too_long(300, 'a');
  const std::string long_key = "a_" + std::string(200, 'k');
  const std::string_view kInvalid[] = {
      "",
      too_long,
      long_key,
      "alice_c_us:",
      "alice__c",
      "alice_",
      "ab_c_gb_cty",
      "alice_c_us_c_gb",
      "alice_c",
      "alice_smartpath_yes",
      "alice_c_usa",
      "alice_c_zz",
      "alice_c_us_city_st.louis",
      "alice_asn_0",
      "alice_s_a-b",
      "alice_s_a_ttl_2x",
      "alice_s_a_ttl_25h",
      "alice_ttl_2h",
      "alice_strict",
      "alice_city_london",
  };
  for (std::string_view input : kInvalid) {
    bool ok = true;
    EXPECT_EQ(AllocationsOfParse(input, *places, &ok), 0u) << input;
    EXPECT_FALSE(ok) << input;
  }
}

}  // namespace
}  // namespace strait::routing
