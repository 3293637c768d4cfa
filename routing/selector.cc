#include "routing/selector.h"

#include <algorithm>
#include <limits>

#include "fmt/format.h"
#include "routing/place_dictionary.h"

namespace strait::routing {
namespace {

// Lists this short are scanned whole: cheaper than sampling and exact.
constexpr uint32_t kScanListLength = 8;
// Random draws before a sampled pick gives up and scans; with one candidate in ten on the list,
// 32 draws find one 97% of the time. Drawn in batches (see PickFromList).
constexpr int kMaxDraws = 32;
constexpr int kUniformBatch = 4;
constexpr int kWeightedBatch = 8;
// Picks retried when another thread took the last free capacity of the picked exit between the
// check and the lease.
constexpr int kMaxLeaseAttempts = 4;
// Sticky rounds: each retry follows another thread's concurrent insert or move of the session.
constexpr int kMaxStickyRounds = 4;

constexpr uint32_t kNoRow = std::numeric_limits<uint32_t>::max();

struct Constraints {
  Pool pool;
  CountryCode country;
  PlaceId state, city, zip;
  uint32_t asn;
};

bool Matches(const ExitRow& row, const Constraints& want) {
  return (want.country.empty() || row.country == want.country) &&
         (want.state == kAnyPlace || row.state == want.state) &&
         (want.city == kAnyPlace || row.city == want.city) &&
         (want.zip == kAnyPlace || row.zip == want.zip) && (want.asn == 0 || row.asn == want.asn);
}

bool MatchesExit(const Exit& exit, const Constraints& want) {
  return exit.pool() == want.pool && (want.country.empty() || exit.country() == want.country) &&
         (want.state == kAnyPlace || exit.state() == want.state) &&
         (want.city == kAnyPlace || exit.city() == want.city) &&
         (want.zip == kAnyPlace || exit.zip() == want.zip) &&
         (want.asn == 0 || exit.asn() == want.asn);
}

bool Healthy(const ExitRow& row) { return row.runtime->healthy.load(std::memory_order_relaxed); }

uint32_t Active(const ExitRow& row) {
  return row.runtime->active_tunnels.load(std::memory_order_relaxed);
}

bool HasSpareCapacity(const ExitRow& row) {
  return row.capacity == 0 || Active(row) < row.capacity;
}

// Two choices: fewer active tunnels per unit of weight wins; a tie keeps the first (both were
// drawn the same way, so that is as fair as a coin).
uint32_t LessLoaded(const ExitIndex& index, uint32_t a, uint32_t b) {
  const ExitRow& row_a = index.row(a);
  const ExitRow& row_b = index.row(b);
  uint64_t load_a = static_cast<uint64_t>(Active(row_a)) * row_b.weight;
  uint64_t load_b = static_cast<uint64_t>(Active(row_b)) * row_a.weight;
  return load_b < load_a ? b : a;
}

// Why a candidate set came out empty.
enum class Emptiness : uint8_t { kNoMatch, kNoneHealthy, kNoneWithCapacity };

struct PickOutcome {
  uint32_t row = kNoRow;
  Emptiness emptiness = Emptiness::kNoMatch;
};

// Scans a whole list: two independent draws weighted by weight among the eligible exits, then
// two choices. Also tells why nothing was eligible.
PickOutcome ScanList(const ExitIndex& index, std::span<const uint32_t> rows,
                     const Constraints& want, FastRng& rng) {
  uint64_t total_weight = 0;
  uint32_t first = kNoRow, second = kNoRow;
  size_t matched = 0, healthy = 0;
  for (uint32_t r : rows) {
    const ExitRow& row = index.row(r);
    if (!Matches(row, want)) {
      continue;
    }
    ++matched;
    if (!Healthy(row)) {
      continue;
    }
    ++healthy;
    if (!HasSpareCapacity(row)) {
      continue;
    }
    // Weighted reservoir of one, twice: keep this exit with probability weight / total so far.
    total_weight += row.weight;
    if ((rng.Next() >> 1) % total_weight < row.weight) {
      first = r;
    }
    if ((rng.Next() >> 1) % total_weight < row.weight) {
      second = r;
    }
  }

  if (first == kNoRow) {
    Emptiness why = matched == 0   ? Emptiness::kNoMatch
                    : healthy == 0 ? Emptiness::kNoneHealthy
                                   : Emptiness::kNoneWithCapacity;
    return PickOutcome{kNoRow, why};
  }
  return PickOutcome{LessLoaded(index, first, second)};
}

// Picks an eligible exit from `list`. Draws rows at random (a draw passes the weight test with
// probability weight / max weight, so accepted draws follow the weights) until two are accepted;
// scans when sampling finds nothing, which both finds rare candidates and proves there are none.
//
// Draws go in batches through three stages (list entry, row, runtime state), prefetching each
// stage for the whole batch before reading it: the reads are cache misses on a large fleet, and
// this way a batch costs about three miss latencies instead of three per draw.
// TODO: a list where few exits are eligible (most down or full) is scanned on every pick, linear
// in its length; a per-list count of eligible exits, kept by SetHealthy and the leases, would
// let selection answer no_exit at once and sample only when it can succeed.
PickOutcome PickFromList(const ExitIndex& index, const CandidateList& list,
                         std::span<const Exit* const> exits, const Constraints& want,
                         FastRng& rng) {
  std::span<const uint32_t> rows = index.RowsOf(list);
  if (list.size <= kScanListLength) {
    return ScanList(index, rows, want, rng);
  }

  // Weighted lists reject some draws for their weight, so they draw more at once.
  const int batch = list.uniform_weight ? kUniformBatch : kWeightedBatch;
  uint32_t accepted[2];
  int count = 0;
  uint32_t weight_rejected = kNoRow;
  for (int drawn = 0; drawn < kMaxDraws && count < 2; drawn += batch) {
    uint32_t positions[kWeightedBatch];
    uint32_t drawn_rows[kWeightedBatch];
    bool matches[kWeightedBatch];
    bool weight_ok[kWeightedBatch];
    for (int i = 0; i < batch; ++i) {
      positions[i] = rng.Below(list.size);
      __builtin_prefetch(&rows[positions[i]]);
    }
    for (int i = 0; i < batch; ++i) {
      drawn_rows[i] = rows[positions[i]];
      __builtin_prefetch(&index.row(drawn_rows[i]));
    }
    for (int i = 0; i < batch; ++i) {
      const ExitRow& row = index.row(drawn_rows[i]);
      matches[i] = Matches(row, want);
      weight_ok[i] = list.uniform_weight || rng.Below(list.max_weight) < row.weight;
      if (matches[i]) {
        __builtin_prefetch(row.runtime);
      }
    }
    for (int i = 0; i < batch && count < 2; ++i) {
      const ExitRow& row = index.row(drawn_rows[i]);
      if (!matches[i] || !Healthy(row) || !HasSpareCapacity(row)) {
        continue;
      }
      if (!weight_ok[i]) {
        weight_rejected = drawn_rows[i];
        continue;
      }
      accepted[count++] = drawn_rows[i];
      __builtin_prefetch(&exits[drawn_rows[i]]);
    }
  }

  if (count == 2) {
    return PickOutcome{LessLoaded(index, accepted[0], accepted[1])};
  }
  if (count == 1) {
    return PickOutcome{accepted[0]};
  }
  if (weight_rejected != kNoRow) {
    // Weights far apart: better a light exit than a scan.
    return PickOutcome{weight_rejected};
  }
  return ScanList(index, rows, want, rng);
}

// Writes the reason into a result without allocating; truncates at the buffer's end.
class ReasonWriter {
 public:
  explicit ReasonWriter(SelectionResult& result) : result_(result) { result_.reason_length_ = 0; }

  template <typename... Args>
  void Append(fmt::format_string<Args...> format, Args&&... args) {
    size_t used = result_.reason_length_;
    size_t room = SelectionResult::kMaxReasonLength - used;
    auto written =
        fmt::format_to_n(result_.reason_ + used, room, format, std::forward<Args>(args)...);
    result_.reason_length_ = static_cast<uint16_t>(used + std::min(written.size, room));
  }

 private:
  SelectionResult& result_;
};

// The constraints of an intent in the order they narrow the set, for the reason text.
// kPoolOnly names none of them.
enum class ConstraintKind : uint8_t { kPoolOnly, kCountry, kState, kCity, kZip, kAsn };

struct Selection {
  const ExitSnapshot& snapshot;
  const RoutingIntent& intent;
  Constraints want;
  FastRng& rng;
};

std::string_view PlaceName(const Selection& s, PlaceKind kind, PlaceId id, std::string_view text) {
  std::string_view name =
      id == kUnknownPlace ? std::string_view() : s.snapshot.places().Name(kind, id);
  if (name.empty()) {
    name = text.empty() ? std::string_view("?") : text;
  }
  return name;
}

// "no healthy exit in pool residential with country 'gb' and city 'paris'": `prefix`, the pool,
// then the given constraints up to and including `last`.
void WriteNoExitReason(SelectionResult& result, const Selection& s, std::string_view prefix,
                       ConstraintKind last) {
  const Constraints& want = s.want;
  ConstraintKind given[5];
  int count = 0;
  auto consider = [&](ConstraintKind kind, bool present) {
    if (present && kind <= last) {
      given[count++] = kind;
    }
  };
  consider(ConstraintKind::kCountry, !want.country.empty());
  consider(ConstraintKind::kState, want.state != kAnyPlace);
  consider(ConstraintKind::kCity, want.city != kAnyPlace);
  consider(ConstraintKind::kZip, want.zip != kAnyPlace);
  consider(ConstraintKind::kAsn, want.asn != 0);

  ReasonWriter out(result);
  out.Append("{} in pool {}", prefix, PoolName(want.pool));
  for (int i = 0; i < count; ++i) {
    out.Append("{}", i == 0 ? " with " : (i + 1 == count ? " and " : ", "));
    switch (given[i]) {
      case ConstraintKind::kCountry:
        out.Append("country '{}{}'", want.country.first(), want.country.second());
        break;
      case ConstraintKind::kState:
        out.Append("state '{}'", PlaceName(s, PlaceKind::kState, want.state, s.intent.state_text));
        break;
      case ConstraintKind::kCity:
        out.Append("city '{}'", PlaceName(s, PlaceKind::kCity, want.city, s.intent.city_text));
        break;
      case ConstraintKind::kZip:
        out.Append("zip '{}'", PlaceName(s, PlaceKind::kZip, want.zip, s.intent.zip_text));
        break;
      case ConstraintKind::kAsn:
        out.Append("asn {}", want.asn);
        break;
      case ConstraintKind::kPoolOnly:
        break;
    }
  }
}

SelectionResult NoExit(const Selection& s, std::string_view prefix, ConstraintKind last) {
  SelectionResult result;
  result.outcome = SelectOutcome::kNoExit;
  WriteNoExitReason(result, s, prefix, last);
  return result;
}

// Finds the shortest index list that holds every exit matching the intent's location and ASN,
// or answers kNoExit naming the first constraint no exit satisfies.
const CandidateList* ResolveList(const Selection& s, SelectionResult* no_exit) {
  const ExitIndex& index = s.snapshot.index();
  const Constraints& want = s.want;

  struct Level {
    IndexLevel level;
    PlaceId place;
    ConstraintKind kind;
  };
  Level levels[4];
  int level_count = 0;
  if (want.country.empty()) {
    // The parser never gives a place without a country; if an intent does, the places are plain
    // filters on the pool's list.
    levels[level_count++] = Level{IndexLevel::kPool, kAnyPlace, ConstraintKind::kCountry};
  } else {
    levels[level_count++] = Level{IndexLevel::kCountry, kAnyPlace, ConstraintKind::kCountry};
    if (want.state != kAnyPlace) {
      levels[level_count++] = Level{IndexLevel::kState, want.state, ConstraintKind::kState};
    }
    if (want.city != kAnyPlace) {
      levels[level_count++] = Level{IndexLevel::kCity, want.city, ConstraintKind::kCity};
    }
    if (want.zip != kAnyPlace) {
      levels[level_count++] = Level{IndexLevel::kZip, want.zip, ConstraintKind::kZip};
    }
  }

  // Each location level alone, in narrowing order, so the reason names the first one that fails.
  const CandidateList* alone[4];
  for (int i = 0; i < level_count; ++i) {
    const Level& level = levels[i];
    CountryCode country = level.level == IndexLevel::kPool ? CountryCode{} : want.country;
    alone[i] = level.place == kUnknownPlace
                   ? nullptr
                   : index.Find(IndexKey{want.pool, level.level, country, level.place, 0});
    if (alone[i] != nullptr) {
      continue;
    }
    bool pool_empty =
        i == 0 && index.Find(IndexKey{want.pool, IndexLevel::kPool, {}, kAnyPlace, 0}) == nullptr;
    *no_exit = NoExit(s, "no exit", pool_empty ? ConstraintKind::kPoolOnly : level.kind);
    return nullptr;
  }

  // With an ASN, the same levels combined with it are the lists to sample. Take the shortest.
  const CandidateList* best = nullptr;
  for (int i = 0; i < level_count; ++i) {
    const Level& level = levels[i];
    CountryCode country = level.level == IndexLevel::kPool ? CountryCode{} : want.country;
    const CandidateList* list =
        want.asn == 0
            ? alone[i]
            : index.Find(IndexKey{want.pool, level.level, country, level.place, want.asn});
    if (list == nullptr) {
      *no_exit = NoExit(s, "no exit", ConstraintKind::kAsn);
      return nullptr;
    }
    if (best == nullptr || list->size < best->size) {
      best = list;
    }
  }
  return best;
}

// A rotating pick: any eligible exit, leased.
SelectionResult PickAndLease(const Selection& s) {
  SelectionResult no_exit;
  const CandidateList* list = ResolveList(s, &no_exit);
  if (list == nullptr) {
    return no_exit;
  }

  const ExitIndex& index = s.snapshot.index();
  PickOutcome pick;
  for (int attempt = 0; attempt < kMaxLeaseAttempts; ++attempt) {
    pick = PickFromList(index, *list, s.snapshot.exits(), s.want, s.rng);
    if (pick.row == kNoRow) {
      break;
    }
    ExitLease lease = s.snapshot.exits()[pick.row]->TryLease();
    if (lease) {
      SelectionResult result;
      result.outcome = SelectOutcome::kSelected;
      result.lease = std::move(lease);
      return result;
    }
    // Another thread took the last free capacity since the check: pick again.
    pick.emptiness = Emptiness::kNoneWithCapacity;
  }

  switch (pick.emptiness) {
    case Emptiness::kNoMatch:
      return NoExit(s, "no exit", ConstraintKind::kAsn);
    case Emptiness::kNoneHealthy:
      return NoExit(s, "no healthy exit", ConstraintKind::kAsn);
    case Emptiness::kNoneWithCapacity:
      break;
  }
  // Exits match but are all full: a client should come back later, like any other limit, rather
  // than change its targeting, so this is kExitBusy (limit_exceeded), not kNoExit.
  SelectionResult busy = NoExit(s, "no exit with spare capacity", ConstraintKind::kAsn);
  busy.outcome = SelectOutcome::kExitBusy;
  return busy;
}

SelectionResult Refusal(SelectOutcome outcome) {
  SelectionResult result;
  result.outcome = outcome;
  return result;
}

SelectionResult SelectSticky(const Selection& s, AffinityTable& sticky, uint32_t now_s,
                             const SelectorOptions& options) {
  uint64_t key = s.intent.session_key;
  uint32_t ttl_s = s.intent.ttl_s != 0 ? s.intent.ttl_s : options.default_sticky_ttl_s;
  uint32_t expiry_s = now_s > std::numeric_limits<uint32_t>::max() - ttl_s
                          ? std::numeric_limits<uint32_t>::max()
                          : now_s + ttl_s;

  for (int round = 0; round < kMaxStickyRounds; ++round) {
    std::optional<AffinityEntry> entry = sticky.Find(key, now_s);
    if (entry.has_value()) {
      const Exit* exit = s.snapshot.FindByHandle(entry->handle);
      bool usable = exit != nullptr && exit->healthy() && MatchesExit(*exit, s.want);
      if (usable) {
        ExitLease lease = exit->TryLease();
        if (!lease) {
          SelectionResult busy = Refusal(SelectOutcome::kExitBusy);
          ReasonWriter(busy).Append("sticky exit '{}' is at its capacity of {} tunnels", exit->id(),
                                    exit->capacity());
          return busy;
        }
        SelectionResult result = Refusal(SelectOutcome::kSelected);
        result.lease = std::move(lease);
        return result;
      }

      if (s.intent.strict()) {
        SelectionResult gone = Refusal(SelectOutcome::kSessionExitGone);
        ReasonWriter out(gone);
        if (exit == nullptr) {
          out.Append("sticky exit of session '{}' was removed", s.intent.session_id);
        } else if (!exit->healthy()) {
          out.Append("sticky exit '{}' is down", exit->id());
        } else {
          out.Append("sticky exit '{}' no longer matches the routing", exit->id());
        }
        return gone;
      }

      SelectionResult moved = PickAndLease(s);
      if (moved.outcome != SelectOutcome::kSelected) {
        return moved;
      }
      AffinityTable::MoveResult update =
          sticky.Move(key, entry->handle, moved.lease->handle(), now_s);
      if (update.outcome == AffinityTable::MoveOutcome::kMoved) {
        moved.session_moved = true;
        return moved;
      }
      continue;  // another tunnel moved it first, or it just expired: look again
    }

    SelectionResult picked = PickAndLease(s);
    if (picked.outcome != SelectOutcome::kSelected) {
      return picked;
    }
    ExitHandle handle = picked.lease->handle();
    AffinityTable::InsertResult insert =
        sticky.InsertOrGet(key, AffinityEntry{handle, expiry_s}, now_s);
    switch (insert.outcome) {
      case AffinityTable::InsertOutcome::kInserted:
        return picked;
      case AffinityTable::InsertOutcome::kFull:
        picked.session_not_stored = true;
        return picked;
      case AffinityTable::InsertOutcome::kExisting:
        if (insert.entry.handle == handle) {
          return picked;
        }
        break;  // another tunnel of the session won: take its exit on the next round
    }
  }

  SelectionResult unstable = Refusal(SelectOutcome::kNoExit);
  ReasonWriter(unstable).Append("sticky session '{}' kept changing under concurrent tunnels",
                                s.intent.session_id);
  return unstable;
}

}  // namespace

std::string_view SelectOutcomeName(SelectOutcome outcome) {
  switch (outcome) {
    case SelectOutcome::kSelected:
      return "selected";
    case SelectOutcome::kNoExit:
      return "no_exit";
    case SelectOutcome::kSessionExitGone:
      return "session_exit_gone";
    case SelectOutcome::kExitBusy:
      return "exit_busy";
  }
  return "unknown";
}

SelectionResult SelectExit(const ExitSnapshot& snapshot, AffinityTable& sticky,
                           const RoutingIntent& intent, Pool pool, uint32_t now_s, FastRng& rng,
                           const SelectorOptions& options) {
  Selection s{snapshot, intent,
              Constraints{pool, intent.country, intent.state, intent.city, intent.zip, intent.asn},
              rng};
  if (!intent.sticky()) {
    return PickAndLease(s);
  }
  return SelectSticky(s, sticky, now_s, options);
}

}  // namespace strait::routing
