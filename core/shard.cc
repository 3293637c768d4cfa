#include "core/shard.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/check.h"
#include "core/tunnel.h"
#include "fmt/format.h"

namespace strait::core {
namespace {

constexpr unsigned kRingEntries = 1024;
constexpr int64_t kLoopTickMs = 100;
constexpr int64_t kSweepIntervalMs = 200;

// Accepting pauses this long after running out of file descriptors or memory.
constexpr int64_t kAcceptBackoffMs = 100;

// Negative answers are cached briefly, so a client hammering a bad name costs one lookup per
// this period, not one per tunnel.
constexpr int64_t kNegativeDnsCacheMs = 5000;
constexpr size_t kMaxDnsCacheEntries = 10'000;

enum ListenerTag : unsigned { kAcceptTag = 0, kBackoffTag = 1 };

}  // namespace

int64_t MonotonicMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000 + now.tv_nsec / 1'000'000;
}

Shard::Shard(int index, SharedState* shared, std::shared_ptr<const Accounts> accounts)
    : index_(index),
      shared_(shared),
      credentials_scratch_(
          std::make_unique_for_overwrite<char[]>(shared->config->max_header_bytes)),
      accounts_(std::move(accounts)),
      pipes_(shared->config->pipe_size, shared->config->pipe_pool_idle),
      exits_(*shared->exits),
      rng_(static_cast<uint64_t>(MonotonicMs()) * 0x9e3779b97f4a7c15ull + index) {
  connect_timeout_.tv_sec = shared_->config->connect_ms / 1000;
  connect_timeout_.tv_nsec = (shared_->config->connect_ms % 1000) * 1'000'000;
  // Blocking on purpose: io_uring waits for a blocking eventfd with its own poll, while a
  // non-blocking one would complete the read at once with -EAGAIN.
  event_fd_ = eventfd(0, EFD_CLOEXEC);
  STRAIT_CHECK(event_fd_ >= 0);
}

Shard::~Shard() {
  Join();
  tunnels_.clear();
  for (auto& listener : listeners_) {
    listener->Close();
  }
  close(event_fd_);
}

void Shard::AddListener(size_t listener_index, int fd) {
  listeners_.push_back(std::make_unique<Listener>(*this, listener_index, fd));
}

void Shard::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Shard::Join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Shard::Post(std::function<void()> task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  // One wake-up per batch: the loop clears the flag before it runs the batch.
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof(one));
  }
}

void Shard::Drain(int64_t deadline_ms) {
  Post([this, deadline_ms] {
    if (draining_) {
      return;
    }
    draining_ = true;
    drain_deadline_ms_ = deadline_ms;
    StopAccepting();
  });
}

void Shard::Stop() {
  Post([this] {
    stop_requested_ = true;
    StopAccepting();
    AbortAllTunnels();
  });
}

void Shard::SetAccounts(std::shared_ptr<const Accounts> accounts) {
  Post([this, accounts = std::move(accounts)]() mutable { accounts_ = std::move(accounts); });
}

void Shard::Run() {
  int res = ring_.Init(kRingEntries);
  if (res < 0) {
    Log().error("shard {}: io_uring setup failed: {}", index_, std::strerror(-res));
    stopped_.store(true, std::memory_order_release);
    return;
  }
  now_ms_ = MonotonicMs();
  next_sweep_ms_ = now_ms_ + kSweepIntervalMs;
  inbox_.Arm();
  for (auto& listener : listeners_) {
    listener->Arm();
  }

  // Stopping waits for in-flight operations of aborted tunnels, bounded so a stuck kernel
  // operation cannot hold the process forever.
  int64_t stop_deadline_ms = 0;
  for (;;) {
    ring_.SubmitAndWait(kLoopTickMs * 1'000'000);
    now_ms_ = MonotonicMs();
    ring_.DispatchCompletions();
    RunPostedTasks();
    if (now_ms_ >= next_sweep_ms_) {
      Sweep();
      next_sweep_ms_ = now_ms_ + kSweepIntervalMs;
    }
    FreeFinishedTunnels();
    UpdateAcceptPause();

    if (draining_ && !stop_requested_ && now_ms_ >= drain_deadline_ms_) {
      stop_requested_ = true;
      AbortAllTunnels();
    }
    if ((stop_requested_ || draining_) && tunnels_.empty()) {
      break;
    }
    if (stop_requested_) {
      if (stop_deadline_ms == 0) {
        stop_deadline_ms = now_ms_ + 5000;
      } else if (now_ms_ >= stop_deadline_ms) {
        Log().warn("shard {}: {} tunnels still had operations in flight at stop", index_,
                   tunnels_.size());
        break;
      }
    }
  }
  stopped_.store(true, std::memory_order_release);
}

void Shard::RunPostedTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_);
    wake_pending_.store(false, std::memory_order_release);
  }
  for (auto& task : tasks) {
    task();
  }
}

void Shard::Sweep() {
  for (auto& [id, tunnel] : tunnels_) {
    tunnel->CheckDeadline(now_ms_);
  }
  PruneDnsWaiters();
}

void Shard::FreeFinishedTunnels() {
  for (uint64_t id : retired_) {
    tunnels_.erase(id);
  }
  retired_.clear();
}

void Shard::Retire(Tunnel* tunnel) { retired_.push_back(tunnel->id()); }

void Shard::AbortAllTunnels() {
  for (auto& [id, tunnel] : tunnels_) {
    tunnel->Abort();
  }
}

// Closing the listening sockets makes new connections fail fast (refused) instead of waiting
// in a backlog nobody will accept from; connections already queued get a reset. The balancer
// should have stopped sending before this (/readyz answers 503 while draining).
void Shard::StopAccepting() {
  for (auto& listener : listeners_) {
    listener->Cancel();
    listener->Close();
  }
}

// At the tunnel limit a shard stops accepting and lets connections wait in the kernel's
// backlog (or go to another shard) rather than accepting what it cannot serve.
void Shard::UpdateAcceptPause() {
  if (draining_ || stop_requested_) {
    return;
  }
  bool full = shared_->tunnels.load(std::memory_order_relaxed) >= shared_->accept_pause_tunnels;
  for (auto& listener : listeners_) {
    if (full && !listener->paused()) {
      listener->set_paused(true);
      listener->Cancel();
    } else if (!full && listener->paused()) {
      listener->set_paused(false);
      listener->Arm();
    }
  }
}

void Shard::OnAccepted(size_t listener_index, int fd) {
  stats_.accepted.fetch_add(1, std::memory_order_relaxed);
  stats_.active.fetch_add(1, std::memory_order_relaxed);
  net::SetNoDelay(fd);
  uint64_t id = next_tunnel_id_++;
  size_t tunnels = shared_->tunnels.fetch_add(1, std::memory_order_relaxed) + 1;
  auto tunnel = std::make_unique<Tunnel>(*this, id, fd, shared_->config->listeners[listener_index]);
  if (tunnels > shared_->max_tunnels) {
    tunnel->MarkOverLimit();
  }
  Tunnel* raw = tunnel.get();
  tunnels_.emplace(id, std::move(tunnel));
  raw->Start();
}

const routing::PlaceDictionary& Shard::places() { return exits_.Get().places(); }

routing::SelectionResult Shard::SelectExit(const routing::RoutingIntent& intent,
                                           routing::Pool pool) {
  return routing::SelectExit(exits_.Get(), *shared_->sticky, intent, pool,
                             static_cast<uint32_t>(now_ms_ / 1000), rng_,
                             shared_->selector_options);
}

void Shard::Resolve(uint64_t tunnel_id, const std::string& host) {
  auto cached = dns_cache_.find(host);
  if (cached != dns_cache_.end() && cached->second.expires_ms > now_ms_) {
    // Answer on the next loop turn, not inside the caller's stack.
    Post([this, tunnel_id, host] {
      auto entry = dns_cache_.find(host);
      auto tunnel = tunnels_.find(tunnel_id);
      if (entry != dns_cache_.end() && tunnel != tunnels_.end()) {
        tunnel->second->OnResolved(entry->second);
      }
    });
    return;
  }

  DnsQuery& query = dns_waiting_[host];
  query.tunnels.push_back(tunnel_id);
  if (query.tunnels.size() > 1) {
    return;  // a query for this name is already on its way
  }
  query.cancel = std::make_shared<std::atomic<bool>>(false);
  shared_->resolver->Resolve(host, query.cancel, [this](ResolveAnswer answer) {
    Post([this, answer = std::move(answer)]() mutable { OnResolved(std::move(answer)); });
  });
}

// Forgets tunnels that stopped waiting for a name (they timed out or went away); a name nobody
// waits for any more is cancelled, so a queue of dead lookups cannot hold up live ones.
void Shard::PruneDnsWaiters() {
  for (auto it = dns_waiting_.begin(); it != dns_waiting_.end();) {
    std::vector<uint64_t>& tunnels = it->second.tunnels;
    tunnels.erase(std::remove_if(tunnels.begin(), tunnels.end(),
                                 [this](uint64_t id) {
                                   auto tunnel = tunnels_.find(id);
                                   return tunnel == tunnels_.end() || !tunnel->second->resolving();
                                 }),
                  tunnels.end());
    if (tunnels.empty()) {
      it->second.cancel->store(true, std::memory_order_release);
      dns_waiting_.erase(it++);
    } else {
      ++it;
    }
  }
}

void Shard::OnResolved(ResolveAnswer answer) {
  if (answer.error == kResolverAbandoned || answer.error == kResolverBusy) {
    // Says nothing about the name: not cached. Busy is answered to whoever still waits.
    auto waiting = dns_waiting_.extract(answer.host);
    if (waiting.empty()) {
      return;
    }
    DnsEntry transient{.error = answer.error};
    for (uint64_t tunnel_id : waiting.mapped().tunnels) {
      auto tunnel = tunnels_.find(tunnel_id);
      if (tunnel != tunnels_.end()) {
        tunnel->second->OnResolved(transient);
      }
    }
    return;
  }
  if (dns_cache_.size() >= kMaxDnsCacheEntries) {
    absl::erase_if(dns_cache_,
                   [this](const auto& entry) { return entry.second.expires_ms <= now_ms_; });
    if (dns_cache_.size() >= kMaxDnsCacheEntries) {
      dns_cache_.clear();
    }
  }
  int64_t ttl_ms =
      answer.error == 0 ? int64_t{shared_->config->dns_cache_ttl_s} * 1000 : kNegativeDnsCacheMs;
  DnsEntry& entry = dns_cache_[answer.host];
  entry.error = answer.error;
  entry.addresses = std::move(answer.addresses);
  entry.expires_ms = now_ms_ + ttl_ms;

  auto waiting = dns_waiting_.extract(answer.host);
  if (waiting.empty()) {
    return;
  }
  for (uint64_t tunnel_id : waiting.mapped().tunnels) {
    auto tunnel = tunnels_.find(tunnel_id);
    if (tunnel != tunnels_.end()) {
      tunnel->second->OnResolved(entry);
    }
  }
}

// ---- Listener ----------------------------------------------------------------------------------

void Shard::Listener::Arm() {
  if (accept_armed_ || backoff_armed_ || paused_ || fd_ < 0) {
    return;
  }
  io_uring_sqe* sqe = shard_.ring_.NextSqe();
  io_uring_prep_multishot_accept(sqe, fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  net::Ring::SetHandler(sqe, this, kAcceptTag);
  accept_armed_ = true;
}

void Shard::Listener::Cancel() {
  if (!accept_armed_) {
    return;
  }
  io_uring_sqe* sqe = shard_.ring_.NextSqe();
  io_uring_prep_cancel64(
      sqe, reinterpret_cast<uint64_t>(static_cast<net::CompletionHandler*>(this)) | kAcceptTag, 0);
  net::Ring::SetNoHandler(sqe);
}

void Shard::Listener::Close() { net::CloseFd(fd_); }

void Shard::Listener::OnCompletion(unsigned tag, int32_t res, uint32_t flags) {
  if (tag == kBackoffTag) {
    backoff_armed_ = false;
    if (!shard_.draining_ && !shard_.stop_requested_) {
      Arm();
    }
    return;
  }

  if ((flags & IORING_CQE_F_MORE) == 0) {
    // A multishot accept ends on any error and on cancellation; it must be armed again.
    accept_armed_ = false;
  }
  if (res >= 0) {
    if (shard_.draining_ || shard_.stop_requested_) {
      close(res);
    } else {
      shard_.OnAccepted(index_, res);
    }
  } else if (res != -ECANCELED) {
    shard_.stats_.accept_errors.fetch_add(1, std::memory_order_relaxed);
    uint64_t dropped = 0;
    if (shard_.LogAllowed(&dropped)) {
      Log().warn("shard {}: accept failed: {} ({} similar lines dropped)", shard_.index_,
                 std::strerror(-res), dropped);
    }
  }

  if (accept_armed_ || paused_ || shard_.draining_ || shard_.stop_requested_) {
    return;
  }
  if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
    // Out of descriptors or memory: established tunnels keep going, new connections wait in
    // the backlog until something frees up. Idle pooled pipes are descriptors too.
    shard_.pipes_.Trim(0);
    // The relay's copy path keeps established tunnels moving meanwhile.
    backoff_.tv_sec = 0;
    backoff_.tv_nsec = kAcceptBackoffMs * 1'000'000;
    io_uring_sqe* sqe = shard_.ring_.NextSqe();
    io_uring_prep_timeout(sqe, &backoff_, 0, 0);
    net::Ring::SetHandler(sqe, this, kBackoffTag);
    backoff_armed_ = true;
    return;
  }
  Arm();
}

// ---- Inbox -------------------------------------------------------------------------------------

void Shard::Inbox::Arm() {
  io_uring_sqe* sqe = shard_.ring_.NextSqe();
  io_uring_prep_read(sqe, shard_.event_fd_, &counter_, sizeof(counter_), 0);
  net::Ring::SetHandler(sqe, this, 0);
}

void Shard::Inbox::OnCompletion(unsigned /*tag*/, int32_t /*res*/, uint32_t /*flags*/) {
  // The tasks themselves run after the completion batch (RunPostedTasks).
  Arm();
}

}  // namespace strait::core
