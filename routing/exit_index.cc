#include "routing/exit_index.h"

#include <algorithm>

#include "core/check.h"

namespace strait::routing {
namespace {

constexpr int kMaxKeysPerExit = 10;

// The keys `exit` is listed under: its pool, then each location level it has, each also with its
// ASN when it has one. Returns how many were written to `keys`.
int KeysOf(const Exit& exit, IndexKey keys[kMaxKeysPerExit]) {
  int count = 0;
  auto add = [&](IndexLevel level, CountryCode country, PlaceId place) {
    keys[count++] = IndexKey{exit.pool(), level, country, place, 0};
    if (exit.asn() != 0) {
      keys[count++] = IndexKey{exit.pool(), level, country, place, exit.asn()};
    }
  };

  add(IndexLevel::kPool, CountryCode{}, kAnyPlace);
  if (exit.country().empty()) {
    return count;
  }
  add(IndexLevel::kCountry, exit.country(), kAnyPlace);
  if (exit.state() != kAnyPlace) {
    add(IndexLevel::kState, exit.country(), exit.state());
  }
  if (exit.city() != kAnyPlace) {
    add(IndexLevel::kCity, exit.country(), exit.city());
  }
  if (exit.zip() != kAnyPlace) {
    add(IndexLevel::kZip, exit.country(), exit.zip());
  }
  return count;
}

}  // namespace

ExitIndex::ExitIndex(std::span<const Exit* const> exits) {
  STRAIT_CHECK(exits.size() < UINT32_MAX);
  rows_.reserve(exits.size());

  // Pass 1: number every distinct key, count its exits, remember each exit's key numbers. While
  // building, a list's `offset` holds its key number.
  struct Tally {
    uint32_t count = 0;
    uint16_t max_weight = 0;
    uint16_t min_weight = UINT16_MAX;
  };
  std::vector<Tally> tallies;
  std::vector<uint32_t> key_numbers;
  key_numbers.reserve(exits.size() * 4);
  std::vector<uint8_t> keys_per_exit(exits.size());

  for (size_t i = 0; i < exits.size(); ++i) {
    const Exit& exit = *exits[i];
    uint16_t weight = static_cast<uint16_t>(exit.weight());
    rows_.push_back(ExitRow{exit.runtime(), exit.state(), exit.city(), exit.zip(), exit.asn(),
                            exit.country(), weight, exit.capacity()});

    IndexKey keys[kMaxKeysPerExit];
    int count = KeysOf(exit, keys);
    keys_per_exit[i] = static_cast<uint8_t>(count);
    for (int k = 0; k < count; ++k) {
      auto [it, inserted] =
          lists_.try_emplace(keys[k], CandidateList{static_cast<uint32_t>(tallies.size())});
      if (inserted) {
        tallies.emplace_back();
      }
      uint32_t number = it->second.offset;
      Tally& tally = tallies[number];
      ++tally.count;
      tally.max_weight = std::max(tally.max_weight, weight);
      tally.min_weight = std::min(tally.min_weight, weight);
      key_numbers.push_back(number);
    }
  }

  // Lay the lists out back to back in key-number order.
  std::vector<uint32_t> cursor(tallies.size());
  uint64_t total = 0;
  for (size_t number = 0; number < tallies.size(); ++number) {
    cursor[number] = static_cast<uint32_t>(total);
    total += tallies[number].count;
  }
  STRAIT_CHECK(total < UINT32_MAX);
  for (auto& [key, list] : lists_) {
    const Tally& tally = tallies[list.offset];
    list = CandidateList{cursor[list.offset], tally.count, tally.max_weight,
                         tally.max_weight == tally.min_weight};
  }

  // Pass 2: fill the lists from the remembered key numbers.
  entries_.resize(total);
  size_t next = 0;
  for (size_t i = 0; i < exits.size(); ++i) {
    for (int k = 0; k < keys_per_exit[i]; ++k) {
      entries_[cursor[key_numbers[next++]]++] = static_cast<uint32_t>(i);
    }
  }
}

size_t ExitIndex::memory_bytes() const {
  return rows_.capacity() * sizeof(ExitRow) + entries_.capacity() * sizeof(uint32_t) +
         lists_.capacity() * (sizeof(IndexKey) + sizeof(CandidateList) + 1);
}

}  // namespace strait::routing
