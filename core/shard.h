#pragma once

// A shard: one thread, one io_uring, its own listening sockets (SO_REUSEPORT), its own pipe
// pool, DNS cache and tunnels. Nothing on the data path is shared with other shards except the
// lock-free exit snapshot and the affinity table; everything else reaches a shard as a task
// posted to its inbox (Post), which the shard runs on its own thread.
//
// The loop:
//   submit and wait (at most kLoopTickMs) -> dispatch completions -> run posted tasks ->
//   check tunnel deadlines every kSweepIntervalMs -> free the tunnels that finished.
// Tunnels are freed only there, never inside one of their own callbacks.

#include <sys/eventfd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/accounts.h"
#include "core/config.h"
#include "core/error_token.h"
#include "core/logging.h"
#include "core/resolver.h"
#include "core/target_policy.h"
#include "net/http_codec.h"
#include "net/pipe_pool.h"
#include "net/uring.h"
#include "routing/affinity_table.h"
#include "routing/exit_registry.h"
#include "routing/fast_rng.h"
#include "routing/selector.h"

namespace strait::core {

class Tunnel;

// What every shard reads. Owned by the Server; outlives the shards.
struct SharedState {
  const Config* config = nullptr;
  routing::ExitRegistry* exits = nullptr;
  routing::AffinityTable* sticky = nullptr;
  Resolver* resolver = nullptr;
  const TargetPolicy* policy = nullptr;
  routing::SelectorOptions selector_options;

  // The process-wide tunnel limit. Beyond it new connections are answered 429 limit_exceeded;
  // beyond `accept_pause_tunnels` (a little higher, to leave room for those answers) shards stop
  // accepting until tunnels end.
  size_t max_tunnels = 0;
  size_t accept_pause_tunnels = 0;
  std::atomic<size_t> tunnels{0};  // accepted and not yet finished, all shards
};

// Counters a shard writes and anyone may read (relaxed; for tests, metrics and the admin API).
struct ShardStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> established{0};
  std::atomic<uint64_t> finished{0};
  std::atomic<uint64_t> active{0};
  std::atomic<uint64_t> bytes_client_to_target{0};
  std::atomic<uint64_t> bytes_target_to_client{0};
  std::atomic<uint64_t> sessions_moved{0};
  std::atomic<uint64_t> accept_errors{0};
  std::atomic<uint64_t> errors[kErrorTokenCount] = {};
};

// A cached DNS answer, shared by the tunnels of one shard.
struct DnsEntry {
  int error = 0;  // 0, or a ResolveAnswer error (see ResolveErrorText)
  std::vector<net::SocketAddress> addresses;
  int64_t expires_ms = 0;
};

class Shard {
 public:
  Shard(int index, SharedState* shared, std::shared_ptr<const Accounts> accounts);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // Adopts a listening socket for listener `listener_index` of the configuration. Before Start.
  void AddListener(size_t listener_index, int fd);

  void Start();
  void Join();

  // Runs `task` on the shard's thread at its next loop turn. Thread-safe.
  void Post(std::function<void()> task);

  // Stop accepting; let tunnels finish until `deadline_ms` (CLOCK_MONOTONIC), then abort them and
  // stop. Thread-safe.
  void Drain(int64_t deadline_ms);

  // Abort every tunnel and stop now. Thread-safe.
  void Stop();

  // Replaces the accounts table the shard authenticates against. Thread-safe.
  void SetAccounts(std::shared_ptr<const Accounts> accounts);

  int index() const { return index_; }
  const ShardStats& stats() const { return stats_; }
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }

 private:
  friend class Tunnel;

  // One listening socket with its multishot accept.
  class alignas(net::kCompletionTagLimit) Listener final : public net::CompletionHandler {
   public:
    Listener(Shard& shard, size_t index, int fd) : shard_(shard), index_(index), fd_(fd) {}
    void Arm();
    void Cancel();
    void Close();

    // net::CompletionHandler
    void OnCompletion(unsigned tag, int32_t res, uint32_t flags) override;

    bool armed() const { return accept_armed_; }
    bool paused() const { return paused_; }
    void set_paused(bool paused) { paused_ = paused; }

   private:
    Shard& shard_;
    size_t index_;
    int fd_;
    bool accept_armed_ = false;
    bool backoff_armed_ = false;
    bool paused_ = false;
    __kernel_timespec backoff_{};
  };

  // The eventfd that wakes the loop for posted tasks.
  class alignas(net::kCompletionTagLimit) Inbox final : public net::CompletionHandler {
   public:
    explicit Inbox(Shard& shard) : shard_(shard) {}
    void Arm();

    // net::CompletionHandler
    void OnCompletion(unsigned tag, int32_t res, uint32_t flags) override;

   private:
    Shard& shard_;
    uint64_t counter_ = 0;
  };

  void Run();
  void RunPostedTasks();
  void Sweep();
  void FreeFinishedTunnels();
  void UpdateAcceptPause();
  void StopAccepting();
  void AbortAllTunnels();

  void OnAccepted(size_t listener_index, int fd);

  // Called by tunnels.
  void Retire(Tunnel* tunnel);
  void Resolve(uint64_t tunnel_id, const std::string& host);
  void OnResolved(ResolveAnswer answer);
  void PruneDnsWaiters();
  routing::SelectionResult SelectExit(const routing::RoutingIntent& intent, routing::Pool pool);
  const routing::PlaceDictionary& places();
  bool LogAllowed(uint64_t* dropped) { return warn_limiter_.Allow(now_ms_, dropped); }

  const int index_;
  SharedState* const shared_;

  // Scratch space for the handshake of one tunnel at a time (the shard thread runs one at a
  // time): a parsed HTTP head is ~3.5 KiB, too much to keep per tunnel.
  net::HttpRequestHead http_head_;
  std::unique_ptr<char[]> credentials_scratch_;  // max_header_bytes: decoded Basic credentials

  // The relay's copy path when no descriptor is left for a pipe (net/relay.h).
  char copy_buffer_[64 * 1024];
  std::shared_ptr<const Accounts> accounts_;

  net::Ring ring_;
  net::PipePool pipes_;
  routing::SnapshotCache exits_;
  routing::FastRng rng_;
  int64_t now_ms_ = 0;
  int64_t next_sweep_ms_ = 0;
  __kernel_timespec connect_timeout_{};

  std::vector<std::unique_ptr<Listener>> listeners_;
  Inbox inbox_{*this};
  int event_fd_ = -1;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> wake_pending_{false};

  uint64_t next_tunnel_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Tunnel>> tunnels_;
  std::vector<uint64_t> retired_;

  absl::flat_hash_map<std::string, DnsEntry> dns_cache_;
  struct DnsQuery {
    std::vector<uint64_t> tunnels;  // ids of the tunnels waiting for the answer
    ResolveCancel cancel;
  };
  absl::flat_hash_map<std::string, DnsQuery> dns_waiting_;

  bool draining_ = false;
  int64_t drain_deadline_ms_ = 0;
  bool stop_requested_ = false;
  std::atomic<bool> stopped_{false};
  LogRateLimiter warn_limiter_{20};

  ShardStats stats_;
  std::thread thread_;
};

// CLOCK_MONOTONIC in milliseconds.
int64_t MonotonicMs();

}  // namespace strait::core
