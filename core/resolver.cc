#include "core/resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

namespace strait::core {

std::string ResolveErrorText(int error) {
  switch (error) {
    case 0:
      return "resolved";
    case kResolverBusy:
      return "too many names being resolved at once";
    case kResolverAbandoned:
      return "lookup abandoned";
    default:
      return gai_strerror(error);
  }
}

Resolver::Resolver(int threads, LookupFunction lookup) {
  state_->lookup = std::move(lookup);
  for (int i = 0; i < threads; ++i) {
    std::thread(Run, state_).detach();
  }
}

Resolver::~Resolver() {
  std::deque<Query> abandoned;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    abandoned.swap(state_->queue);
  }
  state_->wake.notify_all();
  for (Query& query : abandoned) {
    query.callback(ResolveAnswer{.host = std::move(query.host), .error = kResolverAbandoned});
  }
}

void Resolver::Resolve(std::string host, ResolveCancel cancel, ResolveCallback callback) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->queue.size() < kMaxQueuedQueries) {
      state_->queue.push_back(Query{std::move(host), std::move(cancel), std::move(callback)});
      state_->wake.notify_one();
      return;
    }
  }
  callback(ResolveAnswer{.host = std::move(host), .error = kResolverBusy});
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

void Resolver::Run(std::shared_ptr<State> state) {
  for (;;) {
    Query query;
    {
      std::unique_lock lock(state->mutex);
      state->wake.wait(lock, [&state] { return state->stopping || !state->queue.empty(); });
      if (state->stopping) {
        return;
      }
      query = std::move(state->queue.front());
      state->queue.pop_front();
    }

    ResolveAnswer answer;
    if (query.cancel && query.cancel->load(std::memory_order_acquire)) {
      answer = ResolveAnswer{.host = std::move(query.host), .error = kResolverAbandoned};
    } else {
      answer = state->lookup(query.host);
    }

    // The callback posts to a shard, which must still exist: after the destructor has set
    // `stopping` nothing is called any more.
    std::lock_guard lock(state->mutex);
    if (state->stopping) {
      return;
    }
    query.callback(std::move(answer));
  }
}

}  // namespace strait::core
