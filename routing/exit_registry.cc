#include "routing/exit_registry.h"

#include <utility>

#include "core/absl_compat.h"
#include "core/check.h"
#include "core/status_macros.h"
#include "fmt/format.h"

namespace strait::routing {
namespace {

constexpr int kPointerShift = 6;  // ExitSnapshot is 64-byte aligned
constexpr int kCountShift = 42;   // 42 bits of address >> 6: addresses below 2^48
constexpr uint64_t kOneRef = uint64_t{1} << kCountShift;
constexpr uint64_t kPointerMask = kOneRef - 1;
constexpr uint64_t kMaxRefs = (uint64_t{1} << (64 - kCountShift)) - 1;

ExitSnapshot* PointerOf(uint64_t word) {
  return reinterpret_cast<ExitSnapshot*>((word & kPointerMask) << kPointerShift);
}

uint64_t CountOf(uint64_t word) { return word >> kCountShift; }

uint64_t Pack(ExitSnapshot* snapshot) {
  uint64_t address = reinterpret_cast<uintptr_t>(snapshot);
  STRAIT_CHECK((address & ((uint64_t{1} << kPointerShift) - 1)) == 0);
  STRAIT_CHECK((address >> kPointerShift) <= kPointerMask);
  return address >> kPointerShift;
}

std::string SpecName(const ExitSpec& spec, size_t position) {
  if (spec.id.empty() || spec.id.size() > kMaxExitIdLength) {
    return fmt::format("exit #{}", position + 1);
  }
  return fmt::format("exit '{}'", spec.id);
}

absl::Status Prefixed(const absl::Status& status, std::string_view prefix) {
  absl::string_view message = status.message();
  return absl::Status(status.code(), fmt::format("{}: {}", prefix,
                                                 std::string_view(message.data(), message.size())));
}

bool NeedsInterning(const ExitSpec& spec, const PlaceDictionary& places) {
  return (!spec.state.empty() && places.Find(PlaceKind::kState, spec.state) == kUnknownPlace) ||
         (!spec.city.empty() && places.Find(PlaceKind::kCity, spec.city) == kUnknownPlace) ||
         (!spec.zip.empty() && places.Find(PlaceKind::kZip, spec.zip) == kUnknownPlace);
}

}  // namespace

SnapshotRef& SnapshotRef::operator=(SnapshotRef&& other) noexcept {
  if (this != &other) {
    Reset();
    snapshot_ = other.snapshot_;
    other.snapshot_ = nullptr;
  }
  return *this;
}

void SnapshotRef::Reset() {
  if (snapshot_ == nullptr) {
    return;
  }
  snapshot_->owner_->Release(snapshot_);
  snapshot_ = nullptr;
}

ExitRegistry::ExitRegistry() {
  absl::MutexLock lock(&mutex_);
  places_ = PlaceDictionary::Builder().Build();
  PublishLocked();
}

ExitRegistry::~ExitRegistry() {
  Publish(nullptr);
  Reclaim();
  STRAIT_CHECK(live_snapshots_.load() == 0);
}

SnapshotRef ExitRegistry::Acquire() const {
  // acquire: pairs with the release in Publish, so the snapshot's contents are visible.
  uint64_t word = current_.fetch_add(kOneRef, std::memory_order_acquire);
  STRAIT_CHECK(CountOf(word) < kMaxRefs);
  return SnapshotRef(PointerOf(word));
}

void ExitRegistry::Release(const ExitSnapshot* snapshot) {
  // While the snapshot is still current, its references live in current_: give one back there.
  // A snapshot is current only once and cannot be freed while this reference exists, so a word
  // pointing at it really is its word (no ABA).
  uint64_t word = current_.load(std::memory_order_relaxed);
  while (PointerOf(word) == snapshot) {
    if (current_.compare_exchange_weak(word, word - kOneRef, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return;
    }
  }

  // Replaced: Publish moved the word's count into released_refs_ (or will). The counter starts
  // at 0, goes negative for releases that beat the transfer, and reaches 0 exactly once: at the
  // last release after the transfer, or at the transfer itself.
  if (snapshot->released_refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    Retire(const_cast<ExitSnapshot*>(snapshot));
  }
}

void ExitRegistry::Publish(ExitSnapshot* next) {
  uint64_t next_word = 0;
  if (next != nullptr) {
    next->owner_ = this;
    live_snapshots_.fetch_add(1, std::memory_order_relaxed);
    next_word = Pack(next);
  }

  uint64_t old_word = current_.exchange(next_word, std::memory_order_acq_rel);
  if (next != nullptr) {
    generation_.store(next->generation(), std::memory_order_release);
  }

  ExitSnapshot* old = PointerOf(old_word);
  if (old == nullptr) {
    return;
  }
  int64_t outstanding = static_cast<int64_t>(CountOf(old_word));
  if (old->released_refs_.fetch_add(outstanding, std::memory_order_acq_rel) + outstanding == 0) {
    Retire(old);
  }
}

void ExitRegistry::Retire(ExitSnapshot* snapshot) {
  ExitSnapshot* head = retired_.load(std::memory_order_relaxed);
  do {
    snapshot->next_retired_ = head;
  } while (!retired_.compare_exchange_weak(head, snapshot, std::memory_order_release,
                                           std::memory_order_relaxed));
}

size_t ExitRegistry::Reclaim() {
  ExitSnapshot* snapshot = retired_.exchange(nullptr, std::memory_order_acquire);
  size_t freed = 0;
  while (snapshot != nullptr) {
    ExitSnapshot* next = snapshot->next_retired_;
    delete snapshot;
    live_snapshots_.fetch_sub(1, std::memory_order_relaxed);
    snapshot = next;
    ++freed;
  }
  return freed;
}

// TODO: every change rebuilds the whole snapshot (index, id and handle maps), about 0.5 s of CPU
// at 1M exits, so a residential fleet whose devices come and go one by one should batch them
// into ReplaceAll or use SetHealthy; index lists and maps shared copy-on-write between
// snapshots would make an upsert cost only the lists it touches.
void ExitRegistry::PublishLocked() {
  auto* snapshot = new ExitSnapshot(exits_, places_, next_generation_++);
  Publish(snapshot);
}

absl::Status ExitRegistry::InternPlaces(const std::vector<ExitSpec>& specs,
                                        std::shared_ptr<const PlaceDictionary>* places) {
  *places = places_;
  std::unique_ptr<PlaceDictionary::Builder> builder;
  for (size_t i = 0; i < specs.size(); ++i) {
    const ExitSpec& spec = specs[i];
    if (!NeedsInterning(spec, *places_)) {
      continue;
    }
    if (builder == nullptr) {
      builder = std::make_unique<PlaceDictionary::Builder>(*places_);
    }
    std::pair<PlaceKind, const std::string*> names[] = {{PlaceKind::kState, &spec.state},
                                                        {PlaceKind::kCity, &spec.city},
                                                        {PlaceKind::kZip, &spec.zip}};
    for (const auto& [kind, name] : names) {
      if (name->empty()) {
        continue;
      }
      absl::StatusOr<PlaceId> id = builder->Intern(kind, *name);
      if (!id.ok()) {
        return Prefixed(id.status(), SpecName(spec, i));
      }
    }
  }
  if (builder != nullptr) {
    *places = std::move(*builder).Build();
  }
  return absl::OkStatus();
}

ExitRef ExitRegistry::MakeExit(const ExitSpec& spec, const PlaceDictionary& places,
                               ExitHandle* next_handle) {
  auto it = position_.find(AbslView(spec.id));
  if (it == position_.end()) {
    return ExitRef::Adopt(Exit::Create(spec, (*next_handle)++, places, nullptr));
  }

  const ExitRef& current = exits_[it->second];
  if (current->SameAttributes(spec, places)) {
    current->runtime()->healthy.store(spec.healthy, std::memory_order_relaxed);
    return current;
  }
  return ExitRef::Adopt(Exit::Create(spec, current->handle(), places, current->shared_runtime()));
}

absl::Status ExitRegistry::ReplaceAll(std::vector<ExitSpec> specs) {
  absl::flat_hash_map<absl::string_view, size_t> first_position;
  first_position.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::Status valid = ValidateExitSpec(specs[i]);
    if (!valid.ok()) {
      return Prefixed(valid, SpecName(specs[i], i));
    }
    auto [it, inserted] = first_position.emplace(AbslView(specs[i].id), i);
    if (!inserted) {
      return absl::InvalidArgumentError(fmt::format("exit '{}' appears twice (entries {} and {})",
                                                    specs[i].id, it->second + 1, i + 1));
    }
  }

  {
    absl::MutexLock lock(&mutex_);
    std::shared_ptr<const PlaceDictionary> places;
    STRAIT_RETURN_IF_ERROR(InternPlaces(specs, &places));

    size_t new_ids = 0;
    for (const ExitSpec& spec : specs) {
      new_ids += position_.contains(AbslView(spec.id)) ? 0 : 1;
    }
    if (new_ids > UINT32_MAX - next_handle_) {
      return absl::ResourceExhaustedError("exit handles exhausted; restart the process");
    }

    std::vector<ExitRef> exits;
    exits.reserve(specs.size());
    absl::flat_hash_map<std::string, uint32_t> position;
    position.reserve(specs.size());
    ExitHandle next_handle = next_handle_;
    for (const ExitSpec& spec : specs) {
      position.emplace(spec.id, static_cast<uint32_t>(exits.size()));
      exits.push_back(MakeExit(spec, *places, &next_handle));
    }

    exits_ = std::move(exits);
    position_ = std::move(position);
    places_ = std::move(places);
    next_handle_ = next_handle;
    PublishLocked();
  }
  Reclaim();
  return absl::OkStatus();
}

absl::Status ExitRegistry::Upsert(ExitSpec spec) {
  absl::Status valid = ValidateExitSpec(spec);
  if (!valid.ok()) {
    return Prefixed(valid, SpecName(spec, 0));
  }

  {
    absl::MutexLock lock(&mutex_);
    std::vector<ExitSpec> one;
    one.push_back(std::move(spec));
    std::shared_ptr<const PlaceDictionary> places;
    STRAIT_RETURN_IF_ERROR(InternPlaces(one, &places));
    const ExitSpec& added = one.front();

    auto it = position_.find(AbslView(added.id));
    if (it == position_.end() && next_handle_ == UINT32_MAX) {
      return absl::ResourceExhaustedError("exit handles exhausted; restart the process");
    }
    ExitHandle next_handle = next_handle_;
    ExitRef exit = MakeExit(added, *places, &next_handle);

    if (it != position_.end() && exit.get() == exits_[it->second].get()) {
      return absl::OkStatus();  // only health changed, and MakeExit applied it
    }
    if (it == position_.end()) {
      position_.emplace(added.id, static_cast<uint32_t>(exits_.size()));
      exits_.push_back(std::move(exit));
    } else {
      exits_[it->second] = std::move(exit);
    }
    places_ = std::move(places);
    next_handle_ = next_handle;
    PublishLocked();
  }
  Reclaim();
  return absl::OkStatus();
}

absl::Status ExitRegistry::Remove(std::string_view id) {
  {
    absl::MutexLock lock(&mutex_);
    auto it = position_.find(AbslView(id));
    if (it == position_.end()) {
      return absl::NotFoundError(fmt::format("no exit with id '{}'", id));
    }
    uint32_t position = it->second;
    position_.erase(it);
    if (position + 1 != exits_.size()) {
      exits_[position] = std::move(exits_.back());
      position_[exits_[position]->id()] = position;
    }
    exits_.pop_back();
    PublishLocked();
  }
  Reclaim();
  return absl::OkStatus();
}

absl::Status ExitRegistry::SetHealthy(std::string_view id, bool healthy) {
  absl::MutexLock lock(&mutex_);
  auto it = position_.find(AbslView(id));
  if (it == position_.end()) {
    return absl::NotFoundError(fmt::format("no exit with id '{}'", id));
  }
  exits_[it->second]->runtime()->healthy.store(healthy, std::memory_order_relaxed);
  return absl::OkStatus();
}

}  // namespace strait::routing
