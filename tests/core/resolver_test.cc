#include "core/resolver.h"

#include <netdb.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"

namespace strait::core {
namespace {

using std::chrono::milliseconds;

// Collects answers delivered on resolver threads.
class Answers {
 public:
  ResolveCallback Callback() {
    return [this](ResolveAnswer answer) {
      std::lock_guard lock(mutex_);
      answers_.push_back(std::move(answer));
      arrived_.notify_all();
    };
  }

  // Waits (bounded) for `count` answers.
  std::vector<ResolveAnswer> WaitFor(size_t count) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, milliseconds(5000), [&] { return answers_.size() >= count; });
    return answers_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<ResolveAnswer> answers_;
};

// A lookup that blocks until released, like a name whose server never answers. Its state is
// shared with the resolver's threads, which may outlive the test's stack frame.
class StuckLookup {
 public:
  Resolver::LookupFunction Function() {
    return [state = state_](const std::string& host) {
      state->calls.fetch_add(1);
      std::unique_lock lock(state->mutex);
      state->released.wait_for(lock, milliseconds(10'000), [&state] { return state->release; });
      return ResolveAnswer{.host = host, .error = EAI_AGAIN};
    };
  }
  void Release() {
    std::lock_guard lock(state_->mutex);
    state_->release = true;
    state_->released.notify_all();
  }
  int calls() const { return state_->calls.load(); }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable released;
    bool release = false;
    std::atomic<int> calls{0};
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

TEST(Resolver, ResolvesLocalhostFromTheHostsFile) {
  ResolveAnswer answer = Resolver::ResolveNow("localhost");
  ASSERT_EQ(answer.error, 0) << ResolveErrorText(answer.error);
  ASSERT_FALSE(answer.addresses.empty());
  EXPECT_EQ(answer.addresses[0].family(), AF_INET) << "IPv4 answers come first";
}

TEST(Resolver, FullQueueAnswersBusyAtOnce) {
  StuckLookup stuck;
  Answers answers;
  {
    Resolver resolver(1, stuck.Function());
    for (size_t i = 0; i < Resolver::kMaxQueuedQueries + 1; ++i) {
      resolver.Resolve("name" + std::to_string(i), nullptr, answers.Callback());
    }
    // One is being looked up, kMaxQueuedQueries wait: at least one more is refused now.
    resolver.Resolve("one-too-many", nullptr, answers.Callback());
    std::vector<ResolveAnswer> got = answers.WaitFor(1);
    ASSERT_GE(got.size(), 1u);
    EXPECT_EQ(got.back().error, kResolverBusy);
    stuck.Release();
  }
}

TEST(Resolver, SkipsQueriesNobodyWaitsForAnyMore) {
  StuckLookup stuck;
  Answers answers;
  Resolver resolver(1, stuck.Function());
  resolver.Resolve("blocking", nullptr, answers.Callback());
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  resolver.Resolve("abandoned", cancel, answers.Callback());
  for (int i = 0; i < 500 && stuck.calls() == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  cancel->store(true);
  stuck.Release();

  std::vector<ResolveAnswer> got = answers.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].host, "abandoned");
  EXPECT_EQ(got[1].error, kResolverAbandoned);
  EXPECT_EQ(stuck.calls(), 1) << "the abandoned name was looked up anyway";
}

TEST(Resolver, ShutdownDoesNotWaitForALookupInProgress) {
  StuckLookup stuck;
  Answers answers;
  auto resolver = std::make_unique<Resolver>(1, stuck.Function());
  resolver->Resolve("blocking", nullptr, answers.Callback());
  resolver->Resolve("queued", nullptr, answers.Callback());
  for (int i = 0; i < 500 && stuck.calls() == 0; ++i) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  auto started = std::chrono::steady_clock::now();
  resolver.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1000));
  std::vector<ResolveAnswer> got = answers.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].host, "queued");
  EXPECT_EQ(got[0].error, kResolverAbandoned);
  // The blocked lookup ends later on its own thread and must not call back.
  stuck.Release();
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(answers.WaitFor(1).size(), 1u);
}

}  // namespace
}  // namespace strait::core
