#pragma once

// ExitRegistry: the set of exits, changed at run time by the control plane and read by every
// shard without locks.
//
// Every change that alters the set (ReplaceAll, Upsert, Remove) builds a new immutable
// ExitSnapshot and publishes it; readers keep whatever snapshot they hold. SetHealthy only flips
// the exit's runtime flag, which every snapshot sees at once, and publishes nothing.
//
// Reading, on a shard thread (one SnapshotCache per thread):
//
//   SnapshotCache exits(registry);             // at shard start
//   ...
//   const ExitSnapshot& snapshot = exits.Get();  // per new tunnel; one relaxed load when unchanged
//   SelectionResult result = SelectExit(snapshot, sticky, intent, pool, now_s, rng, options);
//   // result.lease keeps the exit alive; the snapshot reference may move on at the next Get().
//
// Anywhere else: `SnapshotRef ref = registry.Acquire(); ref->FindById("x");`.
//
// Writing, on control-plane threads: the writers serialize on a mutex; each write validates
// first and changes nothing on error.
//
// Reclamation: the current snapshot pointer and a count of references taken through it share one
// atomic word (a split reference count). Acquire is one fetch_add on that word (wait-free); a
// release gives the reference back to the word while the snapshot is still current (one CAS), or
// else to the snapshot's own counter, which the registry seeded with the word's count when it
// replaced the snapshot. Whoever brings that balance to zero puts the snapshot on a retired list;
// retired snapshots are freed by the next write or by Reclaim(), on a control-plane thread, so a
// shard never pays for freeing a million exits. Limits: at most 4,194,303 references to the
// current snapshot at once (SnapshotCache holds one per thread); the registry must outlive every
// SnapshotRef and SnapshotCache.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "routing/exit.h"
#include "routing/exit_snapshot.h"
#include "routing/place_dictionary.h"

namespace strait::routing {

// A counted reference to one snapshot. Move-only; releasing is lock-free and may happen on any
// thread. The snapshot stays valid (and unchanged) while the reference lives.
class SnapshotRef {
 public:
  SnapshotRef() = default;
  SnapshotRef(SnapshotRef&& other) noexcept : snapshot_(other.snapshot_) {
    other.snapshot_ = nullptr;
  }
  SnapshotRef& operator=(SnapshotRef&& other) noexcept;
  SnapshotRef(const SnapshotRef&) = delete;
  SnapshotRef& operator=(const SnapshotRef&) = delete;
  ~SnapshotRef() { Reset(); }

  explicit operator bool() const { return snapshot_ != nullptr; }
  const ExitSnapshot& operator*() const { return *snapshot_; }
  const ExitSnapshot* operator->() const { return snapshot_; }
  const ExitSnapshot* get() const { return snapshot_; }

  void Reset();

 private:
  friend class ExitRegistry;
  explicit SnapshotRef(const ExitSnapshot* snapshot) : snapshot_(snapshot) {}

  const ExitSnapshot* snapshot_ = nullptr;
};

class ExitRegistry {
 public:
  // Starts with an empty snapshot (generation 1).
  ExitRegistry();
  // Every SnapshotRef and SnapshotCache must be gone (checked).
  ~ExitRegistry();

  ExitRegistry(const ExitRegistry&) = delete;
  ExitRegistry& operator=(const ExitRegistry&) = delete;

  // Replaces the whole set. Validates every spec first (fields, distinct ids) and changes nothing
  // on error; the message names the exit: "exit 'x': country 'gbr' is not two letters". An id
  // already present keeps its handle and active-tunnel count, and keeps its Exit object when
  // nothing but health changed. Health comes from the specs.
  absl::Status ReplaceAll(std::vector<ExitSpec> exits);

  // Adds the exit or replaces the one with the same id (same rules as ReplaceAll). Publishes a
  // new snapshot unless only health changed. Cost: a snapshot rebuild, linear in the set size.
  absl::Status Upsert(ExitSpec exit);

  // Removes the exit; NotFound when there is none with that id. Tunnels already on it continue.
  absl::Status Remove(std::string_view id);

  // Marks the exit up or down for selection, visible in every snapshot immediately; NotFound
  // when there is none with that id. Constant time, publishes nothing.
  absl::Status SetHealthy(std::string_view id, bool healthy);

  // The current snapshot. Wait-free: one atomic fetch_add.
  SnapshotRef Acquire() const;

  // Generation of the current snapshot; see SnapshotCache.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Frees retired snapshots that no reader holds any more and returns how many. Every write does
  // this too; a control-plane timer should call it, so that snapshots released by readers after
  // the last write do not wait for the next one.
  size_t Reclaim();

  // Snapshots built and not yet freed: the current one plus those readers hold or that wait for
  // Reclaim(). For tests and metrics.
  int64_t live_snapshots() const { return live_snapshots_.load(std::memory_order_relaxed); }

 private:
  friend class SnapshotRef;

  // Builds and publishes a snapshot of exits_. Requires mutex_.
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Replaces the current snapshot with `next` (nullptr at destruction).
  void Publish(ExitSnapshot* next);
  // Gives back one reference to `snapshot` taken through Acquire().
  void Release(const ExitSnapshot* snapshot);
  void Retire(ExitSnapshot* snapshot);

  // Builds the new version of the exit `spec` describes, reusing what the current one has.
  // Requires the spec valid and its names in `places`.
  ExitRef MakeExit(const ExitSpec& spec, const PlaceDictionary& places, ExitHandle* next_handle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Returns `places_` extended with every place name of `specs`, or an error naming the exit.
  absl::Status InternPlaces(const std::vector<ExitSpec>& specs,
                            std::shared_ptr<const PlaceDictionary>* places)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // Word layout: bits 0..41 the current snapshot's address >> 6, bits 42..63 the number of
  // references taken through the word and not yet given back to it.
  mutable std::atomic<uint64_t> current_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<ExitSnapshot*> retired_{nullptr};
  std::atomic<int64_t> live_snapshots_{0};

  absl::Mutex mutex_;
  std::vector<ExitRef> exits_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<std::string, uint32_t> position_ ABSL_GUARDED_BY(mutex_);  // into exits_
  std::shared_ptr<const PlaceDictionary> places_ ABSL_GUARDED_BY(mutex_);
  ExitHandle next_handle_ ABSL_GUARDED_BY(mutex_) = 1;
  uint64_t next_generation_ ABSL_GUARDED_BY(mutex_) = 1;
};

// A per-thread cache of the current snapshot: Get() costs one atomic load while nothing changed
// and re-acquires after a publish. Not thread-safe itself; one per shard. The snapshot returned
// by Get() stays valid until the next Get() or the cache's destruction, so a shard that calls
// Get() once per loop iteration lets old snapshots go within one iteration.
class SnapshotCache {
 public:
  explicit SnapshotCache(const ExitRegistry& registry) : registry_(&registry) {}

  const ExitSnapshot& Get() {
    if (!ref_ || ref_->generation() != registry_->generation()) [[unlikely]] {
      ref_ = registry_->Acquire();
    }
    return *ref_;
  }

  // Drops the cached reference (e.g. before a shard goes idle for long).
  void Reset() { ref_.Reset(); }

 private:
  const ExitRegistry* registry_;
  SnapshotRef ref_;
};

}  // namespace strait::routing
