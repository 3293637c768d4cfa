#include "net/relay.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "net/pipe_pool.h"
#include "net/socket.h"
#include "net/uring.h"
#include "tests/testing/streams.h"

namespace strait::net {
namespace {

using strait::testing::ReceiveAll;
using strait::testing::SendPattern;

using std::chrono::milliseconds;
using std::chrono::steady_clock;

int64_t NowMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000 + now.tv_nsec / 1'000'000;
}

// A connected loopback TCP pair: `near` is what the relay gets, `far` what the test drives.
struct TcpPair {
  int near_fd = -1;
  int far_fd = -1;
};

TcpPair MakeTcpPair() {
  SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
  int listener = ListenTcp(any, 4, false);
  EXPECT_GE(listener, 0);
  SocketAddress bound = *LocalAddress(listener);

  TcpPair pair;
  pair.far_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(connect(pair.far_fd, bound.get(), bound.length()), 0);
  for (int attempt = 0; attempt < 1000 && pair.near_fd < 0; ++attempt) {
    pair.near_fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (pair.near_fd < 0) {
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  EXPECT_GE(pair.near_fd, 0);
  close(listener);
  return pair;
}

// Runs one relay on its own thread and ring, the way a shard would, until it finishes or the
// deadline passes. `abort_after_ms` >= 0 aborts it from the loop after that long.
class RelayRunner : public RelayObserver {
 public:
  // `before_start` runs on the loop thread once the ring exists, just before the relay starts.
  RelayRunner(RelayStrategy strategy, int client_fd, int target_fd, int64_t abort_after_ms = -1,
              std::function<void()> before_start = nullptr)
      : before_start_(std::move(before_start)),
        thread_([this, strategy, client_fd, target_fd, abort_after_ms] {
          Run(strategy, client_fd, target_fd, abort_after_ms);
        }) {}

  ~RelayRunner() { Join(); }

  void Join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  void OnRelayFinished(const RelayOutcome& outcome) override {
    outcome_ = outcome;
    finished_ = true;
  }

  bool finished() const { return finished_; }
  const RelayOutcome& outcome() const { return outcome_; }
  uint64_t client_to_target() const { return client_to_target_; }
  uint64_t target_to_client() const { return target_to_client_; }
  size_t pipes_leased_when_idle() const { return pipes_leased_when_idle_; }
  size_t pipes_leased_at_end() const { return pipes_leased_at_end_; }
  uint64_t pipes_created() const { return pipes_created_; }

  // Set from the test thread; the loop records how many pipes were leased at that moment.
  void MarkIdle() { idle_requested_ = true; }
  bool idle_recorded() const { return idle_recorded_; }

 private:
  void Run(RelayStrategy strategy, int client_fd, int target_fd, int64_t abort_after_ms) {
    Ring ring;
    ASSERT_EQ(ring.Init(256), 0);
    PipePool pipes(256 * 1024, 8);
    int64_t now_ms = NowMs();
    static char copy_buffer[64 * 1024];
    RelayEnvironment env{&ring, &pipes, &now_ms, 256 * 1024, copy_buffer, sizeof(copy_buffer)};
    std::unique_ptr<Relay> relay = Relay::Create(strategy, env, client_fd, target_fd, this);
    if (before_start_) {
      before_start_();
    }
    relay->Start();

    int64_t started_ms = now_ms;
    bool aborted = false;
    while (!finished_ && now_ms - started_ms < 60'000) {
      ring.SubmitAndWait(20'000'000);
      now_ms = NowMs();
      ring.DispatchCompletions();
      if (abort_after_ms >= 0 && !aborted && now_ms - started_ms >= abort_after_ms) {
        aborted = true;
        relay->Abort(/*reset_peers=*/false);
      }
      if (idle_requested_ && !idle_recorded_) {
        pipes_leased_when_idle_ = pipes.leased();
        idle_recorded_ = true;
      }
    }
    client_to_target_ = relay->client_to_target_bytes();
    target_to_client_ = relay->target_to_client_bytes();
    relay.reset();
    pipes_leased_at_end_ = pipes.leased();
    pipes_created_ = pipes.created();
  }

  std::function<void()> before_start_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> idle_requested_{false};
  std::atomic<bool> idle_recorded_{false};
  RelayOutcome outcome_;
  uint64_t client_to_target_ = 0;
  uint64_t target_to_client_ = 0;
  size_t pipes_leased_when_idle_ = 0;
  size_t pipes_leased_at_end_ = 0;
  uint64_t pipes_created_ = 0;
  std::thread thread_;
};

void SetReceiveTimeout(int fd, int seconds) {
  timeval timeout{.tv_sec = seconds, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
}

class SpliceRelayTest : public ::testing::TestWithParam<RelayStrategy> {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    client_ = MakeTcpPair();
    target_ = MakeTcpPair();
    SetReceiveTimeout(client_.far_fd, 30);
    SetReceiveTimeout(target_.far_fd, 30);
  }

  void TearDown() override {
    for (int fd : {client_.near_fd, client_.far_fd, target_.near_fd, target_.far_fd}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  }

  TcpPair client_;
  TcpPair target_;
};

TEST_P(SpliceRelayTest, TransfersLargeStreamsBothWaysIntact) {
  constexpr uint64_t kBytes = 64ull << 20;
  RelayRunner runner(GetParam(), client_.near_fd, target_.near_fd);

  uint64_t up_sent_hash = 0;
  uint64_t down_sent_hash = 0;
  uint64_t up_received = 0;
  uint64_t down_received = 0;
  uint64_t up_received_hash = 0;
  uint64_t down_received_hash = 0;
  std::thread up_sender([&] { up_sent_hash = SendPattern(client_.far_fd, kBytes, 1); });
  std::thread down_sender([&] { down_sent_hash = SendPattern(target_.far_fd, kBytes, 2); });
  std::thread up_receiver([&] { up_received_hash = ReceiveAll(target_.far_fd, &up_received); });
  down_received_hash = ReceiveAll(client_.far_fd, &down_received);
  up_sender.join();
  down_sender.join();
  up_receiver.join();
  runner.Join();

  EXPECT_EQ(up_received, kBytes);
  EXPECT_EQ(down_received, kBytes);
  EXPECT_EQ(up_received_hash, up_sent_hash);
  EXPECT_EQ(down_received_hash, down_sent_hash);
  ASSERT_TRUE(runner.finished());
  EXPECT_EQ(runner.outcome().failed_side, RelaySide::kNone);
  EXPECT_EQ(runner.client_to_target(), kBytes);
  EXPECT_EQ(runner.target_to_client(), kBytes);
  EXPECT_EQ(runner.pipes_leased_at_end(), 0u);
}

TEST_P(SpliceRelayTest, PassesHalfCloseToPeer) {
  RelayRunner runner(GetParam(), client_.near_fd, target_.near_fd);

  const char request[] = "question";
  ASSERT_EQ(send(client_.far_fd, request, sizeof(request), 0), ssize_t{sizeof(request)});
  shutdown(client_.far_fd, SHUT_WR);

  // The target sees the request and then EOF, and only then answers.
  uint64_t request_bytes = 0;
  ReceiveAll(target_.far_fd, &request_bytes);
  EXPECT_EQ(request_bytes, sizeof(request));
  const char answer[] = "answer after the client's FIN";
  ASSERT_EQ(send(target_.far_fd, answer, sizeof(answer), 0), ssize_t{sizeof(answer)});
  shutdown(target_.far_fd, SHUT_WR);

  char received[64] = {};
  ssize_t n = recv(client_.far_fd, received, sizeof(received), MSG_WAITALL);
  ASSERT_EQ(n, ssize_t{sizeof(answer)});
  EXPECT_STREQ(received, answer);
  runner.Join();
  ASSERT_TRUE(runner.finished());
  EXPECT_EQ(runner.outcome().failed_side, RelaySide::kNone);
}

TEST_P(SpliceRelayTest, PassesResetFromTargetToClient) {
  RelayRunner runner(GetParam(), client_.near_fd, target_.near_fd);

  // Data in flight towards the target, then the target aborts.
  const char hello[] = "hello";
  ASSERT_EQ(send(client_.far_fd, hello, sizeof(hello), 0), ssize_t{sizeof(hello)});
  char received[8];
  ASSERT_EQ(recv(target_.far_fd, received, sizeof(hello), MSG_WAITALL), ssize_t{sizeof(hello)});
  SetLingerZero(target_.far_fd);
  close(target_.far_fd);
  target_.far_fd = -1;

  runner.Join();
  ASSERT_TRUE(runner.finished());
  EXPECT_EQ(runner.outcome().failed_side, RelaySide::kTarget);
  EXPECT_EQ(runner.outcome().error, -ECONNRESET);

  // The relay's owner closes the fds once finished; the client must see a reset, not EOF.
  close(client_.near_fd);
  client_.near_fd = -1;
  close(target_.near_fd);
  target_.near_fd = -1;
  ssize_t n = recv(client_.far_fd, received, sizeof(received), 0);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST_P(SpliceRelayTest, AbortEndsAnIdleTunnel) {
  RelayRunner runner(GetParam(), client_.near_fd, target_.near_fd, /*abort_after_ms=*/200);
  runner.Join();
  ASSERT_TRUE(runner.finished());
  EXPECT_TRUE(runner.outcome().aborted);
  EXPECT_EQ(runner.pipes_leased_at_end(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Strategies, SpliceRelayTest,
                         ::testing::Values(RelayStrategy::kPollSplice, RelayStrategy::kRingSplice),
                         [](const ::testing::TestParamInfo<RelayStrategy>& info) {
                           return std::string(RelayStrategyName(info.param));
                         });

TEST(PollSpliceRelay, HoldsNoPipeWhileIdle) {
  signal(SIGPIPE, SIG_IGN);
  TcpPair client = MakeTcpPair();
  TcpPair target = MakeTcpPair();
  RelayRunner runner(RelayStrategy::kPollSplice, client.near_fd, target.near_fd);

  const char ping[] = "ping";
  ASSERT_EQ(send(client.far_fd, ping, sizeof(ping), 0), ssize_t{sizeof(ping)});
  char received[8];
  ASSERT_EQ(recv(target.far_fd, received, sizeof(ping), MSG_WAITALL), ssize_t{sizeof(ping)});

  // Delivered and nothing more to move: the pipe must be back in the pool.
  runner.MarkIdle();
  for (int attempt = 0; attempt < 500 && !runner.idle_recorded(); ++attempt) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  ASSERT_TRUE(runner.idle_recorded());
  EXPECT_EQ(runner.pipes_leased_when_idle(), 0u);

  shutdown(client.far_fd, SHUT_WR);
  shutdown(target.far_fd, SHUT_WR);
  runner.Join();
  EXPECT_EQ(runner.outcome().failed_side, RelaySide::kNone);
  for (int fd : {client.near_fd, client.far_fd, target.near_fd, target.far_fd}) {
    close(fd);
  }
}

TEST(PollSpliceRelay, KeepsMovingBytesWhenNoDescriptorIsLeftForAPipe) {
  signal(SIGPIPE, SIG_IGN);
  TcpPair client = MakeTcpPair();
  TcpPair target = MakeTcpPair();
  SetReceiveTimeout(client.far_fd, 30);
  SetReceiveTimeout(target.far_fd, 30);

  // From the moment the relay starts, the process may open no further descriptor, so every pipe
  // lease fails with EMFILE.
  rlimit saved{};
  getrlimit(RLIMIT_NOFILE, &saved);
  auto exhaust = [&saved] {
    int probe = dup(0);
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(probe);
    close(probe);
    setrlimit(RLIMIT_NOFILE, &tight);
  };
  constexpr uint64_t kBytes = 8ull << 20;
  uint64_t sent_hash = 0;
  uint64_t received = 0;
  uint64_t received_hash = 0;
  {
    RelayRunner runner(RelayStrategy::kPollSplice, client.near_fd, target.near_fd, -1, exhaust);
    std::thread sender([&] { sent_hash = SendPattern(client.far_fd, kBytes, 3); });
    received_hash = ReceiveAll(target.far_fd, &received);
    sender.join();
    shutdown(target.far_fd, SHUT_WR);
    runner.Join();
    setrlimit(RLIMIT_NOFILE, &saved);
    EXPECT_EQ(runner.outcome().failed_side, RelaySide::kNone);
    EXPECT_EQ(runner.client_to_target(), kBytes);
    EXPECT_EQ(runner.pipes_created(), 0u) << "the copy path was never taken";
  }
  EXPECT_EQ(received, kBytes);
  EXPECT_EQ(received_hash, sent_hash);
  for (int fd : {client.near_fd, client.far_fd, target.near_fd, target.far_fd}) {
    close(fd);
  }
}

}  // namespace
}  // namespace strait::net
