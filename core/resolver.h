#pragma once

// Name resolution off the shard threads.
//
// getaddrinfo(3) blocks, so a few resolver threads shared by all shards run it and hand each
// answer back to the asking shard through a callback the shard supplies (which posts to the
// shard's inbox). Shards keep their own cache in front of this, and coalesce concurrent
// lookups of one name, so only misses cross threads. The system resolver is used as is:
// /etc/hosts, nsswitch and resolv.conf behave as for any other program on the host.
//
// Defences against names that never answer (each can hold a thread for resolv.conf's
// timeout x attempts): the queue is bounded and answers kResolverBusy when full; a query whose
// askers have all given up is skipped when its turn comes; shutdown does not wait for lookups
// in progress.
// TODO: a slow resolver still holds one thread per pending name; an asynchronous resolver per
// shard (c-ares driven by the ring) would remove the thread pool and its head-of-line blocking.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/socket.h"

namespace strait::core {

// Resolver-specific outcomes next to getaddrinfo's EAI_* codes (which are negative too, but
// small: these are outside their range).
inline constexpr int kResolverBusy = -10'001;       // the queue is full
inline constexpr int kResolverAbandoned = -10'002;  // nobody waited any more; not looked up

struct ResolveAnswer {
  std::string host;
  int error = 0;  // 0, a getaddrinfo EAI_* code, kResolverBusy or kResolverAbandoned
  std::vector<net::SocketAddress> addresses;  // port 0; IPv4 first, then IPv6
};

// Text for ResolveAnswer::error.
std::string ResolveErrorText(int error);

// Called on a resolver thread; must only hand the answer over (post it to a shard).
using ResolveCallback = std::function<void(ResolveAnswer)>;

// Set to true by the asker when no one needs the answer any more.
using ResolveCancel = std::shared_ptr<std::atomic<bool>>;

class Resolver {
 public:
  static constexpr size_t kMaxQueuedQueries = 1024;

  // How a name is looked up; ResolveNow by default, a fake in tests.
  using LookupFunction = std::function<ResolveAnswer(const std::string& host)>;

  explicit Resolver(int threads, LookupFunction lookup = ResolveNow);
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Returns at once: queued queries are answered kResolverAbandoned, and lookups still running
  // finish on their own threads without calling back.
  ~Resolver();

  // Queues a lookup; `callback` is called exactly once unless the resolver is destroyed first.
  void Resolve(std::string host, ResolveCancel cancel, ResolveCallback callback);

  // Blocking, for tools and tests.
  static ResolveAnswer ResolveNow(const std::string& host);

 private:
  struct Query {
    std::string host;
    ResolveCancel cancel;
    ResolveCallback callback;
  };

  // Shared with the threads, which may outlive the Resolver.
  struct State {
    LookupFunction lookup;
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Query> queue;
    bool stopping = false;
  };

  static void Run(std::shared_ptr<State> state);

  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace strait::core
