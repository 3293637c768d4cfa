#pragma once

// The relay moves a tunnel's bytes between the client socket and the target socket in both
// directions, socket -> pipe -> socket with splice(2), so payload never enters user space.
//
// Two strategies sit behind one interface so the bench can compare them on any kernel:
//
//  - kPollSplice (default): readiness is awaited with one-shot IORING_OP_POLL_ADD on the
//    shard's ring and splice(2) runs inline on the shard thread until it would block. Pipes come
//    from the shard's PipePool and are held only while they carry bytes.
//  - kRingSplice: io_uring's own IORING_OP_SPLICE. The kernel always runs it in io-wq worker
//    threads (a blocked splice per idle direction occupies one worker), so it needs blocking
//    sockets and owns two pipes for the tunnel's whole life. Kept for comparison; see
//    /work/shared notes and bench/README.md for measurements.
//
// Lifetime: the owner keeps both fds open and the relay alive until OnRelayFinished() has been
// called; that call comes exactly once, after every operation the relay submitted completed.
// The owner then closes the fds and frees the relay, on a later turn of the loop, not inside the
// callback.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "net/pipe_pool.h"
#include "net/uring.h"

namespace strait::net {

enum class RelayStrategy : uint8_t { kPollSplice, kRingSplice };

// "splice" and "uring_splice", as written in the configuration.
std::string_view RelayStrategyName(RelayStrategy strategy);
std::optional<RelayStrategy> ParseRelayStrategy(std::string_view name);

enum class RelaySide : uint8_t { kNone, kClient, kTarget, kInternal };

struct RelayOutcome {
  RelaySide failed_side = RelaySide::kNone;  // kNone: both directions ended with a FIN
  int error = 0;                             // -errno of the failure, 0 if none
  bool aborted = false;                      // ended by Abort() (idle timeout, drain)
};

class RelayObserver {
 public:
  virtual void OnRelayFinished(const RelayOutcome& outcome) = 0;

 protected:
  ~RelayObserver() = default;
};

struct RelayEnvironment {
  Ring* ring = nullptr;
  PipePool* pipes = nullptr;        // kPollSplice leases from it
  const int64_t* now_ms = nullptr;  // the shard's loop clock, for last_activity_ms()
  size_t ring_pipe_size = 65536;    // kRingSplice: size of each of its own pipes
  // kPollSplice: the shard's scratch buffer for moving bytes when no descriptor is left for a
  // pipe (a copy instead of a splice); shared by the shard's tunnels, used one call at a time.
  char* copy_buffer = nullptr;
  size_t copy_buffer_size = 0;
};

class alignas(kCompletionTagLimit) Relay : public CompletionHandler {
 public:
  // Both fds must be connected, non-blocking TCP sockets. Nothing is submitted until Start().
  static std::unique_ptr<Relay> Create(RelayStrategy strategy, const RelayEnvironment& env,
                                       int client_fd, int target_fd, RelayObserver* observer);

  virtual ~Relay() = default;

  // Forward at most `bytes` from the client before Start(); past that the client is no longer
  // read and its end of the tunnel counts as done, without a FIN to the target. For forwarded
  // HTTP requests, whose body length is known and after which nothing may follow.
  void LimitClientToTarget(uint64_t bytes) { client_to_target_budget_ = bytes; }

  virtual void Start() = 0;

  // Ends the relay early. Idempotent; OnRelayFinished follows once in-flight operations drain.
  // With `reset_peers` both peers get a reset instead of a FIN, so a transfer cut short cannot
  // look complete (drain deadline, shutdown); without, an idle tunnel just closes.
  virtual void Abort(bool reset_peers) = 0;

  uint64_t client_to_target_bytes() const { return client_to_target_bytes_; }
  uint64_t target_to_client_bytes() const { return target_to_client_bytes_; }
  int64_t last_activity_ms() const { return last_activity_ms_; }

 protected:
  uint64_t client_to_target_bytes_ = 0;
  uint64_t target_to_client_bytes_ = 0;
  int64_t last_activity_ms_ = 0;
  uint64_t client_to_target_budget_ = UINT64_MAX;
};

}  // namespace strait::net
