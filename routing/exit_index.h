#pragma once

// The exit index of one snapshot: for every pool and every location key an exit has (country,
// country + state, country + city, country + ZIP), each alone and combined with the exit's ASN,
// the list of exits carrying that key. Selection looks up the lists an intent allows and samples
// the shortest one, so a pick costs a few hash lookups and a few random reads whatever the size
// of the pool.
//
// Memory: the lists are one flat array of 4-byte row numbers (up to 10 per exit, 6 for an exit
// with country, city and ASN) plus one hash entry per distinct key, plus a 32-byte row per exit
// holding what the eligibility check reads, so a sample touches one row and the exit's runtime
// state, never the Exit object.
//
// Immutable once built; safe to read from any number of threads.

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "routing/exit.h"
#include "routing/internal/huge_page_allocator.h"
#include "routing/pool.h"
#include "routing/routing_intent.h"

namespace strait::routing {

// What the eligibility check of one exit reads; row i describes the snapshot's exit i.
struct ExitRow {
  ExitRuntime* runtime;
  PlaceId state, city, zip;
  uint32_t asn;
  CountryCode country;
  uint16_t weight;
  uint32_t capacity;
};
static_assert(sizeof(ExitRow) == 32);

// How specific a list's location key is. kPool lists every exit of the pool.
enum class IndexLevel : uint8_t { kPool = 0, kCountry = 1, kState = 2, kCity = 3, kZip = 4 };

struct IndexKey {
  Pool pool = Pool::kResidential;
  IndexLevel level = IndexLevel::kPool;
  CountryCode country;        // zero at kPool
  PlaceId place = kAnyPlace;  // the state, city or ZIP id at those levels, else kAnyPlace
  uint32_t asn = 0;           // 0: any ASN

  friend bool operator==(const IndexKey&, const IndexKey&) = default;

  template <typename H>
  friend H AbslHashValue(H state, const IndexKey& key) {
    uint64_t location = (static_cast<uint64_t>(key.pool) << 51) |
                        (static_cast<uint64_t>(key.level) << 48) |
                        (static_cast<uint64_t>(key.country.packed) << 32) | key.place;
    return H::combine(std::move(state), location, key.asn);
  }
};

struct CandidateList {
  uint32_t offset = 0;  // into the index's row-number array
  uint32_t size = 0;    // never 0: keys without exits have no list
  uint16_t max_weight = 1;
  bool uniform_weight = true;  // every exit on the list has the same weight
};

class ExitIndex {
 public:
  ExitIndex() = default;

  // Indexes `exits`; row i and every row number refer to exits[i]. Cost: about ten hash-map
  // operations per exit (see bench/README.md for the 1M-exit figure).
  explicit ExitIndex(std::span<const Exit* const> exits);

  // The list for `key`, or nullptr when no exit has it.
  const CandidateList* Find(const IndexKey& key) const {
    auto it = lists_.find(key);
    return it == lists_.end() ? nullptr : &it->second;
  }

  std::span<const uint32_t> RowsOf(const CandidateList& list) const {
    return std::span<const uint32_t>(entries_.data() + list.offset, list.size);
  }

  const ExitRow& row(uint32_t index) const { return rows_[index]; }
  size_t size() const { return rows_.size(); }
  size_t list_count() const { return lists_.size(); }

  // Bytes held by rows, lists and the hash table (excluding the exits themselves).
  size_t memory_bytes() const;

 private:
  std::vector<ExitRow, internal::HugePageAllocator<ExitRow>> rows_;
  std::vector<uint32_t, internal::HugePageAllocator<uint32_t>> entries_;
  absl::flat_hash_map<IndexKey, CandidateList, absl::Hash<IndexKey>, std::equal_to<IndexKey>,
                      internal::HugePageAllocator<std::pair<const IndexKey, CandidateList>>>
      lists_;
};

}  // namespace strait::routing
