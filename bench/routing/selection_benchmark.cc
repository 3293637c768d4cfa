// Exit selection over large fleets, against a linear scan of the snapshot (what selection would
// cost without the index), plus the cost of building a snapshot.
//
//   bazel run --config=opt //bench/routing:selection_benchmark
//
// The fleet: 40% of exits in "us" (50 states, 2,000 cities, 20,000 ZIPs), 10% in "gb" (300
// cities), the rest spread over 48 other countries (50 cities each); 3,000 ASNs; one exit in
// ten has weight 4. Every pick takes a lease and gives it back, as a tunnel would.

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/routing/counting_allocator.h"
#include "benchmark/benchmark.h"
#include "core/absl_compat.h"
#include "fmt/format.h"
#include "routing/exit_registry.h"
#include "routing/selector.h"

namespace strait::routing {
namespace {

constexpr uint32_t kNowS = 1000;

std::vector<ExitSpec> MakeFleet(size_t size) {
  std::vector<ExitSpec> specs;
  specs.reserve(size);
  for (size_t i = 0; i < size; ++i) {
    ExitSpec spec;
    spec.id = fmt::format("exit-{}", i);
    size_t bucket = i % 100;
    if (bucket < 40) {
      spec.country = "us";
      spec.state = fmt::format("state-{}", i % 50);
      spec.city = fmt::format("us-city-{}", (i * 31) % 2000);
      spec.zip = fmt::format("{}", 10000 + (i * 17) % 20000);
    } else if (bucket < 50) {
      spec.country = "gb";
      spec.city = fmt::format("gb-city-{}", (i * 13) % 300);
    } else {
      size_t country = i % 48;
      spec.country = fmt::format("{}{}", static_cast<char>('c' + country / 26 % 2),
                                 static_cast<char>('a' + country % 26));
      spec.city = fmt::format("{}-city-{}", spec.country, i % 50);
    }
    spec.asn = 1000 + static_cast<uint32_t>((i * 7919) % 3000);
    spec.weight = i % 10 == 0 ? 4 : 1;
    specs.push_back(std::move(spec));
  }
  return specs;
}

struct Fleet {
  ExitRegistry registry;
  SnapshotRef snapshot;
};

// Built once per size and kept for the whole run.
Fleet& FleetOf(size_t size) {
  static auto* fleets = new std::map<size_t, std::unique_ptr<Fleet>>();
  std::unique_ptr<Fleet>& fleet = (*fleets)[size];
  if (fleet == nullptr) {
    fleet = std::make_unique<Fleet>();
    absl::Status loaded = fleet->registry.ReplaceAll(MakeFleet(size));
    if (!loaded.ok()) {
      std::abort();
    }
    fleet->snapshot = fleet->registry.Acquire();
  }
  return *fleet;
}

RoutingIntent CountryIntent() {
  RoutingIntent intent;
  intent.country = CountryCode::FromLowerLetters('u', 's');
  return intent;
}

RoutingIntent CityIntent(const ExitSnapshot& snapshot) {
  RoutingIntent intent = CountryIntent();
  intent.city = snapshot.places().Find(PlaceKind::kCity, "us-city-17");
  return intent;
}

RoutingIntent AsnIntent() {
  RoutingIntent intent;
  intent.asn = 1000 + 1234;
  return intent;
}

void ReportPerPick(benchmark::State& state, int64_t allocations_before, const Fleet& fleet) {
  state.counters["allocs_per_pick"] =
      static_cast<double>(bench::AllocationCount() - allocations_before) /
      static_cast<double>(state.iterations());
  state.counters["index_MiB"] =
      static_cast<double>(fleet.snapshot->index().memory_bytes()) / (1 << 20);
  state.SetItemsProcessed(state.iterations());
}

// Picks for `intent` over and over, each expected to end in `expected`.
void RunSelect(benchmark::State& state, Fleet& fleet, const RoutingIntent& intent,
               SelectOutcome expected) {
  AffinityTable sticky(1000);
  FastRng rng(1);
  SelectorOptions options;
  int64_t allocations = bench::AllocationCount();
  for (auto _ : state) {
    SelectionResult result =
        SelectExit(*fleet.snapshot, sticky, intent, Pool::kResidential, kNowS, rng, options);
    if (result.outcome != expected) {
      state.SkipWithError("unexpected selection outcome");
      break;
    }
    benchmark::DoNotOptimize(&result);
  }
  ReportPerPick(state, allocations, fleet);
}

void RunSelect(benchmark::State& state, RoutingIntent (*make_intent)(const ExitSnapshot&)) {
  Fleet& fleet = FleetOf(static_cast<size_t>(state.range(0)));
  RunSelect(state, fleet, make_intent(*fleet.snapshot), SelectOutcome::kSelected);
}

void BM_SelectByCountry(benchmark::State& state) {
  RunSelect(state, [](const ExitSnapshot&) { return CountryIntent(); });
}
BENCHMARK(BM_SelectByCountry)->Arg(100'000)->Arg(1'000'000);

void BM_SelectByCity(benchmark::State& state) { RunSelect(state, CityIntent); }
BENCHMARK(BM_SelectByCity)->Arg(100'000)->Arg(1'000'000);

void BM_SelectByAsn(benchmark::State& state) {
  RunSelect(state, [](const ExitSnapshot&) { return AsnIntent(); });
}
BENCHMARK(BM_SelectByAsn)->Arg(100'000)->Arg(1'000'000);

// A refusal: the city exists, but not on that network. The reason is formatted every time.
void BM_SelectNoExit(benchmark::State& state) {
  Fleet& fleet = FleetOf(static_cast<size_t>(state.range(0)));
  RoutingIntent intent = CityIntent(*fleet.snapshot);
  intent.asn = 99;
  RunSelect(state, fleet, intent, SelectOutcome::kNoExit);
}
BENCHMARK(BM_SelectNoExit)->Arg(100'000)->Arg(1'000'000);

// A later tunnel of a sticky session: affinity hit, checks, lease.
void BM_SelectStickyHit(benchmark::State& state) {
  Fleet& fleet = FleetOf(static_cast<size_t>(state.range(0)));
  RoutingIntent intent = CityIntent(*fleet.snapshot);
  intent.session_id = "bench";
  intent.session_key = 0x5eed;
  AffinityTable sticky(1000);
  FastRng rng(1);
  SelectorOptions options;
  int64_t allocations = bench::AllocationCount();
  for (auto _ : state) {
    SelectionResult result =
        SelectExit(*fleet.snapshot, sticky, intent, Pool::kResidential, kNowS, rng, options);
    benchmark::DoNotOptimize(result.lease.get());
  }
  ReportPerPick(state, allocations, fleet);
}
BENCHMARK(BM_SelectStickyHit)->Arg(100'000)->Arg(1'000'000);

// The baseline: scan every exit of the snapshot, keep a uniformly random matching healthy one.
void RunScan(benchmark::State& state, RoutingIntent (*make_intent)(const ExitSnapshot&)) {
  Fleet& fleet = FleetOf(static_cast<size_t>(state.range(0)));
  RoutingIntent intent = make_intent(*fleet.snapshot);
  FastRng rng(1);
  int64_t allocations = bench::AllocationCount();
  for (auto _ : state) {
    const Exit* chosen = nullptr;
    uint32_t matched = 0;
    for (const Exit* exit : fleet.snapshot->exits()) {
      bool match = exit->pool() == Pool::kResidential &&
                   (intent.country.empty() || exit->country() == intent.country) &&
                   (intent.city == kAnyPlace || exit->city() == intent.city) &&
                   (intent.asn == 0 || exit->asn() == intent.asn) && exit->healthy();
      if (match && rng.Below(++matched) == 0) {
        chosen = exit;
      }
    }
    ExitLease lease = chosen->TryLease();
    benchmark::DoNotOptimize(lease.get());
  }
  ReportPerPick(state, allocations, fleet);
}

void BM_ScanSelectByCountry(benchmark::State& state) {
  RunScan(state, [](const ExitSnapshot&) { return CountryIntent(); });
}
BENCHMARK(BM_ScanSelectByCountry)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_ScanSelectByCity(benchmark::State& state) { RunScan(state, CityIntent); }
BENCHMARK(BM_ScanSelectByCity)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_ScanSelectByAsn(benchmark::State& state) {
  RunScan(state, [](const ExitSnapshot&) { return AsnIntent(); });
}
BENCHMARK(BM_ScanSelectByAsn)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

// Building a snapshot (index, id and handle maps) over exits that already exist: the work of
// every publish.
void BM_SnapshotBuild(benchmark::State& state) {
  Fleet& fleet = FleetOf(static_cast<size_t>(state.range(0)));
  std::vector<ExitRef> exits;
  for (const Exit* exit : fleet.snapshot->exits()) {
    exits.push_back(ExitRef::Share(exit));
  }
  for (auto _ : state) {
    auto snapshot = std::make_unique<ExitSnapshot>(exits, fleet.snapshot->shared_places(), 1);
    benchmark::DoNotOptimize(snapshot.get());
    state.PauseTiming();
    snapshot.reset();
    state.ResumeTiming();
  }
  state.counters["exits"] = static_cast<double>(exits.size());
}
BENCHMARK(BM_SnapshotBuild)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// Baseline for the build: only the id map, the least any exit set keyed by id needs.
void BM_IdMapBuild(benchmark::State& state) {
  Fleet& fleet = FleetOf(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    absl::flat_hash_map<absl::string_view, uint32_t> by_id;
    by_id.reserve(fleet.snapshot->size());
    uint32_t i = 0;
    for (const Exit* exit : fleet.snapshot->exits()) {
      by_id.emplace(AbslView(exit->id()), i++);
    }
    benchmark::DoNotOptimize(by_id.size());
  }
}
BENCHMARK(BM_IdMapBuild)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// The whole load of an exits set from parsed specs: validation, interning, exit objects and
// the first snapshot (a start-up or a SIGHUP reload of a file with all-new ids).
void BM_ReplaceAllFresh(benchmark::State& state) {
  std::vector<ExitSpec> specs = MakeFleet(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    auto registry = std::make_unique<ExitRegistry>();
    std::vector<ExitSpec> copy = specs;
    state.ResumeTiming();
    absl::Status loaded = registry->ReplaceAll(std::move(copy));
    benchmark::DoNotOptimize(loaded.ok());
    state.PauseTiming();
    registry.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ReplaceAllFresh)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// One exit added to a large set: publishes a full snapshot (see the TODO in the registry).
void BM_UpsertOne(benchmark::State& state) {
  Fleet& fleet = FleetOf(static_cast<size_t>(state.range(0)));
  ExitSpec spec;
  spec.id = "upserted";
  spec.country = "us";
  uint32_t asn = 1;
  for (auto _ : state) {
    spec.asn = asn++;  // a real change every time, so every call publishes
    absl::Status upserted = fleet.registry.Upsert(spec);
    benchmark::DoNotOptimize(upserted.ok());
  }
  fleet.snapshot = fleet.registry.Acquire();
}
BENCHMARK(BM_UpsertOne)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strait::routing

BENCHMARK_MAIN();
