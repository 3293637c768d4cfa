#include "routing/affinity_table.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace strait::routing {
namespace {

using InsertOutcome = AffinityTable::InsertOutcome;
using MoveOutcome = AffinityTable::MoveOutcome;

TEST(AffinityTable, FindsWhatWasInsertedUntilItExpires) {
  AffinityTable table(1000);
  EXPECT_FALSE(table.Find(42, 100).has_value());

  auto insert = table.InsertOrGet(42, AffinityEntry{7, 160}, 100);
  EXPECT_EQ(insert.outcome, InsertOutcome::kInserted);
  EXPECT_EQ(insert.entry, (AffinityEntry{7, 160}));

  EXPECT_EQ(table.Find(42, 100), (AffinityEntry{7, 160}));
  EXPECT_EQ(table.Find(42, 159), (AffinityEntry{7, 160}));
  EXPECT_FALSE(table.Find(42, 160).has_value());
  EXPECT_FALSE(table.Find(43, 100).has_value());
  EXPECT_EQ(table.CountLive(100), 1u);
  EXPECT_EQ(table.CountLive(160), 0u);
}

TEST(AffinityTable, ReturnsTheLiveEntryInsteadOfOverwritingIt) {
  AffinityTable table(1000);
  table.InsertOrGet(5, AffinityEntry{1, 200}, 100);

  auto second = table.InsertOrGet(5, AffinityEntry{2, 300}, 150);
  EXPECT_EQ(second.outcome, InsertOutcome::kExisting);
  EXPECT_EQ(second.entry, (AffinityEntry{1, 200}));

  // Once expired, the key starts a new entry in place.
  auto third = table.InsertOrGet(5, AffinityEntry{3, 400}, 200);
  EXPECT_EQ(third.outcome, InsertOutcome::kInserted);
  EXPECT_EQ(table.Find(5, 200), (AffinityEntry{3, 400}));
  EXPECT_EQ(table.CountLive(200), 1u);
}

TEST(AffinityTable, KeepsDistinctKeysApartIncludingZero) {
  // Two accounts using the same session id have different keys (the key hashes the account
  // too): the table must hold them as two entries.
  AffinityTable table(1000);
  uint64_t alice_abc = 0x1234567890abcdefull;
  uint64_t bob_abc = 0x1234567890abcdeeull;  // differs in one bit
  table.InsertOrGet(alice_abc, AffinityEntry{1, 500}, 0);
  table.InsertOrGet(bob_abc, AffinityEntry{2, 500}, 0);
  table.InsertOrGet(0, AffinityEntry{3, 500}, 0);

  EXPECT_EQ(table.Find(alice_abc, 0)->handle, 1u);
  EXPECT_EQ(table.Find(bob_abc, 0)->handle, 2u);
  EXPECT_EQ(table.Find(0, 0)->handle, 3u);
  EXPECT_EQ(table.CountLive(0), 3u);
}

TEST(AffinityTable, MovesOnlyFromTheExpectedHandleAndKeepsTheExpiry) {
  AffinityTable table(1000);
  table.InsertOrGet(9, AffinityEntry{1, 500}, 100);

  auto moved = table.Move(9, 1, 2, 200);
  EXPECT_EQ(moved.outcome, MoveOutcome::kMoved);
  EXPECT_EQ(moved.entry, (AffinityEntry{2, 500}));
  EXPECT_EQ(table.Find(9, 200), (AffinityEntry{2, 500}));

  auto stale = table.Move(9, 1, 3, 200);  // someone moved it already
  EXPECT_EQ(stale.outcome, MoveOutcome::kChanged);
  EXPECT_EQ(stale.entry, (AffinityEntry{2, 500}));

  EXPECT_EQ(table.Move(9, 2, 3, 500).outcome, MoveOutcome::kAbsent);  // expired
  EXPECT_EQ(table.Move(10, 2, 3, 200).outcome, MoveOutcome::kAbsent);
}

TEST(AffinityTable, ErasesEntries) {
  AffinityTable table(1000);
  table.InsertOrGet(9, AffinityEntry{1, 500}, 100);
  EXPECT_TRUE(table.Erase(9));
  EXPECT_FALSE(table.Erase(9));
  EXPECT_FALSE(table.Find(9, 100).has_value());
  EXPECT_EQ(table.InsertOrGet(9, AffinityEntry{4, 500}, 100).outcome, InsertOutcome::kInserted);
}

// The full-table policy: with no free or expired slot in a new key's two buckets, the insert is
// refused (the caller proceeds without stickiness) and no live session is evicted.
TEST(AffinityTable, RefusesNewKeysWhenFullAndEvictsNoLiveSession) {
  AffinityTable table(7);  // the minimum: two buckets of seven, every key may use both
  ASSERT_EQ(table.slot_count(), 14u);
  for (uint64_t key = 1; key <= 14; ++key) {
    ASSERT_EQ(table.InsertOrGet(key, AffinityEntry{static_cast<ExitHandle>(key), 1000}, 0).outcome,
              InsertOutcome::kInserted)
        << key;
  }

  auto refused = table.InsertOrGet(15, AffinityEntry{15, 1000}, 10);
  EXPECT_EQ(refused.outcome, InsertOutcome::kFull);
  EXPECT_FALSE(table.Find(15, 10).has_value());
  for (uint64_t key = 1; key <= 14; ++key) {
    EXPECT_EQ(table.Find(key, 10)->handle, key);
  }

  // An existing key is still answered while full.
  EXPECT_EQ(table.InsertOrGet(3, AffinityEntry{99, 2000}, 10).outcome, InsertOutcome::kExisting);

  // Erasing one makes room again.
  ASSERT_TRUE(table.Erase(5));
  EXPECT_EQ(table.InsertOrGet(15, AffinityEntry{15, 1000}, 10).outcome, InsertOutcome::kInserted);
  EXPECT_EQ(table.InsertOrGet(16, AffinityEntry{16, 3000}, 1000).outcome,
            InsertOutcome::kInserted);  // at t=1000 everything else has expired
  EXPECT_EQ(table.CountLive(1000), 1u);
}

// With two buckets every key's pair is the same two buckets, so about a third of the keys live
// in their second bucket. Re-inserting every key after expiry must reuse each key's own slot,
// wherever it is: a second copy would either hide the new entry or run the table out of room.
TEST(AffinityTable, ReusesExpiredEntriesInPlaceInEitherBucket) {
  AffinityTable table(7);
  for (int round = 0; round < 5; ++round) {
    uint32_t now_s = static_cast<uint32_t>(round) * 100;
    for (uint64_t key = 1; key <= 14; ++key) {
      ExitHandle handle = static_cast<ExitHandle>(round * 100 + key);
      ASSERT_EQ(table.InsertOrGet(key, AffinityEntry{handle, now_s + 50}, now_s).outcome,
                InsertOutcome::kInserted)
          << "round " << round << " key " << key;
    }
    for (uint64_t key = 1; key <= 14; ++key) {
      ASSERT_EQ(table.Find(key, now_s)->handle, static_cast<ExitHandle>(round * 100 + key));
    }
    EXPECT_EQ(table.CountLive(now_s), 14u);
  }
}

// Millions of short sessions through a small table with a fake clock: memory stays what it was
// at construction, expired slots are reused by later inserts, and inserts practically never
// find both buckets full.
TEST(AffinityTable, StaysBoundedUnderAChurnOfShortSessions) {
  constexpr size_t kCapacity = 10'000;
  constexpr uint64_t kSessions = 2'000'000;
  constexpr uint32_t kTtlS = 60;
  constexpr uint64_t kSessionsPerSecond = 100;  // so about 6,000 are alive at once
  AffinityTable table(kCapacity);
  size_t memory = table.memory_bytes();
  uint64_t full = 0;

  for (uint64_t i = 0; i < kSessions; ++i) {
    uint32_t now_s = static_cast<uint32_t>(i / kSessionsPerSecond);
    uint64_t key = i * 0x9e3779b97f4a7c15ull + 1;
    auto result = table.InsertOrGet(key, AffinityEntry{1, now_s + kTtlS}, now_s);
    full += result.outcome == InsertOutcome::kFull ? 1 : 0;
    if (i % 100'003 == 0) {
      EXPECT_LE(table.CountLive(now_s), kTtlS * kSessionsPerSecond);
    }
  }

  EXPECT_EQ(table.memory_bytes(), memory);
  EXPECT_LE(full, kSessions / 100'000);  // measured: 0
  uint32_t end_s = static_cast<uint32_t>(kSessions / kSessionsPerSecond);
  EXPECT_LE(table.CountLive(end_s), kTtlS * kSessionsPerSecond);
  EXPECT_GE(table.CountLive(end_s), kTtlS * kSessionsPerSecond * 9 / 10);
  // Bytes per nominal entry, as stated in the header and bench/README.md.
  EXPECT_LE(static_cast<double>(memory) / kCapacity, 24.5);
}

// Releases all threads of a round together by spinning, so that on a small machine they really
// run into the table at the same instant (a sleeping barrier wakes them microseconds apart).
class SpinBarrier {
 public:
  explicit SpinBarrier(int threads) : threads_(threads) {}

  // Returns false if the others did not arrive within the deadline.
  bool Wait() {
    int generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      return true;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int spin = 0; generation_.load(std::memory_order_acquire) == generation; ++spin) {
      if (spin > 200) {
        std::this_thread::yield();
        if (std::chrono::steady_clock::now() > deadline) {
          return false;
        }
      }
    }
    return true;
  }

 private:
  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<int> generation_{0};
};

// Many threads start the same new session at the same instant, round after round: every
// thread must end up with the same exit.
TEST(AffinityTable, GivesEveryThreadTheSameExitForANewKey) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 5000;
  AffinityTable table(100'000);
  std::vector<ExitHandle> seen(kThreads * kRounds);
  SpinBarrier start(kThreads);
  std::atomic<bool> timed_out{false};
  std::atomic<int> spin_sink{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        uint64_t key = 0xabcdef0000000000ull + static_cast<uint64_t>(round);
        if (!start.Wait()) {
          timed_out.store(true);
          return;
        }
        std::optional<AffinityEntry> entry = table.Find(key, 10);
        if (!entry.has_value()) {
          // Real selection picks an exit between the lookup and the insert: spend a little
          // time here so that several threads sit between the two at once.
          for (int i = 0; i < (round * 7 + t * 13) % 200; ++i) {
            spin_sink.fetch_add(1, std::memory_order_relaxed);
          }
          auto insert =
              table.InsertOrGet(key, AffinityEntry{static_cast<ExitHandle>(t + 1), 1000}, 10);
          entry = insert.entry;
        }
        seen[static_cast<size_t>(round) * kThreads + t] = entry->handle;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  ASSERT_FALSE(timed_out.load());

  int distinct_winners = 0;
  for (int round = 0; round < kRounds; ++round) {
    ExitHandle winner = seen[static_cast<size_t>(round) * kThreads];
    for (int t = 1; t < kThreads; ++t) {
      ASSERT_EQ(seen[static_cast<size_t>(round) * kThreads + t], winner) << "round " << round;
    }
    distinct_winners |= 1 << (winner - 1);
  }
  // More than one thread won some round: the race was real.
  EXPECT_NE(distinct_winners & (distinct_winners - 1), 0);
}

// Handles are derived from the key, so a reader can tell if it was ever given another key's
// value while slots are cleared and reused under it.
ExitHandle HandleFor(uint64_t key, uint32_t variant) {
  return (static_cast<uint32_t>(key * 0x9e3779b97f4a7c15ull >> 40) << 8) | (variant & 0xff) | 1;
}

bool HandleMatches(uint64_t key, ExitHandle handle) {
  return (handle >> 8) == (HandleFor(key, 0) >> 8);
}

// Threads insert, find, move and erase keys of a small key space on a small table while the
// clock runs, so slots are cleared and reused constantly. No reader may ever see an entry that
// belongs to another key. Run under TSan by the tsan config.
TEST(AffinityTable, NeverPairsAKeyWithAnotherKeysEntryUnderChurn) {
  constexpr int kThreads = 4;
  constexpr int kOperationsPerThread = 200'000;
  constexpr uint64_t kKeys = 64;
  AffinityTable table(21);  // four buckets: constant slot reuse
  std::atomic<uint32_t> clock_s{0};
  std::atomic<int> mismatches{0};
  std::atomic<int64_t> hits{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t state = 0x1234 + static_cast<uint64_t>(t);
      for (int i = 0; i < kOperationsPerThread; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t key = (state >> 33) % kKeys + 1;
        uint32_t now_s = clock_s.load(std::memory_order_relaxed);
        if (t == 0 && i % 64 == 0) {
          clock_s.fetch_add(1, std::memory_order_relaxed);
        }
        switch ((state >> 20) % 8) {
          case 0:
          case 1:
          case 2: {
            auto entry = table.Find(key, now_s);
            if (entry.has_value()) {
              hits.fetch_add(1, std::memory_order_relaxed);
              if (!HandleMatches(key, entry->handle)) {
                mismatches.fetch_add(1);
              }
            }
            break;
          }
          case 3:
          case 4:
          case 5: {
            uint32_t ttl_s = static_cast<uint32_t>((state >> 40) % 4) + 1;
            auto result = table.InsertOrGet(
                key, AffinityEntry{HandleFor(key, static_cast<uint32_t>(i)), now_s + ttl_s}, now_s);
            if (result.outcome != InsertOutcome::kFull &&
                !HandleMatches(key, result.entry.handle)) {
              mismatches.fetch_add(1);
            }
            break;
          }
          case 6: {
            auto entry = table.Find(key, now_s);
            if (entry.has_value()) {
              table.Move(key, entry->handle, HandleFor(key, static_cast<uint32_t>(i)), now_s);
            }
            break;
          }
          default:
            table.Erase(key);
            break;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(hits.load(), 0);
}

}  // namespace
}  // namespace strait::routing
