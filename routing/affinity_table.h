#pragma once

// AffinityTable: the sticky-session table, shared by every shard.
//
// Maps a session key (the keyed hash of account and session id, RoutingIntent::session_key) to
// the exit handle the session uses and the second it expires. Fixed memory, chosen at
// construction; no allocation after it.
//
//   AffinityTable sticky(1'000'000);                  // sessions alive at once
//   std::optional<AffinityEntry> hit = sticky.Find(key, now_s);
//   auto [outcome, entry] = sticky.InsertOrGet(key, {handle, now_s + ttl_s}, now_s);
//   // kExisting: another thread won the race; use entry.handle like it does.
//
// Layout: 128-byte buckets, each a 16-byte header (writer lock word, version counter) and seven
// 16-byte slots (64-bit key; exit handle and expiry second packed in a second 64-bit word). A
// key may live in one of two buckets chosen by its hash (the less loaded one at insert time), so
// the table stays usable to about 100% of its nominal capacity: it has capacity / 0.75 slots,
// about 24.4 bytes per nominal entry.
//
// Concurrency contract:
// - Find is lock-free and, in practice, wait-free: it reads at most the two buckets and never
//   writes. A hit is validated with the bucket's version counter,
//   which writers bump whenever a slot's key is cleared, so a reader can never return a value
//   that belonged to another key (no ABA). A hit that fails validation four times in a row (four
//   slot reuses in that bucket during one read) is re-read under the bucket's lock: the only
//   case where a lookup can wait for a writer.
// - Writers serialize per bucket on the header's lock word, taken with compare-and-swap. Two
//   rules: a slot is written only under its bucket's lock, and every decision about a key
//   (InsertOrGet, Move, Erase) holds the lock of the key's first ("home") bucket throughout.
//   The second makes "first insert of a key wins" exact: every thread that inserts the same new
//   key at the same instant gets the winner's entry. A common insert takes only the home lock
//   (the other bucket's copy of the key, if any, is read validated, like Find) and the other
//   bucket's lock only by a try; otherwise, and for Move and Erase, both locks are taken in
//   bucket index order, so lock waits can never form a cycle. The critical section is a scan of
//   at most 14 slots and one or two stores.
// - Expired entries are reclaimed by the inserts themselves: an insert reuses an expired slot of
//   its two buckets when no slot is free. There is no sweeper and no global pause.
// - When both buckets of a new key hold only live entries, the insert fails (kFull) and the
//   caller proceeds without stickiness. Established sessions are never evicted: evicting would
//   silently break a promise already made to a client, and would let one account that opens
//   sessions in bulk push out other accounts' sessions.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "routing/exit.h"

namespace strait::routing {

struct AffinityEntry {
  ExitHandle handle = kNoExitHandle;
  uint32_t expiry_s = 0;  // the entry is alive while now_s < expiry_s

  friend bool operator==(const AffinityEntry&, const AffinityEntry&) = default;
};

class AffinityTable {
 public:
  static constexpr int kSlotsPerBucket = 7;
  static constexpr size_t kBucketBytes = 128;
  // Nominal capacity over slots: measured with two-choice buckets of seven, inserts fail for
  // about 0.01% of keys when the table is filled to its nominal capacity.
  static constexpr double kMaxLoad = 0.75;

  enum class InsertOutcome : uint8_t {
    kInserted,  // the key was absent or expired; the given entry is stored
    kExisting,  // the key had a live entry, returned; nothing stored
    kFull,      // no free or expired slot in the key's two buckets; nothing stored
  };
  struct InsertResult {
    InsertOutcome outcome;
    AffinityEntry entry;  // the stored or existing entry; the given one for kFull
  };

  enum class MoveOutcome : uint8_t {
    kMoved,    // the live entry had handle `from` and now has `to`, expiry unchanged
    kChanged,  // the live entry has another handle (returned), e.g. another thread moved it
    kAbsent,   // no live entry
  };
  struct MoveResult {
    MoveOutcome outcome;
    AffinityEntry entry;
  };

  // Room for `capacity` live entries (at least one bucket pair).
  explicit AffinityTable(size_t capacity);
  ~AffinityTable();

  AffinityTable(const AffinityTable&) = delete;
  AffinityTable& operator=(const AffinityTable&) = delete;

  // The live entry of `key`, or nullopt. Never blocks (see the concurrency contract).
  std::optional<AffinityEntry> Find(uint64_t key, uint32_t now_s) const;

  // Returns the live entry of `key` if there is one, else stores `entry` (in the slot of the
  // key's expired entry, a free slot, or an expired slot of another key, in that order).
  InsertResult InsertOrGet(uint64_t key, AffinityEntry entry, uint32_t now_s);

  // Compare-and-swap of a live entry's handle, for a session that moves to a new exit.
  MoveResult Move(uint64_t key, ExitHandle from, ExitHandle to, uint32_t now_s);

  // Removes the key's entry, live or expired. Returns whether there was one.
  bool Erase(uint64_t key);

  // Live entries now; reads every slot (for metrics and tests, not the hot path).
  size_t CountLive(uint32_t now_s) const;

  size_t capacity() const { return capacity_; }
  size_t slot_count() const { return bucket_count_ * kSlotsPerBucket; }
  size_t memory_bytes() const { return bucket_count_ * kBucketBytes; }

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};    // 0: free
    std::atomic<uint64_t> value{0};  // handle << 32 | expiry_s
  };
  struct alignas(kBucketBytes) Bucket {
    std::atomic<uint32_t> lock{0};
    std::atomic<uint32_t> version{0};  // bumped after a slot's key is cleared
    uint64_t reserved = 0;
    Slot slots[kSlotsPerBucket];
  };
  static_assert(sizeof(Bucket) == kBucketBytes);

  // Holds the locks of a key's two buckets; see Lock().
  class BucketPairLock;

  // Free, expired and live slots of a bucket (first of each kind).
  struct Occupancy {
    Slot* free = nullptr;
    Slot* expired = nullptr;
    int live = 0;
  };
  static Occupancy Survey(const Bucket& bucket, uint32_t now_s);
  // Stores a new key in the free (else expired) slot of a locked bucket; false if neither.
  static bool StoreNewLocked(Bucket& bucket, const Occupancy& occupancy, uint64_t key,
                             AffinityEntry entry);
  // The common insert, holding the key's home bucket lock (plus the other one only by try);
  // nullopt when it must fall back to InsertHoldingBoth.
  static std::optional<InsertResult> InsertHoldingHome(Bucket& home, Bucket& other, uint64_t key,
                                                       AffinityEntry entry, uint32_t now_s);
  static InsertResult InsertHoldingBoth(Bucket& home, Bucket& other, uint64_t key,
                                        AffinityEntry entry, uint32_t now_s);

  void BucketsOf(uint64_t key, size_t* first, size_t* second) const;
  // Reads the key in one bucket: 1 hit (in *entry, live or not), 0 miss, -1 validation failed.
  static int ReadBucket(const Bucket& bucket, uint64_t key, uint64_t* value);
  // Spins for the lock; false only after an absurd wait (a bug), reported as STRAIT_BUG.
  static bool Lock(Bucket& bucket);
  static bool TryLock(Bucket& bucket);
  static void Unlock(Bucket& bucket);
  // Finds `key`'s slot in a locked bucket, or nullptr.
  static Slot* FindLocked(Bucket& bucket, uint64_t key);
  // Empties a slot of a locked bucket.
  static void ClearLocked(Bucket& bucket, Slot& slot);

  size_t capacity_;
  size_t bucket_count_;
  Bucket* buckets_;  // bucket_count_ of them, from internal::AllocateMaybeHuge
};

}  // namespace strait::routing
