#pragma once

// Server: the whole proxy in one object, for the daemon and for programs that embed Strait.
//
//   absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(DefaultConfig());
//   if (!server.ok()) { ... }                       // bind and exit-load errors surface here
//   (*server)->Start();                              // one thread per shard
//   (*server)->exits().SetHealthy("us-charlotte-1", false);   // any time, from any thread
//   (*server)->Drain();                              // stop accepting, let tunnels finish
//   (*server)->Wait();
//
// Thread safety: every public method may be called from any thread after Create(). The server
// must outlive nothing it hands out: exits() and the stats are valid while it lives.
// Limits: listeners are fixed at Create(); the process's open-file limit bounds the tunnels
// (see max_tunnels()).

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/accounts.h"
#include "core/config.h"
#include "core/resolver.h"
#include "core/shard.h"
#include "core/target_policy.h"
#include "net/socket.h"
#include "routing/affinity_table.h"
#include "routing/exit_registry.h"

namespace strait::core {

struct ServerTotals {
  uint64_t accepted = 0;
  uint64_t established = 0;
  uint64_t finished = 0;
  uint64_t active = 0;
  uint64_t bytes_client_to_target = 0;
  uint64_t bytes_target_to_client = 0;
  uint64_t sessions_moved = 0;
  uint64_t accept_errors = 0;
  uint64_t errors[kErrorTokenCount] = {};
};

class Server {
 public:
  // Validates the configuration further (exits, accounts), loads the exits, opens every
  // listener on every shard. Nothing runs until Start().
  static absl::StatusOr<std::unique_ptr<Server>> Create(Config config);

  ~Server();

  void Start();

  // Stops accepting and lets tunnels finish for the configured drain_ms, then aborts the rest.
  void Drain();

  // Aborts every tunnel and stops.
  void Stop();

  // Blocks until every shard has stopped.
  void Wait();

  // Applies the accounts and exits of `config` (a re-read configuration file): both or neither.
  // Listeners, policy, limits and timeouts keep their start-up values. On error nothing changes
  // and the message says what was wrong.
  absl::Status Reload(const Config& config);

  routing::ExitRegistry& exits() { return exits_; }
  const Config& config() const { return config_; }

  // Listener addresses as bound (the real port when the configuration said 0), in
  // configuration order.
  const std::vector<net::SocketAddress>& listen_addresses() const { return listen_addresses_; }

  int shard_count() const { return static_cast<int>(shards_.size()); }

  // True once shard `index` has left its loop (after a drain, a stop or a failed start).
  bool ShardStopped(int index) const { return shards_[index]->stopped(); }

  // Tunnels the process can hold, from max_tunnels or the open-file limit.
  size_t max_tunnels() const { return max_tunnels_; }

  ServerTotals Totals() const;

 private:
  explicit Server(Config config);

  // Reads, checks and publishes the exits `config` names.
  absl::Status LoadExits(const Config& config);
  absl::Status OpenListeners();

  Config config_;
  TargetPolicy policy_;
  routing::ExitRegistry exits_;
  std::unique_ptr<routing::AffinityTable> sticky_;
  SharedState shared_;
  size_t max_tunnels_ = 0;
  std::vector<net::SocketAddress> listen_addresses_;
  // Shards before the resolver: the resolver's threads post answers to shards, so it must stop
  // (be destroyed) first.
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<Resolver> resolver_;
};

// The exits a configuration names (file or inline CSV), checked for what this build can serve:
// direct egress only, from a source address this host has.
absl::StatusOr<std::vector<routing::ExitSpec>> ReadExitSpecs(const Config& config);

// Accounts built from specs; fails on a duplicate or invalid name.
absl::StatusOr<std::shared_ptr<const Accounts>> BuildAccounts(
    const std::vector<AccountSpec>& specs);

}  // namespace strait::core
