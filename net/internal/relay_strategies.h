#pragma once

// The two relay strategies behind net/relay.h. Not API: create them with Relay::Create().

#include "net/relay.h"

namespace strait::net::internal {

// One direction of a tunnel: bytes read from `src_fd` are written to `dst_fd`.
struct DirectionEnds {
  int src_fd = -1;
  int dst_fd = -1;
  RelaySide src_side = RelaySide::kNone;
  RelaySide dst_side = RelaySide::kNone;
};

class PollSpliceRelay final : public Relay {
 public:
  PollSpliceRelay(const RelayEnvironment& env, int client_fd, int target_fd,
                  RelayObserver* observer);
  ~PollSpliceRelay() override;

  void Start() override;
  void Abort(bool reset_peers) override;

  // net::CompletionHandler
  void OnCompletion(unsigned tag, int32_t res, uint32_t flags) override;

 private:
  struct Direction {
    DirectionEnds ends;
    Pipe pipe;
    size_t bytes_in_pipe = 0;
    uint64_t read_budget = UINT64_MAX;  // bytes the source may still send through this direction
    bool src_eof = false;
    bool done = false;
    bool readable_armed = false;
    bool writable_armed = false;
    uint64_t* byte_counter = nullptr;
  };

  void Pump(int index);
  void ArmPoll(int index, bool writable);
  bool CopyWithoutPipe(int index);
  void Fail(RelaySide side, int error);
  void CancelArmedPolls();
  void MaybeFinish();

  RelayEnvironment env_;
  RelayObserver* observer_;
  Direction directions_[2];
  int in_flight_ = 0;
  bool finishing_ = false;
  bool finished_ = false;
  RelayOutcome outcome_;
};

class RingSpliceRelay final : public Relay {
 public:
  RingSpliceRelay(const RelayEnvironment& env, int client_fd, int target_fd,
                  RelayObserver* observer);
  ~RingSpliceRelay() override;

  void Start() override;
  void Abort(bool reset_peers) override;

  // net::CompletionHandler
  void OnCompletion(unsigned tag, int32_t res, uint32_t flags) override;

 private:
  struct Direction {
    DirectionEnds ends;
    Pipe pipe;
    size_t pipe_capacity = 0;
    size_t bytes_in_pipe = 0;
    uint64_t read_budget = UINT64_MAX;
    bool done = false;
    uint64_t* byte_counter = nullptr;
  };

  void SubmitSpliceIn(int index);
  void SubmitSpliceOut(int index);
  void Fail(RelaySide side, int error);
  void WakeBlockedSplices();
  void MaybeFinish();

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

}  // namespace strait::net::internal
