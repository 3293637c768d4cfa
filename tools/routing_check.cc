// routing_check: tells an operator whether usernames are valid routing strings.
//
//   routing_check alice_C_US_city_New_York_s_ab12_ttl_120m   # one or more arguments
//   printf 'alice_c_gb\nbob_cty_x\n' | routing_check          # or one username per stdin line
//
// For each username it prints the canonical form, or `error: <message>` in the words the client
// would see in its bad_routing reply. Place names are checked for shape only: no exit list is
// loaded, so every well-formed name is accepted. Exits 0 when all were valid, 1 when any was
// not, 2 on a usage error.

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "routing/parser.h"

namespace strait::routing {
namespace {

// Checks one username and prints the outcome; returns whether it was valid.
bool Check(std::string_view username, const PlaceDictionary& places) {
  RoutingIntent intent;
  RoutingError error = ParseRoutingString(username, places, &intent);
  if (!error.ok()) {
    std::printf("error: %s\n", error.Message().c_str());
    return false;
  }
  std::printf("%s\n", FormatRoutingIntent(intent).c_str());
  return true;
}

int Main(int argc, char** argv) {
  // TODO: no exit list is loaded, so a well-formed place no exit has is reported as valid;
  // loading the exits file (once core/ has its loader) would let this say "unknown city".
  PlaceDictionary places;
  bool all_valid = true;
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "-h" || arg == "--help") {
        std::fprintf(stderr, "usage: %s [USERNAME...]  (or usernames on stdin, one a line)\n",
                     argv[0]);
        return 2;
      }
      all_valid = Check(arg, places) && all_valid;
    }
    return all_valid ? 0 : 1;
  }

  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    all_valid = Check(line, places) && all_valid;
  }
  return all_valid ? 0 : 1;
}

}  // namespace
}  // namespace strait::routing

int main(int argc, char** argv) { return strait::routing::Main(argc, argv); }
