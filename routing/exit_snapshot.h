#pragma once

// ExitSnapshot: one immutable version of the exit set, with its place dictionary and its index.
// The registry (routing/exit_registry.h) publishes a new snapshot for every change of the set;
// readers reach snapshots only through SnapshotRef or SnapshotCache, which keep them alive.
//
// Health and active tunnel counts are runtime state of the exits, not part of the snapshot: a
// SetHealthy shows in every snapshot at once.
//
// All members are const and safe to call from any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "routing/exit.h"
#include "routing/exit_index.h"
#include "routing/internal/huge_page_allocator.h"
#include "routing/place_dictionary.h"

namespace strait::routing {

class ExitRegistry;

// alignas(64): the registry packs a snapshot pointer shifted right by 6 bits with a reference
// count into one 64-bit word.
class alignas(64) ExitSnapshot {
 public:
  // Builds the snapshot over `exits` (their references move in) and indexes them. Exit ids must
  // be distinct and the exits' place ids must come from `places`.
  ExitSnapshot(std::vector<ExitRef> exits, std::shared_ptr<const PlaceDictionary> places,
               uint64_t generation);
  ~ExitSnapshot();

  ExitSnapshot(const ExitSnapshot&) = delete;
  ExitSnapshot& operator=(const ExitSnapshot&) = delete;

  // The dictionary to parse routing strings with, so that intents and exits share place ids.
  const PlaceDictionary& places() const { return *places_; }
  const std::shared_ptr<const PlaceDictionary>& shared_places() const { return places_; }

  size_t size() const { return exits_.size(); }

  // nullptr when the snapshot has no such exit.
  const Exit* FindById(std::string_view id) const;
  const Exit* FindByHandle(ExitHandle handle) const;

  // Every exit, in no particular order (for metrics and the admin exit list).
  std::span<const Exit* const> exits() const { return exits_; }

  // Counts up by one for every snapshot a registry publishes.
  uint64_t generation() const { return generation_; }

  const ExitIndex& index() const { return index_; }

 private:
  friend class ExitRegistry;
  friend class SnapshotRef;

  // One reference each, dropped by the destructor.
  std::vector<const Exit*, internal::HugePageAllocator<const Exit*>> exits_;
  std::shared_ptr<const PlaceDictionary> places_;
  uint64_t generation_;
  absl::flat_hash_map<absl::string_view, uint32_t> by_id_;
  absl::flat_hash_map<ExitHandle, uint32_t, absl::Hash<ExitHandle>, std::equal_to<ExitHandle>,
                      internal::HugePageAllocator<std::pair<const ExitHandle, uint32_t>>>
      by_handle_;
  ExitIndex index_;

  // Reclamation (see ExitRegistry): the publishing registry, references given back after the
  // snapshot stopped being current (negative until the registry transfers its count), and the
  // link in the registry's list of snapshots waiting to be freed.
  ExitRegistry* owner_ = nullptr;
  mutable std::atomic<int64_t> released_refs_{0};
  ExitSnapshot* next_retired_ = nullptr;
};

}  // namespace strait::routing
