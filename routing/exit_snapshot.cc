#include "routing/exit_snapshot.h"

#include "core/absl_compat.h"
#include "core/check.h"

namespace strait::routing {
namespace {

std::vector<const Exit*, internal::HugePageAllocator<const Exit*>> ReleaseAll(
    std::vector<ExitRef> exits) {
  std::vector<const Exit*, internal::HugePageAllocator<const Exit*>> raw;
  raw.reserve(exits.size());
  for (ExitRef& exit : exits) {
    // Keep the reference: the snapshot's destructor drops it.
    exit.get()->Ref();
    raw.push_back(exit.get());
  }
  return raw;
}

}  // namespace

ExitSnapshot::ExitSnapshot(std::vector<ExitRef> exits,
                           std::shared_ptr<const PlaceDictionary> places, uint64_t generation)
    : exits_(ReleaseAll(std::move(exits))),
      places_(std::move(places)),
      generation_(generation),
      index_(exits_) {
  by_id_.reserve(exits_.size());
  by_handle_.reserve(exits_.size());
  for (uint32_t i = 0; i < exits_.size(); ++i) {
    bool id_inserted = by_id_.emplace(AbslView(exits_[i]->id()), i).second;
    bool handle_inserted = by_handle_.emplace(exits_[i]->handle(), i).second;
    STRAIT_CHECK(id_inserted && handle_inserted);
  }
}

ExitSnapshot::~ExitSnapshot() {
  for (const Exit* exit : exits_) {
    exit->Unref();
  }
}

const Exit* ExitSnapshot::FindById(std::string_view id) const {
  auto it = by_id_.find(AbslView(id));
  return it == by_id_.end() ? nullptr : exits_[it->second];
}

const Exit* ExitSnapshot::FindByHandle(ExitHandle handle) const {
  auto it = by_handle_.find(handle);
  return it == by_handle_.end() ? nullptr : exits_[it->second];
}

}  // namespace strait::routing
