#pragma once

// Exit selection: which exit a new tunnel uses, given the client's routing intent and the
// listener's pool (the daemon resolves smartpath to a pool before calling).
//
//   SelectionResult result = SelectExit(snapshot, sticky, intent, pool, now_s, rng, options);
//   switch (result.outcome) {
//     case SelectOutcome::kSelected:        Connect(result.lease->egress()); break;
//     case SelectOutcome::kNoExit:          Refuse("no_exit", result.reason()); break;
//     case SelectOutcome::kSessionExitGone: Refuse("session_exit_gone", result.reason()); break;
//     case SelectOutcome::kExitBusy:        Refuse(..., result.reason()); break;
//   }
//
// Rules:
// - Candidates are the exits of `pool` that match every constraint of the intent (country,
//   state, city, ZIP, ASN), are healthy, and have spare capacity. The index list for the most
//   specific key the intent allows is sampled; an empty set is kNoExit with a reason naming the
//   constraint that emptied it, never a looser match. A place name no exit has (kUnknownPlace)
//   empties the set at that constraint.
// - Among candidates: two random choices, each drawn with probability proportional to weight,
//   and the one with fewer active tunnels per unit of weight wins.
// - Sticky intents (session_id given): the first tunnel stores its exit in `sticky` with expiry
//   now_s + ttl_s (options.default_sticky_ttl_s when the intent has none); later tunnels reuse
//   it until then. If the stored exit is gone from the snapshot, down, or no longer matches the
//   intent, the session moves to a new candidate (session_moved) keeping its expiry; with
//   `strict` the answer is kSessionExitGone instead. If it is only at capacity the answer is
//   kExitBusy (the session does not move). If the table has no room the tunnel still gets an
//   exit, unrecorded (session_not_stored).
//
// Cost: a handful of hash lookups and random reads; allocates nothing, reason included. When
// fewer than about one in ten exits on the sampled list are candidates, the pick falls back to
// a scan of that list (see the TODO in selector.cc).
//
// Thread safety: any number of threads may select at once on the same snapshot and table; each
// brings its own FastRng.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "routing/affinity_table.h"
#include "routing/exit.h"
#include "routing/exit_snapshot.h"
#include "routing/fast_rng.h"
#include "routing/pool.h"
#include "routing/routing_intent.h"

namespace strait::routing {

enum class SelectOutcome : uint8_t {
  kSelected,
  kNoExit,           // nothing matches; reason() names the constraint
  kSessionExitGone,  // strict sticky session whose exit is gone, down or no longer matching
  kExitBusy,         // matching exits exist but are at capacity (the sticky one, or all)
};

std::string_view SelectOutcomeName(SelectOutcome outcome);

struct SelectionResult {
  // Longest reason: four quoted 64-byte names, an ASN and the fixed words fit with room to spare.
  static constexpr size_t kMaxReasonLength = 383;

  SelectOutcome outcome = SelectOutcome::kNoExit;
  ExitLease lease;                  // set for kSelected only
  bool session_moved = false;       // sticky session moved to a new exit on this tunnel
  bool session_not_stored = false;  // sticky intent, affinity table full: exit not recorded

  // Why it failed, e.g. "no healthy exit in pool residential with country 'gb' and city
  // 'paris'"; empty for kSelected. Valid while the result lives.
  std::string_view reason() const { return std::string_view(reason_, reason_length_); }

  // Used by the selector.
  char reason_[kMaxReasonLength + 1] = {};
  uint16_t reason_length_ = 0;
};

struct SelectorOptions {
  uint32_t default_sticky_ttl_s = 600;
};

// Picks an exit for a new tunnel; see the file comment. `now_s` is a monotonic clock in seconds
// (the same clock for every caller of one table); `rng` belongs to the calling thread. The intent
// must have been parsed with snapshot.places() or a dictionary it extends.
SelectionResult SelectExit(const ExitSnapshot& snapshot, AffinityTable& sticky,
                           const RoutingIntent& intent, Pool pool, uint32_t now_s, FastRng& rng,
                           const SelectorOptions& options);

}  // namespace strait::routing
