#pragma once

// Name resolution off the shard threads.
//
// getaddrinfo(3) blocks, so a few resolver threads shared by all shards run it and hand each
// answer back to the asking shard through a callback the shard supplies (which posts to the
// shard's inbox). Shards keep their own cache in front of this (core/dns_cache.h), so only
// misses cross threads. The system resolver is used as is: /etc/hosts, nsswitch and
// resolv.conf behave as for any other program on the host.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/socket.h"

namespace strait::core {

struct ResolveAnswer {
  std::string host;
  int error = 0;                              // 0, or a getaddrinfo EAI_* code
  std::vector<net::SocketAddress> addresses;  // port 0; IPv4 first, then IPv6
};

// Called on a resolver thread; must only hand the answer over (post it to a shard).
using ResolveCallback = std::function<void(ResolveAnswer)>;

class Resolver {
 public:
  explicit Resolver(int threads);
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Stops the threads after the queries already running; queued ones are answered EAI_CANCELED.
  ~Resolver();

  void Resolve(std::string host, ResolveCallback callback);

  // Blocking, for tools and tests.
  static ResolveAnswer ResolveNow(const std::string& host);

 private:
  struct Query {
    std::string host;
    ResolveCallback callback;
  };

  void Run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Query> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strait::core
