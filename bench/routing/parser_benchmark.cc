// The compact routing-string parser against a straightforward one (split on '_' into strings,
// keys in a hash map, std::stoul), on every DESIGN.md example and on the longest valid string.
//
//   bazel run --config=opt //bench/routing:parser_benchmark
//
// Each benchmark reports allocs_per_parse, counted by the global operator new that
// //tests/testing:allocation_counter puts in this binary.

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/check.h"
#include "routing/parser.h"
#include "tests/testing/allocation_counter.h"

namespace strait::routing {
namespace {

// --- Inputs ------------------------------------------------------------------------------------

// 255 bytes using every key, with place names the dictionary knows.
std::string LongestValid() {
  std::string rest =
      "_c_gb_state_wales_city_llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"
      "_zip_ll61_5uj_asn_4294967295_s_" +
      std::string(64, 'Q') + "_ttl_1440m_smartpath_strict";
  std::string input = std::string(kMaxRoutingStringLength - rest.size(), 'a') + rest;
  STRAIT_CHECK(input.size() == kMaxRoutingStringLength);
  return input;
}

const std::vector<std::string>& Examples() {
  static const std::vector<std::string> examples = {
      "alice",
      "alice_c_gb",
      "alice_c_gb_city_london",
      "alice_c_us_state_florida",
      "alice_c_us_zip_32808",
      "alice_asn_7018",
      "alice_c_us_city_charlotte_asn_7018",
      "alice_s_we12NkllMSS",
      "alice_s_we12NkllMSS_ttl_2h",
      "alice_smartpath",
      LongestValid(),
  };
  return examples;
}

// A dictionary the size of a small exit fleet, holding the examples' places.
const PlaceDictionary& Places() {
  static const std::shared_ptr<const PlaceDictionary> places = [] {
    PlaceDictionary::Builder builder;
    for (const char* state : {"florida", "wales", "north_carolina"}) {
      STRAIT_CHECK(builder.Intern(PlaceKind::kState, state).ok());
    }
    for (const char* city : {"london", "charlotte", "new_york",
                             "llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"}) {
      STRAIT_CHECK(builder.Intern(PlaceKind::kCity, city).ok());
    }
    for (const char* zip : {"32808", "ll61_5uj"}) {
      STRAIT_CHECK(builder.Intern(PlaceKind::kZip, zip).ok());
    }
    for (int i = 0; i < 5000; ++i) {
      STRAIT_CHECK(builder.Intern(PlaceKind::kCity, "town" + std::to_string(i)).ok());
      STRAIT_CHECK(builder.Intern(PlaceKind::kZip, std::to_string(10000 + i)).ok());
    }
    return std::move(builder).Build();
  }();
  return *places;
}

// --- The baseline: what one writes without thinking about cost --------------------------------

struct BaselineIntent {
  std::string account;
  std::string country;
  std::string state, city, zip;
  PlaceId state_id = kAnyPlace, city_id = kAnyPlace, zip_id = kAnyPlace;
  uint32_t asn = 0;
  std::string session_id;
  uint64_t session_key = 0;
  uint32_t ttl_s = 0;
  bool smartpath = false;
  bool strict = false;
};

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    size_t end = text.find(separator, begin);
    if (end == std::string::npos) {
      parts.push_back(text.substr(begin));
      return parts;
    }
    parts.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

std::string ToLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool AllOf(const std::string& text, int (*predicate)(int)) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [predicate](unsigned char c) { return predicate(c) != 0; });
}

// The ISO 3166-1 alpha-2 codes ParseRoutingString() accepts, as one would paste them.
constexpr const char* kIsoCountryCodes =
    "ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br "
    "bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz "
    "ec ee eg eh er es et fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw "
    "gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky "
    "kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv "
    "mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py "
    "qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg "
    "th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm "
    "zw xk";

// Same grammar and checks as ParseRoutingString(); returns an error message or nothing.
std::optional<std::string> BaselineParse(const std::string& username, const PlaceDictionary& places,
                                         BaselineIntent* intent) {
  static const std::unordered_map<std::string, std::string> kKeys = {
      {"c", "country"},    {"state", "place"},    {"city", "place"},
      {"zip", "place"},    {"asn", "number"},     {"s", "session"},
      {"ttl", "duration"}, {"smartpath", "flag"}, {"strict", "flag"}};
  static const std::unordered_set<std::string> kCountries = [] {
    std::unordered_set<std::string> codes;
    for (const std::string& code : Split(kIsoCountryCodes, ' ')) {
      codes.insert(code);
    }
    return codes;
  }();

  if (username.size() > kMaxRoutingStringLength) {
    return "routing string too long";
  }
  std::vector<std::string> parts = Split(username, '_');
  BaselineIntent result;
  result.account = parts[0];
  if (result.account.empty() || result.account.size() > kMaxAccountLength) {
    return "bad account";
  }
  std::set<std::string> seen;
  for (size_t i = 1; i < parts.size();) {
    std::string key = ToLower(parts[i]);
    auto it = kKeys.find(key);
    if (it == kKeys.end()) {
      return "unknown key '" + parts[i] + "'";
    }
    if (!seen.insert(key).second) {
      return "duplicate key '" + key + "'";
    }
    ++i;
    if (it->second == "flag") {
      (key == "strict" ? result.strict : result.smartpath) = true;
      continue;
    }
    if (i >= parts.size() || parts[i].empty()) {
      return "key '" + key + "' needs a value";
    }
    std::string value = parts[i++];
    if (it->second == "place") {
      while (i < parts.size() && kKeys.count(ToLower(parts[i])) == 0) {
        value += "_" + parts[i++];
      }
      PlaceKind kind =
          key == "state" ? PlaceKind::kState : (key == "city" ? PlaceKind::kCity : PlaceKind::kZip);
      PlaceId id = places.Find(kind, value);
      (kind == PlaceKind::kState  ? result.state
       : kind == PlaceKind::kCity ? result.city
                                  : result.zip) = value;
      (kind == PlaceKind::kState  ? result.state_id
       : kind == PlaceKind::kCity ? result.city_id
                                  : result.zip_id) = id;
    } else if (it->second == "country") {
      std::string country = ToLower(value);
      if (country.size() != 2 || !AllOf(country, std::isalpha) || !kCountries.count(country)) {
        return "bad country '" + value + "'";
      }
      result.country = country;
    } else if (it->second == "number") {
      if (!AllOf(value, std::isdigit) || value[0] == '0' || value.size() > 10 ||
          std::stoul(value) > 0xffffffffu) {
        return "bad asn '" + value + "'";
      }
      result.asn = static_cast<uint32_t>(std::stoul(value));
    } else if (it->second == "session") {
      if (!AllOf(value, std::isalnum) || value.size() > kMaxSessionIdLength) {
        return "bad session id '" + value + "'";
      }
      result.session_id = value;
    } else {
      std::string lower = ToLower(value);
      std::string number = lower.substr(0, lower.size() - 1);
      std::unordered_map<char, uint32_t> units = {{'m', 60}, {'h', 3600}, {'d', 86400}};
      if (!units.count(lower.back()) || !AllOf(number, std::isdigit) ||
          (number[0] == '0' && number.size() > 1) || number.size() > 6) {
        return "bad ttl '" + value + "'";
      }
      uint64_t seconds = std::stoul(number) * units[lower.back()];
      if (seconds < kMinTtlSeconds || seconds > kMaxTtlSeconds) {
        return "ttl " + value + " out of range (1m..24h)";
      }
      result.ttl_s = static_cast<uint32_t>(seconds);
    }
  }
  if ((seen.count("ttl") || seen.count("strict")) && !seen.count("s")) {
    return std::string("ttl or strict without s");
  }
  if ((seen.count("state") || seen.count("city") || seen.count("zip")) && !seen.count("c")) {
    return std::string("place without c");
  }
  if (!result.session_id.empty()) {
    result.session_key = SessionKey(result.account, result.session_id);
  }
  *intent = std::move(result);
  return std::nullopt;
}

// Both parsers must read every example the same way, or the comparison means nothing.
void CheckParsersAgree() {
  for (const std::string& example : Examples()) {
    RoutingIntent compact;
    BaselineIntent baseline;
    STRAIT_CHECK(ParseRoutingString(example, Places(), &compact).ok());
    STRAIT_CHECK(!BaselineParse(example, Places(), &baseline).has_value());
    STRAIT_CHECK(compact.account == baseline.account);
    STRAIT_CHECK(compact.city == baseline.city_id && compact.state == baseline.state_id &&
                 compact.zip == baseline.zip_id);
    STRAIT_CHECK(compact.asn == baseline.asn && compact.ttl_s == baseline.ttl_s);
    STRAIT_CHECK(compact.session_key == baseline.session_key);
    STRAIT_CHECK(compact.strict() == baseline.strict && compact.smartpath() == baseline.smartpath);
  }
}

// --- Benchmarks --------------------------------------------------------------------------------

void ReportAllocations(benchmark::State& state, uint64_t before) {
  uint64_t allocations = testing::AllocationCount() - before;
  state.counters["allocs_per_parse"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

void BM_RoutingParseCompact(benchmark::State& state) {
  CheckParsersAgree();
  const std::string& input = Examples()[static_cast<size_t>(state.range(0))];
  const PlaceDictionary& places = Places();
  state.SetLabel(input.size() > 40 ? input.substr(0, 37) + "..." : input);

  // The intent outlives the loop in both benchmarks, as a connection's would.
  RoutingIntent intent;
  uint64_t before = testing::AllocationCount();
  for (auto _ : state) {
    RoutingError error = ParseRoutingString(input, places, &intent);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(intent);
  }
  ReportAllocations(state, before);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_RoutingParseCompact)->DenseRange(0, 10);

void BM_RoutingParseBaseline(benchmark::State& state) {
  const std::string& input = Examples()[static_cast<size_t>(state.range(0))];
  const PlaceDictionary& places = Places();
  state.SetLabel(input.size() > 40 ? input.substr(0, 37) + "..." : input);

  BaselineIntent intent;
  uint64_t before = testing::AllocationCount();
  for (auto _ : state) {
    std::optional<std::string> error = BaselineParse(input, places, &intent);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(intent);
  }
  ReportAllocations(state, before);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_RoutingParseBaseline)->DenseRange(0, 10);

}  // namespace
}  // namespace strait::routing

BENCHMARK_MAIN();
