#include "core/resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

namespace strait::core {

Resolver::Resolver(int threads) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

Resolver::~Resolver() {
  std::deque<Query> abandoned;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    abandoned.swap(queue_);
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) {
    thread.join();
  }
  for (Query& query : abandoned) {
    query.callback(ResolveAnswer{.host = std::move(query.host), .error = EAI_CANCELED});
  }
}

void Resolver::Resolve(std::string host, ResolveCallback callback) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Query{std::move(host), std::move(callback)});
  }
  wake_.notify_one();
}

ResolveAnswer Resolver::ResolveNow(const std::string& host) {
  ResolveAnswer answer;
  answer.host = host;

  // No AI_ADDRCONFIG: it hides names that resolve to loopback on a host whose only interface
  // is loopback, which is exactly how tests isolate the daemon.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* results = nullptr;
  answer.error = getaddrinfo(host.c_str(), nullptr, &hints, &results);
  if (answer.error != 0) {
    return answer;
  }

  for (addrinfo* entry = results; entry != nullptr; entry = entry->ai_next) {
    net::SocketAddress address(entry->ai_addr, entry->ai_addrlen);
    if (std::find(answer.addresses.begin(), answer.addresses.end(), address) ==
        answer.addresses.end()) {
      answer.addresses.push_back(address);
    }
  }
  freeaddrinfo(results);
  std::stable_partition(answer.addresses.begin(), answer.addresses.end(),
                        [](const net::SocketAddress& a) { return a.family() == AF_INET; });
  if (answer.addresses.empty()) {
    answer.error = EAI_NODATA;
  }
  return answer;
}

void Resolver::Run() {
  for (;;) {
    Query query;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      query = std::move(queue_.front());
      queue_.pop_front();
    }
    query.callback(ResolveNow(query.host));
  }
}

}  // namespace strait::core
