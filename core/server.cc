#include "core/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/logging.h"
#include "core/status_macros.h"
#include "fmt/format.h"
#include "routing/exit_file.h"

namespace strait::core {
namespace {

constexpr int kListenBacklog = 4096;

// Descriptors kept back for listeners, logs, the rings and resolver sockets.
constexpr size_t kReservedFds = 128;

// An idle tunnel holds two sockets; one moving bytes also holds up to two pooled pipes (four
// fds), and every shard keeps up to `pipe_pool_idle` spare pipes. Dividing what is left by 2.2
// leaves room for one tunnel in ten to be moving bytes in both directions at once; beyond that
// a direction waits for a pipe (net/poll_splice_relay.cc) rather than failing.
size_t TunnelsForFileLimit(size_t file_limit, size_t idle_pipe_fds) {
  size_t reserved = kReservedFds + idle_pipe_fds;
  if (file_limit <= reserved + 40) {
    return 16;
  }
  return (file_limit - reserved) * 5 / 11;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Accounts>> BuildAccounts(
    const std::vector<AccountSpec>& specs) {
  auto accounts = std::make_shared<Accounts>();
  for (const AccountSpec& spec : specs) {
    STRAIT_RETURN_IF_ERROR(accounts->Add(spec));
  }
  return std::shared_ptr<const Accounts>(std::move(accounts));
}

Server::Server(Config config) : config_(std::move(config)), policy_(config_.policy) {}

Server::~Server() {
  Stop();
  Wait();
  // The resolver goes first (see the member comment); its abandoned queries post to the shards,
  // which still exist but no longer run.
  resolver_.reset();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(Config config) {
  std::unique_ptr<Server> server(new Server(std::move(config)));
  Config& cfg = server->config_;

  STRAIT_ASSIGN_OR_RETURN(std::shared_ptr<const Accounts> accounts, BuildAccounts(cfg.accounts));
  STRAIT_RETURN_IF_ERROR(server->LoadExits(cfg));

  int shard_count = cfg.shards > 0
                        ? cfg.shards
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  size_t idle_pipe_fds = 2 * cfg.pipe_pool_idle * static_cast<size_t>(shard_count);
  server->max_tunnels_ =
      cfg.max_tunnels > 0 ? cfg.max_tunnels : TunnelsForFileLimit(files.rlim_cur, idle_pipe_fds);

  server->sticky_ = std::make_unique<routing::AffinityTable>(cfg.sticky_capacity);
  server->resolver_ = std::make_unique<Resolver>(cfg.dns_threads);
  SharedState& shared = server->shared_;
  shared.config = &server->config_;
  shared.exits = &server->exits_;
  shared.sticky = server->sticky_.get();
  shared.resolver = server->resolver_.get();
  shared.policy = &server->policy_;
  shared.selector_options.default_sticky_ttl_s = cfg.sticky_default_ttl_s;
  shared.max_tunnels = server->max_tunnels_;
  shared.accept_pause_tunnels = server->max_tunnels_ + server->max_tunnels_ / 10 + 16;

  for (int i = 0; i < shard_count; ++i) {
    server->shards_.push_back(std::make_unique<Shard>(i, &server->shared_, accounts));
  }
  STRAIT_RETURN_IF_ERROR(server->OpenListeners());
  return server;
}

absl::StatusOr<std::vector<routing::ExitSpec>> ReadExitSpecs(const Config& config) {
  absl::StatusOr<std::vector<routing::ExitSpec>> specs =
      config.exits_file.empty()
          ? routing::ParseExitsText(config.exits_inline_csv,
                                    fmt::format("{} [exits] inline", config.origin))
          : routing::ParseExitsFile(config.exits_file);
  if (!specs.ok()) {
    return specs.status();
  }

  // A source address this host does not have would fail every tunnel through the exit with
  // EADDRNOTAVAIL; refuse the set now instead. Each distinct address is tried once.
  std::vector<net::SocketAddress> checked;
  for (const routing::ExitSpec& spec : *specs) {
    const routing::Egress& egress = spec.egress;
    if (egress.kind != routing::EgressKind::kDirect) {
      // TODO: upstream-proxy egress (HTTP CONNECT and SOCKS5 exits) is parsed but not served;
      // a tunnel would need an upstream handshake phase between connect and reply.
      return absl::UnimplementedError(fmt::format(
          "exit '{}': egress {} is an upstream proxy, which this build does not serve yet; "
          "use direct:<source address>",
          spec.id, routing::DescribeEgress(egress)));
    }
    if (egress.source_len == 0) {
      continue;
    }
    net::SocketAddress source(reinterpret_cast<const sockaddr*>(&egress.source), egress.source_len);
    if (std::find(checked.begin(), checked.end(), source) != checked.end()) {
      continue;
    }
    int free = net::CheckAddressFree(source);
    if (free < 0 && free != -EADDRINUSE) {
      return absl::InvalidArgumentError(
          fmt::format("exit '{}': source address {} cannot be used on this host: {}", spec.id,
                      source.IpString(), std::strerror(-free)));
    }
    checked.push_back(source);
  }
  return specs;
}

absl::Status Server::LoadExits(const Config& config) {
  STRAIT_ASSIGN_OR_RETURN(std::vector<routing::ExitSpec> specs, ReadExitSpecs(config));
  return exits_.ReplaceAll(std::move(specs));
}

absl::Status Server::Reload(const Config& config) {
  STRAIT_ASSIGN_OR_RETURN(std::shared_ptr<const Accounts> accounts, BuildAccounts(config.accounts));
  STRAIT_RETURN_IF_ERROR(LoadExits(config));
  for (auto& shard : shards_) {
    shard->SetAccounts(accounts);
  }
  return absl::OkStatus();
}

absl::Status Server::OpenListeners() {
  for (size_t i = 0; i < config_.listeners.size(); ++i) {
    net::SocketAddress address = config_.listeners[i].address;
    if (address.port() != 0) {
      if (int free = net::CheckAddressFree(address); free < 0) {
        return absl::UnavailableError(fmt::format(
            "listener {}: {}{}", address.ToString(), std::strerror(-free),
            free == -EADDRINUSE ? " (another process, maybe another strait, listens there)" : ""));
      }
    }
    for (auto& shard : shards_) {
      int fd = net::ListenTcp(address, kListenBacklog, /*reuse_port=*/true);
      if (fd < 0) {
        return absl::UnavailableError(
            fmt::format("listener {}: cannot listen: {}", address.ToString(), std::strerror(-fd)));
      }
      if (address.port() == 0) {
        // Port 0 picks a free port for the first shard; the others join it.
        address = *net::LocalAddress(fd);
      }
      shard->AddListener(i, fd);
    }
    listen_addresses_.push_back(address);
  }
  return absl::OkStatus();
}

void Server::Start() {
  for (auto& shard : shards_) {
    shard->Start();
  }
}

void Server::Drain() {
  int64_t deadline_ms = MonotonicMs() + config_.drain_ms;
  for (auto& shard : shards_) {
    shard->Drain(deadline_ms);
  }
}

void Server::Stop() {
  for (auto& shard : shards_) {
    shard->Stop();
  }
}

void Server::Wait() {
  for (auto& shard : shards_) {
    shard->Join();
  }
}

ServerTotals Server::Totals() const {
  ServerTotals totals;
  for (const auto& shard : shards_) {
    const ShardStats& stats = shard->stats();
    totals.accepted += stats.accepted.load(std::memory_order_relaxed);
    totals.established += stats.established.load(std::memory_order_relaxed);
    totals.finished += stats.finished.load(std::memory_order_relaxed);
    totals.active += stats.active.load(std::memory_order_relaxed);
    totals.bytes_client_to_target += stats.bytes_client_to_target.load(std::memory_order_relaxed);
    totals.bytes_target_to_client += stats.bytes_target_to_client.load(std::memory_order_relaxed);
    totals.sessions_moved += stats.sessions_moved.load(std::memory_order_relaxed);
    totals.accept_errors += stats.accept_errors.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kErrorTokenCount; ++i) {
      totals.errors[i] += stats.errors[i].load(std::memory_order_relaxed);
    }
  }
  return totals;
}

}  // namespace strait::core
