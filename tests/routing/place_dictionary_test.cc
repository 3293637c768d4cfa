#include "routing/place_dictionary.h"

#include "gtest/gtest.h"

namespace strait::routing {
namespace {

TEST(PlaceDictionary, FindsInternedNamesInAnyLetterCase) {
  PlaceDictionary::Builder builder;
  PlaceId charlotte = builder.Intern(PlaceKind::kCity, "Charlotte").value();
  PlaceId new_york = builder.Intern(PlaceKind::kCity, "New York").value();
  std::shared_ptr<const PlaceDictionary> places = std::move(builder).Build();

  EXPECT_EQ(places->Find(PlaceKind::kCity, "CHARLOTTE"), charlotte);
  EXPECT_EQ(places->Find(PlaceKind::kCity, "new_york"), new_york);
  EXPECT_EQ(places->Find(PlaceKind::kCity, "New York"), new_york);
  EXPECT_EQ(places->Name(PlaceKind::kCity, new_york), "new_york");
  EXPECT_NE(charlotte, new_york);
}

TEST(PlaceDictionary, KeepsKindsApart) {
  PlaceDictionary::Builder builder;
  ASSERT_TRUE(builder.Intern(PlaceKind::kState, "georgia").ok());
  std::shared_ptr<const PlaceDictionary> places = std::move(builder).Build();

  EXPECT_NE(places->Find(PlaceKind::kState, "georgia"), kUnknownPlace);
  EXPECT_EQ(places->Find(PlaceKind::kCity, "georgia"), kUnknownPlace);
}

TEST(PlaceDictionary, KeepsIdsWhenExtended) {
  PlaceDictionary::Builder first;
  PlaceId london = first.Intern(PlaceKind::kCity, "london").value();
  std::shared_ptr<const PlaceDictionary> before = std::move(first).Build();

  PlaceDictionary::Builder second(*before);
  PlaceId paris = second.Intern(PlaceKind::kCity, "paris").value();
  EXPECT_EQ(second.Intern(PlaceKind::kCity, "London").value(), london);
  std::shared_ptr<const PlaceDictionary> after = std::move(second).Build();

  EXPECT_EQ(after->Find(PlaceKind::kCity, "london"), london);
  EXPECT_EQ(after->Find(PlaceKind::kCity, "paris"), paris);
  EXPECT_EQ(before->Find(PlaceKind::kCity, "paris"), kUnknownPlace);
}

TEST(PlaceDictionary, RejectsNamesOutsideTheAllowedSet) {
  PlaceDictionary::Builder builder;
  EXPECT_FALSE(builder.Intern(PlaceKind::kCity, "").ok());
  EXPECT_FALSE(builder.Intern(PlaceKind::kCity, "_london").ok());
  EXPECT_FALSE(builder.Intern(PlaceKind::kCity, "lon:don").ok());
  EXPECT_FALSE(builder.Intern(PlaceKind::kCity, std::string(65, 'a')).ok());
  EXPECT_TRUE(builder.Intern(PlaceKind::kCity, std::string(64, 'a')).ok());
}

TEST(PlaceDictionary, AnswersUnknownForNeverIssuedIds) {
  std::shared_ptr<const PlaceDictionary> places = PlaceDictionary::Builder().Build();
  EXPECT_EQ(places->Find(PlaceKind::kZip, "32808"), kUnknownPlace);
  EXPECT_EQ(places->Name(PlaceKind::kZip, 7), "");
  EXPECT_EQ(places->Name(PlaceKind::kZip, kUnknownPlace), "");
}

TEST(PlaceDictionary, FindsNormalizedNamesWithoutNormalizingAgain) {
  PlaceDictionary::Builder builder;
  PlaceId new_york = builder.Intern(PlaceKind::kCity, "New York").value();
  std::shared_ptr<const PlaceDictionary> places = std::move(builder).Build();

  char normalized[PlaceDictionary::kMaxNameLength];
  size_t length = NormalizePlaceName("NEW_York", normalized);
  ASSERT_EQ(length, 8u);
  EXPECT_EQ(places->FindNormalized(PlaceKind::kCity, std::string_view(normalized, length)),
            new_york);
  // The caller promised a normalized name; an upper-case one is simply not found.
  EXPECT_EQ(places->FindNormalized(PlaceKind::kCity, "New_York"), kUnknownPlace);
}

}  // namespace
}  // namespace strait::routing
