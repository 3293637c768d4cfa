#pragma once

// USPS codes of US states, DC and the territories, with their names written the way routing
// strings and exits files write places (lower case, words joined by `_`). The parser uses it so
// that `c_us_state_fl` finds the exits filed under `florida`.

#include <string_view>

namespace strait::routing::internal {

struct UsState {
  std::string_view code;
  std::string_view name;
};

inline constexpr UsState kUsStates[] = {
    {"al", "alabama"},        {"ak", "alaska"},
    {"az", "arizona"},        {"ar", "arkansas"},
    {"ca", "california"},     {"co", "colorado"},
    {"ct", "connecticut"},    {"de", "delaware"},
    {"fl", "florida"},        {"ga", "georgia"},
    {"hi", "hawaii"},         {"id", "idaho"},
    {"il", "illinois"},       {"in", "indiana"},
    {"ia", "iowa"},           {"ks", "kansas"},
    {"ky", "kentucky"},       {"la", "louisiana"},
    {"me", "maine"},          {"md", "maryland"},
    {"ma", "massachusetts"},  {"mi", "michigan"},
    {"mn", "minnesota"},      {"ms", "mississippi"},
    {"mo", "missouri"},       {"mt", "montana"},
    {"ne", "nebraska"},       {"nv", "nevada"},
    {"nh", "new_hampshire"},  {"nj", "new_jersey"},
    {"nm", "new_mexico"},     {"ny", "new_york"},
    {"nc", "north_carolina"}, {"nd", "north_dakota"},
    {"oh", "ohio"},           {"ok", "oklahoma"},
    {"or", "oregon"},         {"pa", "pennsylvania"},
    {"ri", "rhode_island"},   {"sc", "south_carolina"},
    {"sd", "south_dakota"},   {"tn", "tennessee"},
    {"tx", "texas"},          {"ut", "utah"},
    {"vt", "vermont"},        {"va", "virginia"},
    {"wa", "washington"},     {"wv", "west_virginia"},
    {"wi", "wisconsin"},      {"wy", "wyoming"},
    {"dc", "district_of_columbia"},
    {"pr", "puerto_rico"},    {"gu", "guam"},
    {"vi", "virgin_islands"}, {"as", "american_samoa"},
    {"mp", "northern_mariana_islands"},
};

// The state name for a two-letter code in any letter case, or empty.
constexpr std::string_view UsStateName(std::string_view code) {
  if (code.size() != 2) {
    return {};
  }
  char a = code[0] >= 'A' && code[0] <= 'Z' ? static_cast<char>(code[0] - 'A' + 'a') : code[0];
  char b = code[1] >= 'A' && code[1] <= 'Z' ? static_cast<char>(code[1] - 'A' + 'a') : code[1];
  for (const UsState& state : kUsStates) {
    if (state.code[0] == a && state.code[1] == b) {
      return state.name;
    }
  }
  return {};
}

}  // namespace strait::routing::internal
