#include "routing/affinity_table.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/check.h"
#include "routing/internal/huge_page_allocator.h"

namespace strait::routing {
namespace {

// Key 0 marks a free slot; the one session key equal to 0 is stored as this instead (keys are
// keyed 64-bit hashes, so the merge costs a 2^-64 chance of two sessions sharing an entry, the
// same as any other pair of keys colliding).
constexpr uint64_t kZeroKeyStandIn = 0x5bd1e9955bd1e995ull;

// Re-reads of a hit whose bucket changed underneath before falling back to the lock.
constexpr int kOptimisticReads = 4;

// Spins with a pause, then yields; about ten seconds of yielding means a lock holder died.
constexpr int kSpinsBeforeYield = 64;
constexpr int64_t kMaxLockAttempts = 10'000'000;

uint64_t StoredKey(uint64_t key) { return key == 0 ? kZeroKeyStandIn : key; }

uint64_t PackValue(AffinityEntry entry) {
  return (static_cast<uint64_t>(entry.handle) << 32) | entry.expiry_s;
}

AffinityEntry UnpackValue(uint64_t value) {
  return AffinityEntry{static_cast<ExitHandle>(value >> 32), static_cast<uint32_t>(value)};
}

bool Alive(uint64_t value, uint32_t now_s) { return now_s < static_cast<uint32_t>(value); }

// Session keys are hashes already, but tests and benchmarks use small integers: mix so that
// both halves are uniform either way (the 64-bit finalizer of MurmurHash3, a bijection).
uint64_t Mix(uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  key *= 0xc4ceb9fe1a85ec53ull;
  key ^= key >> 33;
  return key;
}

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

// Locks a key's two buckets in index order (so two writers never wait on each other in a
// cycle) and unlocks them on destruction.
class AffinityTable::BucketPairLock {
 public:
  BucketPairLock(Bucket* first, Bucket* second) {
    if (second < first) {
      std::swap(first, second);
    }
    // Ask for both lines for writing at once: taking the locks one after the other would
    // otherwise wait for each line in turn.
    __builtin_prefetch(first, 1);
    __builtin_prefetch(second, 1);
    if (!Lock(*first)) {
      return;
    }
    if (!Lock(*second)) {
      Unlock(*first);
      return;
    }
    first_ = first;
    second_ = second;
  }
  ~BucketPairLock() {
    if (first_ != nullptr) {
      Unlock(*second_);
      Unlock(*first_);
    }
  }
  bool locked() const { return first_ != nullptr; }

 private:
  Bucket* first_ = nullptr;
  Bucket* second_ = nullptr;
};

AffinityTable::AffinityTable(size_t capacity) : capacity_(capacity) {
  size_t slots = static_cast<size_t>(std::ceil(static_cast<double>(capacity) / kMaxLoad));
  bucket_count_ = std::max<size_t>(2, (slots + kSlotsPerBucket - 1) / kSlotsPerBucket);
  STRAIT_CHECK(bucket_count_ < (uint64_t{1} << 32));
  // Lookups read two random buckets: on huge pages they rarely miss the TLB as well.
  void* memory = internal::AllocateMaybeHuge(bucket_count_ * sizeof(Bucket), alignof(Bucket));
  buckets_ = static_cast<Bucket*>(memory);
  for (size_t i = 0; i < bucket_count_; ++i) {
    new (&buckets_[i]) Bucket();
  }
}

AffinityTable::~AffinityTable() {
  static_assert(std::is_trivially_destructible_v<Bucket>);
  internal::FreeMaybeHuge(buckets_, bucket_count_ * sizeof(Bucket), alignof(Bucket));
}

void AffinityTable::BucketsOf(uint64_t key, size_t* first, size_t* second) const {
  uint64_t mixed = Mix(key);
  *first = static_cast<size_t>(((mixed & 0xffffffffull) * bucket_count_) >> 32);
  *second = static_cast<size_t>(((mixed >> 32) * bucket_count_) >> 32);
  if (*second == *first) {
    *second = (*first + 1) % bucket_count_;
  }
}

int AffinityTable::ReadBucket(const Bucket& bucket, uint64_t key, uint64_t* value) {
  // Every load is an acquire, so the final version load cannot move before the slot loads, and
  // seeing a reused slot's new key or value implies seeing the version bump that preceded it.
  uint32_t version = bucket.version.load(std::memory_order_acquire);
  for (const Slot& slot : bucket.slots) {
    if (slot.key.load(std::memory_order_acquire) != key) {
      continue;
    }
    // A miss needs no validation: keys never move, so a concurrently inserted key is simply
    // ordered after this read. A hit does: the slot may have been cleared and reused since.
    uint64_t read = slot.value.load(std::memory_order_acquire);
    if (bucket.version.load(std::memory_order_acquire) != version) {
      return -1;
    }
    *value = read;
    return 1;
  }
  return 0;
}

std::optional<AffinityEntry> AffinityTable::Find(uint64_t key, uint32_t now_s) const {
  key = StoredKey(key);
  size_t indexes[2];
  BucketsOf(key, &indexes[0], &indexes[1]);
  // A third of the keys live in the second bucket and every miss reads it: fetch it while the
  // first one is read. Buckets span two cache lines.
  for (size_t index : indexes) {
    const char* bucket = reinterpret_cast<const char*>(&buckets_[index]);
    __builtin_prefetch(bucket);
    __builtin_prefetch(bucket + 64);
  }

  for (size_t index : indexes) {
    Bucket& bucket = buckets_[index];
    uint64_t value = 0;
    int found = -1;
    for (int attempt = 0; attempt < kOptimisticReads && found < 0; ++attempt) {
      found = ReadBucket(bucket, key, &value);
    }
    if (found < 0) [[unlikely]] {
      if (!Lock(bucket)) {
        return std::nullopt;
      }
      Slot* slot = FindLocked(bucket, key);
      found = slot != nullptr ? 1 : 0;
      if (slot != nullptr) {
        value = slot->value.load(std::memory_order_relaxed);
      }
      Unlock(bucket);
    }
    if (found == 1) {
      // A key lives in at most one bucket, so a hit settles it either way.
      if (!Alive(value, now_s)) {
        return std::nullopt;
      }
      return UnpackValue(value);
    }
  }
  return std::nullopt;
}

AffinityTable::InsertResult AffinityTable::InsertOrGet(uint64_t key, AffinityEntry entry,
                                                       uint32_t now_s) {
  key = StoredKey(key);
  size_t home_index, other_index;
  BucketsOf(key, &home_index, &other_index);
  Bucket& home = buckets_[home_index];
  Bucket& other = buckets_[other_index];

  std::optional<InsertResult> result = InsertHoldingHome(home, other, key, entry, now_s);
  if (result.has_value()) {
    return *result;
  }
  return InsertHoldingBoth(home, other, key, entry, now_s);
}

AffinityTable::Occupancy AffinityTable::Survey(const Bucket& bucket, uint32_t now_s) {
  // Without branches: which slots are free, live or expired is random, and mispredicted
  // branches here cost more than the loads.
  uint32_t free_mask = 0;
  uint32_t expired_mask = 0;
  int live = 0;
  for (int i = 0; i < kSlotsPerBucket; ++i) {
    uint32_t used = bucket.slots[i].key.load(std::memory_order_relaxed) != 0;
    uint32_t alive = used & Alive(bucket.slots[i].value.load(std::memory_order_relaxed), now_s);
    free_mask |= (1 - used) << i;
    expired_mask |= (used & (1 - alive)) << i;
    live += static_cast<int>(alive);
  }

  auto first = [&](uint32_t mask) {
    return mask == 0 ? nullptr : const_cast<Slot*>(&bucket.slots[__builtin_ctz(mask)]);
  };
  return Occupancy{first(free_mask), first(expired_mask), live};
}

bool AffinityTable::StoreNewLocked(Bucket& bucket, const Occupancy& occupancy, uint64_t key,
                                   AffinityEntry entry) {
  Slot* slot = occupancy.free;
  if (slot == nullptr && occupancy.expired != nullptr) {
    slot = occupancy.expired;
    ClearLocked(bucket, *slot);
  }
  if (slot == nullptr) {
    return false;
  }
  // Value before key, both release: a reader that sees the key sees this value.
  slot->value.store(PackValue(entry), std::memory_order_release);
  slot->key.store(key, std::memory_order_release);
  return true;
}

std::optional<AffinityTable::InsertResult> AffinityTable::InsertHoldingHome(
    Bucket& home, Bucket& other, uint64_t key, AffinityEntry entry, uint32_t now_s) {
  if (!Lock(home)) [[unlikely]] {
    return InsertResult{InsertOutcome::kFull, entry};
  }
  struct Unlocker {
    Bucket& bucket;
    ~Unlocker() { Unlock(bucket); }
  } unlock_home{home};

  if (Slot* slot = FindLocked(home, key); slot != nullptr) {
    uint64_t value = slot->value.load(std::memory_order_relaxed);
    if (Alive(value, now_s)) {
      return InsertResult{InsertOutcome::kExisting, UnpackValue(value)};
    }
    slot->value.store(PackValue(entry), std::memory_order_release);
    return InsertResult{InsertOutcome::kInserted, entry};
  }

  // The other bucket, read without its lock: only holders of the home lock add or change this
  // key, so what the validated read sees of it stays true while we hold the home lock.
  uint64_t value = 0;
  int found = ReadBucket(other, key, &value);
  if (found == 1 && Alive(value, now_s)) {
    return InsertResult{InsertOutcome::kExisting, UnpackValue(value)};
  }

  // A new key goes to the less loaded bucket. The other bucket's count is only a hint here.
  Occupancy here = Survey(home, now_s);
  if (found == 0) {
    Occupancy there = Survey(other, now_s);
    bool room_here = here.free != nullptr || here.expired != nullptr;
    bool room_there = there.free != nullptr || there.expired != nullptr;
    if (room_here && (here.live <= there.live || !room_there)) {
      StoreNewLocked(home, here, key, entry);
      return InsertResult{InsertOutcome::kInserted, entry};
    }
  }

  // The key's expired entry in the other bucket is reused in place, or the other bucket is the
  // better place: either needs its lock. Never wait for a second lock while holding one: a
  // failed try falls back to taking both in index order.
  if (!TryLock(other)) {
    return std::nullopt;
  }
  Unlocker unlock_other{other};
  if (Slot* slot = FindLocked(other, key); slot != nullptr) {
    // Live only if the validated read above failed and told us nothing.
    uint64_t current = slot->value.load(std::memory_order_relaxed);
    if (Alive(current, now_s)) {
      return InsertResult{InsertOutcome::kExisting, UnpackValue(current)};
    }
    slot->value.store(PackValue(entry), std::memory_order_release);
    return InsertResult{InsertOutcome::kInserted, entry};
  }
  if (StoreNewLocked(other, Survey(other, now_s), key, entry) ||
      StoreNewLocked(home, here, key, entry)) {
    return InsertResult{InsertOutcome::kInserted, entry};
  }
  return InsertResult{InsertOutcome::kFull, entry};
}

AffinityTable::InsertResult AffinityTable::InsertHoldingBoth(Bucket& home, Bucket& other,
                                                             uint64_t key, AffinityEntry entry,
                                                             uint32_t now_s) {
  BucketPairLock lock(&home, &other);
  if (!lock.locked()) [[unlikely]] {
    return InsertResult{InsertOutcome::kFull, entry};
  }

  // The key itself, live or expired.
  Bucket* pair[2] = {&home, &other};
  for (Bucket* bucket : pair) {
    Slot* slot = FindLocked(*bucket, key);
    if (slot == nullptr) {
      continue;
    }
    uint64_t value = slot->value.load(std::memory_order_relaxed);
    if (Alive(value, now_s)) {
      return InsertResult{InsertOutcome::kExisting, UnpackValue(value)};
    }
    slot->value.store(PackValue(entry), std::memory_order_release);
    return InsertResult{InsertOutcome::kInserted, entry};
  }

  // A new key: the less loaded bucket, a free slot before an expired one.
  Occupancy occupancy[2] = {Survey(home, now_s), Survey(other, now_s)};
  int first = occupancy[1].live < occupancy[0].live ? 1 : 0;
  if (StoreNewLocked(*pair[first], occupancy[first], key, entry) ||
      StoreNewLocked(*pair[1 - first], occupancy[1 - first], key, entry)) {
    return InsertResult{InsertOutcome::kInserted, entry};
  }
  return InsertResult{InsertOutcome::kFull, entry};
}

AffinityTable::MoveResult AffinityTable::Move(uint64_t key, ExitHandle from, ExitHandle to,
                                              uint32_t now_s) {
  key = StoredKey(key);
  size_t first_index, second_index;
  BucketsOf(key, &first_index, &second_index);
  Bucket* pair[2] = {&buckets_[first_index], &buckets_[second_index]};
  BucketPairLock lock(pair[0], pair[1]);
  if (!lock.locked()) [[unlikely]] {
    return MoveResult{MoveOutcome::kAbsent, {}};
  }

  for (Bucket* bucket : pair) {
    Slot* slot = FindLocked(*bucket, key);
    if (slot == nullptr) {
      continue;
    }
    uint64_t value = slot->value.load(std::memory_order_relaxed);
    if (!Alive(value, now_s)) {
      break;
    }
    AffinityEntry current = UnpackValue(value);
    if (current.handle != from) {
      return MoveResult{MoveOutcome::kChanged, current};
    }
    AffinityEntry moved{to, current.expiry_s};
    slot->value.store(PackValue(moved), std::memory_order_release);
    return MoveResult{MoveOutcome::kMoved, moved};
  }
  return MoveResult{MoveOutcome::kAbsent, {}};
}

bool AffinityTable::Erase(uint64_t key) {
  key = StoredKey(key);
  size_t first_index, second_index;
  BucketsOf(key, &first_index, &second_index);
  Bucket* pair[2] = {&buckets_[first_index], &buckets_[second_index]};
  BucketPairLock lock(pair[0], pair[1]);
  if (!lock.locked()) [[unlikely]] {
    return false;
  }
  for (Bucket* bucket : pair) {
    Slot* slot = FindLocked(*bucket, key);
    if (slot != nullptr) {
      ClearLocked(*bucket, *slot);
      return true;
    }
  }
  return false;
}

size_t AffinityTable::CountLive(uint32_t now_s) const {
  size_t live = 0;
  for (size_t b = 0; b < bucket_count_; ++b) {
    for (const Slot& slot : buckets_[b].slots) {
      if (slot.key.load(std::memory_order_relaxed) != 0 &&
          Alive(slot.value.load(std::memory_order_relaxed), now_s)) {
        ++live;
      }
    }
  }
  return live;
}

bool AffinityTable::Lock(Bucket& bucket) {
  for (int64_t attempt = 0; attempt < kMaxLockAttempts; ++attempt) {
    uint32_t expected = 0;
    if (bucket.lock.load(std::memory_order_relaxed) == 0 &&
        bucket.lock.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
      return true;
    }
    if (attempt < kSpinsBeforeYield) {
      CpuRelax();
    } else {
      sched_yield();
    }
  }
  STRAIT_BUG("affinity table bucket lock held for seconds");
  return false;
}

bool AffinityTable::TryLock(Bucket& bucket) {
  uint32_t expected = 0;
  return bucket.lock.load(std::memory_order_relaxed) == 0 &&
         bucket.lock.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                             std::memory_order_relaxed);
}

void AffinityTable::Unlock(Bucket& bucket) { bucket.lock.store(0, std::memory_order_release); }

AffinityTable::Slot* AffinityTable::FindLocked(Bucket& bucket, uint64_t key) {
  for (Slot& slot : bucket.slots) {
    if (slot.key.load(std::memory_order_relaxed) == key) {
      return &slot;
    }
  }
  return nullptr;
}

void AffinityTable::ClearLocked(Bucket& bucket, Slot& slot) {
  // Key first, then the version bump with release: a reader that sees the bump sees the key
  // gone, and a reader that later sees this slot's next value or key sees the bump (the next
  // stores are releases made after it), so its validation fails instead of pairing the old key
  // with a new value.
  slot.key.store(0, std::memory_order_relaxed);
  bucket.version.store(bucket.version.load(std::memory_order_relaxed) + 1,
                       std::memory_order_release);
}

}  // namespace strait::routing
