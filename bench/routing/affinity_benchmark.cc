// The sticky-session table against the obvious alternative: one absl::flat_hash_map behind a
// std::mutex, shared by all threads, with the same semantics (lookup of a live entry; insert
// that returns the live entry if there is one, else stores, overwriting an expired one).
//
//   bazel run --config=opt //bench/routing:affinity_benchmark
//
// Every benchmark runs on 1 and 2 threads sharing one table, and reports allocs_per_op,
// counted by the global operator new below.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "bench/routing/counting_allocator.h"
#include "benchmark/benchmark.h"
#include "routing/affinity_table.h"

namespace strait::routing {
namespace {

// The baseline: what one would write first.
class MutexAffinityMap {
 public:
  std::optional<AffinityEntry> Find(uint64_t key, uint32_t now_s) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end() || it->second.expiry_s <= now_s) {
      return std::nullopt;
    }
    return it->second;
  }

  AffinityEntry InsertOrGet(uint64_t key, AffinityEntry entry, uint32_t now_s) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto [it, inserted] = map_.try_emplace(key, entry);
    if (!inserted && it->second.expiry_s > now_s) {
      return it->second;
    }
    it->second = entry;
    return entry;
  }

  void Reserve(size_t entries) { map_.reserve(entries); }

 private:
  std::mutex mutex_;
  absl::flat_hash_map<uint64_t, AffinityEntry> map_;
};

// Session keys are keyed hashes: spread sequence numbers the same way.
uint64_t KeyOf(uint64_t n) { return (n + 1) * 0x9e3779b97f4a7c15ull; }

constexpr uint64_t kPrefilled = 200'000;
constexpr uint32_t kFarExpiry = 1u << 30;
constexpr uint64_t kSessionCycle = 200'000;

// Shared by the threads of one benchmark run; built by thread 0 before the timed loop (Google
// Benchmark starts all threads' loops together).
std::unique_ptr<AffinityTable> g_table;
std::unique_ptr<MutexAffinityMap> g_map;

void SetUpTables(benchmark::State& state) {
  if (state.thread_index() != 0) {
    return;
  }
  g_table = std::make_unique<AffinityTable>(1'000'000);
  g_map = std::make_unique<MutexAffinityMap>();
  g_map->Reserve(1'000'000);
  for (uint64_t n = 0; n < kPrefilled; ++n) {
    g_table->InsertOrGet(KeyOf(n), AffinityEntry{static_cast<ExitHandle>(n + 1), kFarExpiry}, 0);
    g_map->InsertOrGet(KeyOf(n), AffinityEntry{static_cast<ExitHandle>(n + 1), kFarExpiry}, 0);
  }
}

void TearDownTables(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_table.reset();
    g_map.reset();
  }
}

void ReportAllocations(benchmark::State& state, int64_t before) {
  state.counters["allocs_per_op"] =
      benchmark::Counter(static_cast<double>(bench::AllocationCount() - before) /
                             static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}

// The tables are reached only inside the timed loop: other threads get there before thread 0 has
// built them, and the loop's start is where all threads wait for each other.

// A tunnel of an existing session: a hit on one of 200k live entries.
template <typename Table>
void LookupHit(benchmark::State& state, const std::unique_ptr<Table>& table) {
  uint64_t n = static_cast<uint64_t>(state.thread_index()) * 7919;
  int64_t allocations = bench::AllocationCount();
  for (auto _ : state) {
    n = (n + 104'729) % kPrefilled;
    std::optional<AffinityEntry> entry = table->Find(KeyOf(n), 100);
    benchmark::DoNotOptimize(entry);
  }
  ReportAllocations(state, allocations);
  state.SetItemsProcessed(state.iterations());
}

void BM_AffinityLookupHit(benchmark::State& state) {
  SetUpTables(state);
  LookupHit(state, g_table);
  TearDownTables(state);
}
BENCHMARK(BM_AffinityLookupHit)->Threads(1)->Threads(2)->UseRealTime();

void BM_MutexMapLookupHit(benchmark::State& state) {
  SetUpTables(state);
  LookupHit(state, g_map);
  TearDownTables(state);
}
BENCHMARK(BM_MutexMapLookupHit)->Threads(1)->Threads(2)->UseRealTime();

// The first tunnel of a new session: a lookup that misses, then an insert. The fake clock
// advances one second per 1,000 sessions per thread and sessions live 100 s, so about 100k are
// alive per thread and the inserts keep reusing expired slots (the table's steady state under
// churn). Each thread has its own key sequence, which repeats after kSessionCycle sessions,
// long after those keys expired, so the baseline map stays bounded (and never rehashes) too.
template <typename Table>
void NewSession(benchmark::State& state, const std::unique_ptr<Table>& table) {
  uint64_t thread = static_cast<uint64_t>(state.thread_index());
  uint64_t n = 0;
  int64_t allocations = bench::AllocationCount();
  for (auto _ : state) {
    uint32_t now_s = static_cast<uint32_t>(n / 1000) + 1;
    uint64_t key = KeyOf(kPrefilled + (n % kSessionCycle) * 2 + thread);
    std::optional<AffinityEntry> entry = table->Find(key, now_s);
    if (!entry.has_value()) {
      auto inserted = table->InsertOrGet(key, AffinityEntry{7, now_s + 100}, now_s);
      benchmark::DoNotOptimize(inserted);
    }
    ++n;
  }
  ReportAllocations(state, allocations);
  state.SetItemsProcessed(state.iterations());
}

void BM_AffinityNewSession(benchmark::State& state) {
  SetUpTables(state);
  NewSession(state, g_table);
  TearDownTables(state);
}
BENCHMARK(BM_AffinityNewSession)->Threads(1)->Threads(2)->UseRealTime();

void BM_MutexMapNewSession(benchmark::State& state) {
  SetUpTables(state);
  NewSession(state, g_map);
  TearDownTables(state);
}
BENCHMARK(BM_MutexMapNewSession)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace strait::routing

BENCHMARK_MAIN();
