#pragma once

// Exits: the places a tunnel leaves Strait from.
//
// An ExitSpec is what an operator provides (exits file, admin API, embedding API). The
// ExitRegistry (routing/exit_registry.h) turns specs into Exit objects: immutable attributes plus
// runtime state (health, active tunnels) that every version of the same exit id shares. Exits
// are reference counted: a snapshot that lists an exit, or a lease on it, keeps it alive, so a
// tunnel can keep using its exit's egress after the exit was removed or replaced.
//
//   ExitLease lease = exit.TryLease();   // counts one tunnel; empty when at capacity
//   if (lease) { Connect(lease->egress()); }
//   // ~ExitLease gives the tunnel back, on whatever thread destroys it.
//
// Thread safety: every const member of Exit may be called from any thread. A lease is a plain
// move-only value: one thread at a time, but it may be handed to (and destroyed on) another.

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "routing/pool.h"
#include "routing/routing_intent.h"

namespace strait::routing {

class PlaceDictionary;

enum class EgressKind : uint8_t { kDirect, kHttpConnect, kSocks5 };

// "direct", "http", "socks5": also the scheme in the exits file.
std::string_view EgressKindName(EgressKind kind);

struct Egress {
  EgressKind kind = EgressKind::kDirect;
  // kDirect: the local source address to bind (port 0). source_len 0: let the kernel choose.
  sockaddr_storage source{};
  socklen_t source_len = 0;
  // kHttpConnect, kSocks5: the upstream proxy and its credentials (both empty: none).
  std::string upstream_host;
  uint16_t upstream_port = 0;
  std::string upstream_username, upstream_password;
};

bool operator==(const Egress& a, const Egress& b);

// The egress as an operator reads it, password left out: `direct:127.0.0.2`, `direct`,
// `http://user@proxy.example:8080`, `socks5://[::1]:1080`.
std::string DescribeEgress(const Egress& egress);

// A stable small integer per exit id: the same while the id stays in the registry (across
// Upsert and ReplaceAll), never given to another id for the life of the process. Lets the
// affinity table store 32 bits per session instead of an id string. 0 is never issued.
using ExitHandle = uint32_t;
inline constexpr ExitHandle kNoExitHandle = 0;

inline constexpr size_t kMaxExitIdLength = 128;
inline constexpr uint32_t kMaxExitWeight = 65535;

struct ExitSpec {
  std::string id;  // 1 to kMaxExitIdLength of [A-Za-z0-9._:-]
  Pool pool = Pool::kResidential;
  std::string country;           // ISO 3166-1 alpha-2 in any letter case; empty: no country
  std::string state, city, zip;  // place names (routing/place_dictionary.h); need a country
  uint32_t asn = 0;              // 0: unknown
  uint32_t capacity = 0;         // maximum concurrent tunnels; 0 = unlimited
  uint32_t weight = 1;           // 1 to kMaxExitWeight; share of new tunnels relative to others
  bool healthy = true;
  Egress egress;
};

// Checks every field of `spec` on its own (duplicates across specs are the caller's business).
// Returns InvalidArgument with a message naming the field and value, without the id, e.g.
// "country 'gbr' is not two letters"; callers prefix where the spec came from.
absl::Status ValidateExitSpec(const ExitSpec& spec);

// Runtime state shared by every version of one exit id.
struct ExitRuntime {
  std::atomic<uint32_t> active_tunnels{0};
  std::atomic<bool> healthy{true};
};

class ExitLease;

class Exit {
 public:
  Exit(const Exit&) = delete;
  Exit& operator=(const Exit&) = delete;

  const std::string& id() const { return id_; }
  ExitHandle handle() const { return handle_; }
  Pool pool() const { return pool_; }
  CountryCode country() const { return country_; }
  PlaceId state() const { return state_; }
  PlaceId city() const { return city_; }
  PlaceId zip() const { return zip_; }
  uint32_t asn() const { return asn_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t weight() const { return weight_; }
  const Egress& egress() const { return egress_; }

  // Runtime state; a relaxed read, good for selection and metrics.
  bool healthy() const { return runtime_->healthy.load(std::memory_order_relaxed); }
  uint32_t active_tunnels() const {
    return runtime_->active_tunnels.load(std::memory_order_relaxed);
  }

  // Counts one more tunnel on this exit and returns a lease that holds the exit alive and gives
  // the tunnel back when destroyed. Returns an empty lease when the exit is at capacity (the
  // check and the increment are one atomic step, so capacity is never exceeded). Health is not
  // checked: selection does that.
  ExitLease TryLease() const;

  // Reference counting for snapshots and the registry (leases do their own).
  void Ref() const { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() const;

  ExitRuntime* runtime() const { return runtime_.get(); }
  const std::shared_ptr<ExitRuntime>& shared_runtime() const { return runtime_; }

  // Builds an exit from a spec that passed ValidateExitSpec and whose place names are all in
  // `places`. `runtime` carries health and tunnel counts over from an earlier version of the same
  // id (nullptr: a fresh one); its health is set from the spec. The new exit has one reference,
  // owned by the caller.
  static const Exit* Create(const ExitSpec& spec, ExitHandle handle, const PlaceDictionary& places,
                            std::shared_ptr<ExitRuntime> runtime);

  // True when `spec` describes exactly this exit's attributes (health aside), so a reload can
  // keep this object instead of building a new version.
  bool SameAttributes(const ExitSpec& spec, const PlaceDictionary& places) const;

 private:
  Exit() = default;
  ~Exit() = default;

  mutable std::atomic<uint32_t> refs_{1};
  std::shared_ptr<ExitRuntime> runtime_;
  ExitHandle handle_ = kNoExitHandle;
  Pool pool_ = Pool::kResidential;
  CountryCode country_;
  PlaceId state_ = kAnyPlace;
  PlaceId city_ = kAnyPlace;
  PlaceId zip_ = kAnyPlace;
  uint32_t asn_ = 0;
  uint32_t capacity_ = 0;
  uint32_t weight_ = 1;
  std::string id_;
  // TODO: each exit carries its own Egress (248 bytes of the ~670 an exit costs at
  // 1M exits) even when thousands share one upstream; interning egresses in the registry would
  // cut a large set's memory by about a third.
  Egress egress_;
};

// Move-only RAII handle on one active tunnel through an exit; see the file comment.
class ExitLease {
 public:
  ExitLease() = default;
  ExitLease(ExitLease&& other) noexcept : exit_(other.exit_) { other.exit_ = nullptr; }
  ExitLease& operator=(ExitLease&& other) noexcept;
  ExitLease(const ExitLease&) = delete;
  ExitLease& operator=(const ExitLease&) = delete;
  ~ExitLease() { Release(); }

  explicit operator bool() const { return exit_ != nullptr; }
  const Exit& exit() const { return *exit_; }
  const Exit* operator->() const { return exit_; }
  const Exit* get() const { return exit_; }

  // Gives the tunnel back now; the lease becomes empty.
  void Release();

 private:
  friend class Exit;
  explicit ExitLease(const Exit* exit) : exit_(exit) {}

  const Exit* exit_ = nullptr;
};

// An owning reference to an Exit (one Ref), used by snapshots and the registry.
class ExitRef {
 public:
  ExitRef() = default;
  // Adopts one reference the caller already holds.
  static ExitRef Adopt(const Exit* exit) { return ExitRef(exit); }
  static ExitRef Share(const Exit* exit) {
    exit->Ref();
    return ExitRef(exit);
  }
  ExitRef(const ExitRef& other) : exit_(other.exit_) {
    if (exit_ != nullptr) {
      exit_->Ref();
    }
  }
  ExitRef(ExitRef&& other) noexcept : exit_(other.exit_) { other.exit_ = nullptr; }
  ExitRef& operator=(ExitRef other) noexcept {
    std::swap(exit_, other.exit_);
    return *this;
  }
  ~ExitRef() {
    if (exit_ != nullptr) {
      exit_->Unref();
    }
  }

  const Exit* get() const { return exit_; }
  const Exit* operator->() const { return exit_; }
  const Exit& operator*() const { return *exit_; }

 private:
  explicit ExitRef(const Exit* exit) : exit_(exit) {}
  const Exit* exit_ = nullptr;
};

}  // namespace strait::routing
