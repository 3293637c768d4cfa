#include "routing/exit_registry.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace strait::routing {
namespace {

std::string Message(const absl::Status& status) {
  return std::string(status.message().data(), status.message().size());
}

ExitSpec Spec(std::string id, std::string country = "us", std::string city = "", uint32_t asn = 0) {
  ExitSpec spec;
  spec.id = std::move(id);
  spec.country = std::move(country);
  spec.city = std::move(city);
  spec.asn = asn;
  return spec;
}

TEST(ExitRegistry, StartsWithAnEmptySnapshot) {
  ExitRegistry registry;
  SnapshotRef snapshot = registry.Acquire();
  EXPECT_EQ(snapshot->size(), 0u);
  EXPECT_EQ(snapshot->generation(), 1u);
  EXPECT_EQ(registry.live_snapshots(), 1);
}

TEST(ExitRegistry, PublishesExitsFindableByIdAndHandle) {
  ExitRegistry registry;
  ExitSpec london = Spec("lon-1", "GB", "London", 5089);
  london.pool = Pool::kDatacenter;
  london.capacity = 10;
  london.weight = 3;
  ASSERT_TRUE(registry.ReplaceAll({london, Spec("nyc-1", "us", "New York")}).ok());

  SnapshotRef snapshot = registry.Acquire();
  ASSERT_EQ(snapshot->size(), 2u);
  const Exit* exit = snapshot->FindById("lon-1");
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(exit->pool(), Pool::kDatacenter);
  EXPECT_EQ(exit->country(), CountryCode::FromLowerLetters('g', 'b'));
  EXPECT_EQ(exit->city(), snapshot->places().Find(PlaceKind::kCity, "london"));
  EXPECT_NE(exit->city(), kUnknownPlace);
  EXPECT_EQ(exit->state(), kAnyPlace);
  EXPECT_EQ(exit->asn(), 5089u);
  EXPECT_EQ(exit->capacity(), 10u);
  EXPECT_EQ(exit->weight(), 3u);
  EXPECT_TRUE(exit->healthy());
  EXPECT_NE(exit->handle(), kNoExitHandle);
  EXPECT_EQ(snapshot->FindByHandle(exit->handle()), exit);
  EXPECT_EQ(snapshot->FindById("nope"), nullptr);
  EXPECT_EQ(snapshot->FindByHandle(kNoExitHandle), nullptr);
  EXPECT_EQ(snapshot->places().Find(PlaceKind::kCity, "new_york"),
            snapshot->FindById("nyc-1")->city());
}

TEST(ExitRegistry, RefusesABadSetWhole) {
  ExitRegistry registry;
  ASSERT_TRUE(registry.ReplaceAll({Spec("a"), Spec("b")}).ok());
  uint64_t generation = registry.generation();

  EXPECT_EQ(Message(registry.ReplaceAll({Spec("c"), Spec("d", "gbr")})),
            "exit 'd': country 'gbr' is not two letters");
  EXPECT_EQ(Message(registry.ReplaceAll({Spec("c"), Spec("e"), Spec("c")})),
            "exit 'c' appears twice (entries 1 and 3)");
  EXPECT_EQ(Message(registry.ReplaceAll({Spec("c"), Spec("")})),
            "exit #2: id '' is not 1 to 128 bytes long");
  EXPECT_EQ(Message(registry.Upsert(Spec("z", "us", "bad/name"))),
            "exit 'z': city 'bad/name' is not 1 to 64 letters, digits, '-' or words joined by "
            "'_' or ' '");

  EXPECT_EQ(registry.generation(), generation);
  SnapshotRef snapshot = registry.Acquire();
  EXPECT_EQ(snapshot->size(), 2u);
  EXPECT_NE(snapshot->FindById("a"), nullptr);
  EXPECT_EQ(snapshot->FindById("c"), nullptr);
}

TEST(ExitRegistry, KeepsHandlesPerIdAndNeverReusesThem) {
  ExitRegistry registry;
  ASSERT_TRUE(registry.ReplaceAll({Spec("a"), Spec("b")}).ok());
  ExitHandle a = registry.Acquire()->FindById("a")->handle();
  ExitHandle b = registry.Acquire()->FindById("b")->handle();
  EXPECT_NE(a, b);

  ASSERT_TRUE(registry.Upsert(Spec("a", "gb")).ok());  // changed attributes, same id
  ASSERT_TRUE(registry.ReplaceAll({Spec("b"), Spec("a", "fr"), Spec("c")}).ok());
  SnapshotRef snapshot = registry.Acquire();
  EXPECT_EQ(snapshot->FindById("a")->handle(), a);
  EXPECT_EQ(snapshot->FindById("b")->handle(), b);
  ExitHandle c = snapshot->FindById("c")->handle();
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);

  ASSERT_TRUE(registry.Remove("b").ok());
  ASSERT_TRUE(registry.Upsert(Spec("b")).ok());
  ExitHandle b_again = registry.Acquire()->FindById("b")->handle();
  EXPECT_NE(b_again, a);
  EXPECT_NE(b_again, b);
  EXPECT_NE(b_again, c);
}

TEST(ExitRegistry, LeavesHeldSnapshotsUnchanged) {
  ExitRegistry registry;
  ASSERT_TRUE(registry.ReplaceAll({Spec("a", "us")}).ok());
  SnapshotRef before = registry.Acquire();

  ASSERT_TRUE(registry.Upsert(Spec("a", "gb")).ok());
  ASSERT_TRUE(registry.Upsert(Spec("b")).ok());
  ASSERT_TRUE(registry.Remove("a").ok());

  EXPECT_EQ(before->size(), 1u);
  EXPECT_EQ(before->FindById("a")->country(), CountryCode::FromLowerLetters('u', 's'));
  EXPECT_EQ(before->FindById("b"), nullptr);

  SnapshotRef after = registry.Acquire();
  EXPECT_EQ(after->size(), 1u);
  EXPECT_EQ(after->FindById("a"), nullptr);
  EXPECT_GT(after->generation(), before->generation());
}

TEST(ExitRegistry, AppliesHealthToEverySnapshotWithoutPublishing) {
  ExitRegistry registry;
  ASSERT_TRUE(registry.ReplaceAll({Spec("a"), Spec("b")}).ok());
  SnapshotRef old_snapshot = registry.Acquire();
  ASSERT_TRUE(registry.Upsert(Spec("c")).ok());
  uint64_t generation = registry.generation();

  ASSERT_TRUE(registry.SetHealthy("a", false).ok());
  EXPECT_FALSE(old_snapshot->FindById("a")->healthy());
  EXPECT_FALSE(registry.Acquire()->FindById("a")->healthy());
  EXPECT_TRUE(registry.Acquire()->FindById("b")->healthy());
  EXPECT_EQ(registry.generation(), generation);

  // An upsert that changes nothing but health publishes nothing either.
  ExitSpec down = Spec("b");
  down.healthy = false;
  ASSERT_TRUE(registry.Upsert(down).ok());
  EXPECT_FALSE(registry.Acquire()->FindById("b")->healthy());
  EXPECT_EQ(registry.generation(), generation);

  EXPECT_EQ(registry.SetHealthy("zz", true).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry.Remove("zz").code(), absl::StatusCode::kNotFound);
}

TEST(ExitRegistry, CarriesActiveTunnelsAcrossVersionsOfAnExit) {
  ExitRegistry registry;
  ExitSpec spec = Spec("a");
  spec.capacity = 2;
  ASSERT_TRUE(registry.ReplaceAll({spec}).ok());

  ExitLease first = registry.Acquire()->FindById("a")->TryLease();
  ASSERT_TRUE(first);

  spec.country = "gb";  // a new version of the exit
  ASSERT_TRUE(registry.Upsert(spec).ok());
  const Exit* updated = registry.Acquire()->FindById("a");
  EXPECT_NE(updated, first.get());
  EXPECT_EQ(updated->active_tunnels(), 1u);

  ExitLease second = updated->TryLease();
  ASSERT_TRUE(second);
  EXPECT_FALSE(updated->TryLease());  // capacity 2 counts both versions' tunnels
  first.Release();
  EXPECT_EQ(updated->active_tunnels(), 1u);
  EXPECT_TRUE(updated->TryLease());
}

TEST(ExitRegistry, KeepsLeasedExitsAliveAfterRemovalAndFreesSnapshots) {
  ExitRegistry registry;
  ExitSpec spec = Spec("a");
  spec.egress.kind = EgressKind::kHttpConnect;
  spec.egress.upstream_host = "127.0.0.1";
  spec.egress.upstream_port = 3128;
  ASSERT_TRUE(registry.ReplaceAll({spec, Spec("b")}).ok());

  ExitLease lease = registry.Acquire()->FindById("a")->TryLease();
  ASSERT_TRUE(lease);
  ASSERT_TRUE(registry.Remove("a").ok());
  ASSERT_TRUE(registry.ReplaceAll({Spec("c")}).ok());
  registry.Reclaim();
  EXPECT_EQ(registry.live_snapshots(), 1);

  // The snapshots that listed the exit are gone; the lease still reads it (ASan checks this).
  EXPECT_EQ(lease->id(), "a");
  EXPECT_EQ(DescribeEgress(lease->egress()), "http://127.0.0.1:3128");
  EXPECT_EQ(lease->active_tunnels(), 1u);
  lease.Release();
}

TEST(ExitRegistry, FreesAReplacedSnapshotWhenItsLastReaderLetsGo) {
  ExitRegistry registry;
  SnapshotRef first = registry.Acquire();
  SnapshotRef first_again = registry.Acquire();
  ASSERT_TRUE(registry.ReplaceAll({Spec("a")}).ok());
  EXPECT_EQ(registry.live_snapshots(), 2);

  first.Reset();
  EXPECT_EQ(registry.Reclaim(), 0u);
  EXPECT_EQ(registry.live_snapshots(), 2);

  first_again.Reset();
  EXPECT_EQ(registry.Reclaim(), 1u);
  EXPECT_EQ(registry.live_snapshots(), 1);

  // Nobody held the second snapshot: it goes as soon as it is replaced.
  ASSERT_TRUE(registry.ReplaceAll({Spec("b")}).ok());
  EXPECT_EQ(registry.live_snapshots(), 1);
}

TEST(SnapshotCache, FollowsPublishesAndLetsOldSnapshotsGo) {
  ExitRegistry registry;
  SnapshotCache cache(registry);
  EXPECT_EQ(cache.Get().size(), 0u);
  const ExitSnapshot* first = &cache.Get();
  EXPECT_EQ(&cache.Get(), first);

  ASSERT_TRUE(registry.ReplaceAll({Spec("a")}).ok());
  EXPECT_EQ(registry.live_snapshots(), 2);  // the cache still holds the first
  EXPECT_EQ(cache.Get().size(), 1u);
  registry.Reclaim();
  EXPECT_EQ(registry.live_snapshots(), 1);
  cache.Reset();
}

// Readers on several threads acquire snapshots (directly and through caches) while a writer
// replaces the set many times. Every snapshot a reader sees must be internally consistent
// (exactly the exits written together), generations never go backwards for a reader, and once
// everyone lets go only the current snapshot is left.
TEST(ExitRegistry, ServesConsistentSnapshotsWhileReplaced) {
  constexpr int kReplacements = 300;
  constexpr int kReaders = 3;
  ExitRegistry registry;
  std::atomic<bool> done{false};
  std::atomic<int64_t> checks{0};
  std::atomic<int> failures{0};

  auto check = [&](const ExitSnapshot& snapshot) {
    // Round r writes r % 7 + 1 exits, all with ASN r + 1 and ids "r-i".
    if (snapshot.size() == 0) {
      return;
    }
    uint32_t round = snapshot.exits()[0]->asn() - 1;
    bool ok = snapshot.size() == round % 7 + 1;
    for (size_t i = 0; ok && i < snapshot.size(); ++i) {
      const Exit* exit = snapshot.FindById(fmt::format("{}-{}", round, i));
      ok = exit != nullptr && exit->asn() == round + 1 &&
           snapshot.FindByHandle(exit->handle()) == exit;
    }
    if (!ok) {
      failures.fetch_add(1);
    }
    checks.fetch_add(1, std::memory_order_relaxed);
  };

  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      SnapshotCache cache(registry);
      uint64_t last_generation = 0;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!done.load() && std::chrono::steady_clock::now() < deadline) {
        if (t % 2 == 0) {
          const ExitSnapshot& snapshot = cache.Get();
          if (snapshot.generation() < last_generation) {
            failures.fetch_add(1);
          }
          last_generation = snapshot.generation();
          check(snapshot);
        } else {
          SnapshotRef ref = registry.Acquire();
          check(*ref);
          SnapshotRef moved = std::move(ref);  // release from the moved-to reference
        }
      }
    });
  }

  for (int round = 0; round < kReplacements; ++round) {
    std::vector<ExitSpec> specs;
    for (int i = 0; i < round % 7 + 1; ++i) {
      specs.push_back(Spec(fmt::format("{}-{}", round, i), "us", "", round + 1));
    }
    ASSERT_TRUE(registry.ReplaceAll(std::move(specs)).ok());
    if (round % 50 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  done.store(true);
  for (std::thread& reader : readers) {
    reader.join();
  }

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(checks.load(), 0);
  registry.Reclaim();
  EXPECT_EQ(registry.live_snapshots(), 1);
}

}  // namespace
}  // namespace strait::routing
