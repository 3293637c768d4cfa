#pragma once

// The two relay strategies behind net/relay.h. Not API: create them with Relay::Create().

#include <algorithm>
#include <cstdint>

#include "net/relay.h"

namespace strait::net::internal {

// What both strategies track for one direction: bytes read from `src_fd` go to `dst_fd`.
struct DirectionState {
  int src_fd = -1;
  int dst_fd = -1;
  RelaySide src_side = RelaySide::kNone;
  RelaySide dst_side = RelaySide::kNone;
  Pipe pipe;
  size_t bytes_in_pipe = 0;
  uint64_t read_budget = UINT64_MAX;  // bytes the source may still send this way
  bool done = false;
  uint64_t* byte_counter = nullptr;
};

// The bookkeeping both strategies share: the two directions (0 client -> target, 1 target ->
// client), the count of operations on the ring, and the single report to the observer.
template <typename Direction>
class RelayBase : public Relay {
 protected:
  RelayBase(const RelayEnvironment& env, int client_fd, int target_fd, RelayObserver* observer)
      : env_(env), observer_(observer), client_fd_(client_fd), target_fd_(target_fd) {
    Direction& up = directions_[0];
    up.src_fd = client_fd;
    up.dst_fd = target_fd;
    up.src_side = RelaySide::kClient;
    up.dst_side = RelaySide::kTarget;
    up.byte_counter = &client_to_target_bytes_;
    Direction& down = directions_[1];
    down.src_fd = target_fd;
    down.dst_fd = client_fd;
    down.src_side = RelaySide::kTarget;
    down.dst_side = RelaySide::kClient;
    down.byte_counter = &target_to_client_bytes_;
  }

  // Reports the end once: when it is ending (failure, abort) or both directions are done, and
  // only after every submitted operation has come back.
  void MaybeFinish() {
    if (finished_ || in_flight_ > 0) {
      return;
    }
    if (!finishing_ && !(directions_[0].done && directions_[1].done)) {
      return;
    }
    finished_ = true;
    observer_->OnRelayFinished(outcome_);
  }

  // Bytes one read into the pipe may take: the pipe's capacity within the direction's budget.
  static size_t ReadLength(const Direction& direction, size_t capacity) {
    return static_cast<size_t>(std::min<uint64_t>(capacity, direction.read_budget));
  }

  static void ChargeBudget(Direction& direction, uint64_t bytes) {
    if (direction.read_budget != UINT64_MAX) {
      direction.read_budget -= bytes;
    }
  }

  RelayEnvironment env_;
  RelayObserver* observer_;
  int client_fd_;
  int target_fd_;
  Direction directions_[2];
  int in_flight_ = 0;
  bool finishing_ = false;
  bool finished_ = false;
  RelayOutcome outcome_;
};

struct PollDirection : DirectionState {
  bool src_eof = false;
  bool readable_armed = false;
  bool writable_armed = false;
};

class PollSpliceRelay final : public RelayBase<PollDirection> {
 public:
  PollSpliceRelay(const RelayEnvironment& env, int client_fd, int target_fd,
                  RelayObserver* observer)
      : RelayBase(env, client_fd, target_fd, observer) {}
  ~PollSpliceRelay() override;

  void Start() override;
  void Abort(bool reset_peers) override;

  // net::CompletionHandler
  void OnCompletion(unsigned tag, int32_t res, uint32_t flags) override;

 private:
  void Pump(int index);
  void ArmPoll(int index, bool writable);
  bool CopyWithoutPipe(int index);
  void Fail(RelaySide side, int error);
  void CancelArmedPolls();
};

struct RingDirection : DirectionState {
  size_t pipe_capacity = 0;
};

class RingSpliceRelay final : public RelayBase<RingDirection> {
 public:
  RingSpliceRelay(const RelayEnvironment& env, int client_fd, int target_fd,
                  RelayObserver* observer)
      : RelayBase(env, client_fd, target_fd, observer) {}
  ~RingSpliceRelay() override;

  void Start() override;
  void Abort(bool reset_peers) override;

  // net::CompletionHandler
  void OnCompletion(unsigned tag, int32_t res, uint32_t flags) override;

 private:
  void SubmitSpliceIn(int index);
  void SubmitSpliceOut(int index);
  void Fail(RelaySide side, int error);
  void WakeBlockedSplices();
};

}  // namespace strait::net::internal
