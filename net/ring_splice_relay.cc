// kRingSplice: io_uring's IORING_OP_SPLICE for both legs of both directions.
//
// The kernel never poll-arms a splice request: it always hands it to an io-wq worker thread,
// which blocks in the splice. With non-blocking sockets that would turn into a busy loop of
// -EAGAIN completions, so this strategy switches both sockets to blocking mode and gives each
// direction a blocking pipe of its own. Each direction runs one request at a time:
// socket -> pipe, then pipe -> socket until the pipe is empty, then the next read.
//
// Ending early: a worker blocked in a splice is woken neither by closing the fd nor by
// cancelling the request (measured: IORING_ASYNC_CANCEL_ALL on the fd left a blocked socket
// read in place). shutdown(2) does wake it; see WakeBlockedSplices().

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "core/check.h"
#include "net/internal/relay_strategies.h"
#include "net/socket.h"

namespace strait::net::internal {
namespace {

// Tags: direction index * 2 + (0 socket -> pipe, 1 pipe -> socket).
constexpr unsigned kTagsPerDirection = 2;

}  // namespace

RingSpliceRelay::RingSpliceRelay(const RelayEnvironment& env, int client_fd, int target_fd,
                                 RelayObserver* observer)
    : env_(env), observer_(observer), client_fd_(client_fd), target_fd_(target_fd) {
  directions_[0].ends = {client_fd, target_fd, RelaySide::kClient, RelaySide::kTarget};
  directions_[0].byte_counter = &client_to_target_bytes_;
  directions_[1].ends = {target_fd, client_fd, RelaySide::kTarget, RelaySide::kClient};
  directions_[1].byte_counter = &target_to_client_bytes_;
}

RingSpliceRelay::~RingSpliceRelay() {
  STRAIT_DCHECK(in_flight_ == 0);
  for (Direction& direction : directions_) {
    ClosePipe(direction.pipe);
  }
}

void RingSpliceRelay::Start() {
  last_activity_ms_ = *env_.now_ms;
  directions_[0].read_budget = client_to_target_budget_;
  for (int index = 0; index < 2; ++index) {
    Direction& direction = directions_[index];
    int res = CreatePipe(/*non_blocking=*/false, env_.ring_pipe_size, &direction.pipe,
                         &direction.pipe_capacity);
    if (res < 0) {
      Fail(RelaySide::kInternal, res);
      return;
    }
  }
  int res = SetNonBlocking(client_fd_, false);
  if (res == 0) {
    res = SetNonBlocking(target_fd_, false);
  }
  if (res < 0) {
    Fail(RelaySide::kInternal, res);
    return;
  }
  SubmitSpliceIn(0);
  SubmitSpliceIn(1);
}

void RingSpliceRelay::Abort(bool reset_peers) {
  if (finishing_) {
    return;
  }
  outcome_.aborted = true;
  if (reset_peers) {
    SetLingerZero(client_fd_);
    SetLingerZero(target_fd_);
  }
  Fail(RelaySide::kNone, 0);
}

void RingSpliceRelay::SubmitSpliceIn(int index) {
  Direction& direction = directions_[index];
  if (direction.read_budget == 0) {
    // All this direction may carry is forwarded: stop reading, pass no FIN on.
    direction.done = true;
    MaybeFinish();
    return;
  }
  size_t wanted =
      static_cast<size_t>(std::min<uint64_t>(direction.pipe_capacity, direction.read_budget));
  io_uring_sqe* sqe = env_.ring->NextSqe();
  io_uring_prep_splice(sqe, direction.ends.src_fd, -1, direction.pipe.write_fd, -1,
                       static_cast<unsigned>(wanted), SPLICE_F_MOVE);
  Ring::SetHandler(sqe, this, static_cast<unsigned>(index) * kTagsPerDirection);
  ++in_flight_;
}

void RingSpliceRelay::SubmitSpliceOut(int index) {
  Direction& direction = directions_[index];
  io_uring_sqe* sqe = env_.ring->NextSqe();
  io_uring_prep_splice(sqe, direction.pipe.read_fd, -1, direction.ends.dst_fd, -1,
                       static_cast<unsigned>(direction.bytes_in_pipe), SPLICE_F_MOVE);
  Ring::SetHandler(sqe, this, static_cast<unsigned>(index) * kTagsPerDirection + 1);
  ++in_flight_;
}

void RingSpliceRelay::OnCompletion(unsigned tag, int32_t res, uint32_t /*flags*/) {
  --in_flight_;
  int index = static_cast<int>(tag / kTagsPerDirection);
  bool was_write = tag % kTagsPerDirection == 1;
  Direction& direction = directions_[index];

  if (finishing_) {
    MaybeFinish();
    return;
  }
  last_activity_ms_ = *env_.now_ms;

  if (res < 0) {
    Fail(was_write ? direction.ends.dst_side : direction.ends.src_side, res);
    return;
  }

  if (was_write) {
    if (res == 0) {
      // A zero-byte write of a non-empty pipe would repeat forever.
      Fail(RelaySide::kInternal, -EIO);
      return;
    }
    direction.bytes_in_pipe -= static_cast<size_t>(res);
    *direction.byte_counter += static_cast<uint64_t>(res);
    if (direction.bytes_in_pipe > 0) {
      SubmitSpliceOut(index);
    } else {
      SubmitSpliceIn(index);
    }
    return;
  }

  if (res == 0) {
    if (shutdown(direction.ends.dst_fd, SHUT_WR) != 0 && errno != ENOTCONN) {
      Fail(direction.ends.dst_side, -errno);
      return;
    }
    direction.done = true;
    MaybeFinish();
    return;
  }
  direction.bytes_in_pipe = static_cast<size_t>(res);
  if (direction.read_budget != UINT64_MAX) {
    direction.read_budget -= static_cast<uint64_t>(res);
  }
  SubmitSpliceOut(index);
}

void RingSpliceRelay::Fail(RelaySide side, int error) {
  if (finishing_) {
    return;
  }
  finishing_ = true;
  outcome_.failed_side = side;
  outcome_.error = error;

  if (error == -ECONNRESET || error == -EPIPE) {
    SetLingerZero(side == RelaySide::kClient ? target_fd_ : client_fd_);
  }
  WakeBlockedSplices();
  MaybeFinish();
}

// SHUT_RD wakes a blocked read (it returns 0) and sends nothing to the peer. A blocked write
// needs SHUT_WR, which queues a FIN behind the unsent bytes; on a reset path the socket already
// has SO_LINGER 0, so its close() discards that queue and sends a reset instead.
void RingSpliceRelay::WakeBlockedSplices() {
  for (const Direction& direction : directions_) {
    shutdown(direction.ends.src_fd, SHUT_RD);
    if (direction.bytes_in_pipe > 0) {
      shutdown(direction.ends.dst_fd, SHUT_WR);
    }
  }
}

void RingSpliceRelay::MaybeFinish() {
  if (finished_ || in_flight_ > 0) {
    return;
  }
  if (!finishing_ && !(directions_[0].done && directions_[1].done)) {
    return;
  }
  finished_ = true;
  observer_->OnRelayFinished(outcome_);
}

}  // namespace strait::net::internal
