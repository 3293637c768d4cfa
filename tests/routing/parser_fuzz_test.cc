// libFuzzer target for the routing-string parser. Built as a real fuzzer with
// `bazel build --config=fuzz //tests/routing:parser_fuzzer`, and replayed under gcc by
// //tests/routing:parser_fuzz_test (fuzz_replay_main.cc) so CI keeps it working.
//
// For every input: the parser must not crash, an error must point inside the input and describe
// itself within kMaxRoutingErrorMessageLength bytes, and an accepted string must format to a
// canonical form no longer than itself that parses back to the same route and formats to the
// same bytes again.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "core/check.h"
#include "routing/parser.h"

namespace strait::routing {
namespace {

const PlaceDictionary& Places() {
  // Built once and never freed: libFuzzer runs the target until the process exits.
  static const PlaceDictionary* places = [] {
    PlaceDictionary::Builder builder;
    for (const char* city : {"london", "new_york", "charlotte"}) {
      STRAIT_CHECK(builder.Intern(PlaceKind::kCity, city).ok());
    }
    STRAIT_CHECK(builder.Intern(PlaceKind::kState, "north_carolina").ok());
    STRAIT_CHECK(builder.Intern(PlaceKind::kZip, "32808").ok());
    return new PlaceDictionary(*std::move(builder).Build());
  }();
  return *places;
}

void CheckError(std::string_view input, const RoutingError& error) {
  STRAIT_CHECK(error.offset <= input.size());
  if (!error.part.empty()) {
    STRAIT_CHECK(error.part.data() >= input.data());
    STRAIT_CHECK(error.part.data() + error.part.size() <= input.data() + input.size());
  }
  char message[2 * kMaxRoutingErrorMessageLength];
  size_t length = error.Describe(message, sizeof(message));
  STRAIT_CHECK(length > 0 && length <= kMaxRoutingErrorMessageLength);
}

void CheckRoundTrip(std::string_view input, const RoutingIntent& intent) {
  const PlaceDictionary& places = Places();
  char canonical[kMaxRoutingStringLength];
  size_t length = FormatRoutingIntent(intent, canonical, sizeof(canonical));
  STRAIT_CHECK(length > 0 && length <= input.size());

  RoutingIntent again;
  STRAIT_CHECK(ParseRoutingString(std::string_view(canonical, length), places, &again).ok());
  STRAIT_CHECK(SameRoute(again, intent));

  char twice[kMaxRoutingStringLength];
  STRAIT_CHECK(FormatRoutingIntent(again, twice, sizeof(twice)) == length);
  STRAIT_CHECK(std::memcmp(canonical, twice, length) == 0);
}

}  // namespace
}  // namespace strait::routing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strait::routing;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  RoutingIntent intent;
  RoutingError error = ParseRoutingString(input, Places(), &intent);
  if (error.ok()) {
    CheckRoundTrip(input, intent);
  } else {
    CheckError(input, error);
  }
  return 0;
}
