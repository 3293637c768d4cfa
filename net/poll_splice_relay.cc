// kPollSplice: readiness on the ring, splice(2) inline on the shard thread.
//
// Per direction the pipe is only ever read into while empty. A non-blocking splice from a socket
// into a pipe answers EAGAIN both when the socket has nothing and when the pipe is full, and the
// pipe fills by page slots, not bytes (partial pages from the socket), so "empty" is the only
// state in which EAGAIN tells the socket's side unambiguously.
//
// TODO: with both directions busy at once the relay spends ~1.6x HAProxy's CPU per GB at the
// same 256 KiB pipes (one way it matches HAProxy; bench/README.md). TCP_NODELAY is not the
// cause; 1 MiB pipes narrow it (15.2 Gbit/s at 0.41 CPU-s/GB against HAProxy's 20.7 at 0.38).
// The next thing to try is one multishot poll per socket instead of a one-shot poll re-armed
// per blocked direction, which is closest to HAProxy's edge-triggered epoll.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "core/check.h"
#include "net/internal/relay_strategies.h"
#include "net/socket.h"

namespace strait::net::internal {
namespace {

// Tags: direction index * 2 + (0 readable, 1 writable).
constexpr unsigned kTagsPerDirection = 2;

// Work done for one direction before yielding to other tunnels of the shard. A poll armed on a
// socket that is still ready completes at once, so yielding costs one loop turn, not a stall.
constexpr int kMaxSplicesPerPump = 32;

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

int SpliceOnce(int in_fd, int out_fd, size_t length) {
  ssize_t n = splice(in_fd, nullptr, out_fd, nullptr, length, kSpliceFlags);
  return n >= 0 ? static_cast<int>(n) : -errno;
}

}  // namespace

PollSpliceRelay::~PollSpliceRelay() {
  STRAIT_DCHECK(in_flight_ == 0);
  for (auto& direction : directions_) {
    if (direction.pipe.valid()) {
      env_.pipes->Discard(direction.pipe);
    }
  }
}

void PollSpliceRelay::Start() {
  last_activity_ms_ = *env_.now_ms;
  directions_[0].read_budget = client_to_target_budget_;
  Pump(0);
  Pump(1);
}

void PollSpliceRelay::Abort(bool reset_peers) {
  if (finishing_) {
    return;
  }
  finishing_ = true;
  outcome_.aborted = true;
  if (reset_peers) {
    SetLingerZero(directions_[0].src_fd);
    SetLingerZero(directions_[0].dst_fd);
  }
  CancelArmedPolls();
  MaybeFinish();
}

void PollSpliceRelay::OnCompletion(unsigned tag, int32_t res, uint32_t /*flags*/) {
  int index = static_cast<int>(tag / kTagsPerDirection);
  auto& direction = directions_[index];
  if (tag % kTagsPerDirection == 0) {
    direction.readable_armed = false;
  } else {
    direction.writable_armed = false;
  }
  --in_flight_;

  if (finishing_) {
    MaybeFinish();
    return;
  }
  if (res < 0 && res != -ECANCELED) {
    // The poll itself failed (not readiness with POLLERR, which splice reports below).
    Fail(RelaySide::kInternal, res);
    return;
  }
  Pump(index);
}

// Moves bytes for one direction until a socket would block, the source ends, or the per-pump
// budget is spent; then arms the one poll that will resume it.
void PollSpliceRelay::Pump(int index) {
  auto& direction = directions_[index];
  if (finishing_ || direction.done) {
    return;
  }
  last_activity_ms_ = *env_.now_ms;

  for (int round = 0; round < kMaxSplicesPerPump; ++round) {
    if (direction.bytes_in_pipe > 0) {
      int written = SpliceOnce(direction.pipe.read_fd, direction.dst_fd, direction.bytes_in_pipe);
      if (written == -EAGAIN) {
        // Backpressure: the source is not read again until the destination drains.
        ArmPoll(index, /*writable=*/true);
        return;
      }
      if (written < 0) {
        Fail(direction.dst_side, written);
        return;
      }
      direction.bytes_in_pipe -= static_cast<size_t>(written);
      *direction.byte_counter += static_cast<uint64_t>(written);
      continue;
    }

    if (direction.pipe.valid()) {
      env_.pipes->Return(direction.pipe);
      direction.pipe = Pipe{};
    }

    if (direction.read_budget == 0) {
      // Everything this direction may carry has been forwarded; the source is not read again
      // and no FIN is passed on (the target is still answering).
      direction.done = true;
      MaybeFinish();
      return;
    }
    if (direction.src_eof) {
      // Pass the half-close on; the other direction may still carry the answer.
      if (shutdown(direction.dst_fd, SHUT_WR) != 0 && errno != ENOTCONN) {
        Fail(direction.dst_side, -errno);
        return;
      }
      direction.done = true;
      MaybeFinish();
      return;
    }

    int leased = env_.pipes->Lease(&direction.pipe);
    if (leased == -EMFILE || leased == -ENFILE) {
      // No descriptor for a pipe: move this round through the shard's copy buffer instead, so
      // running out of descriptors slows established tunnels but never stalls or ends them.
      direction.pipe = Pipe{};
      if (!CopyWithoutPipe(index)) {
        return;
      }
      continue;
    }
    if (leased < 0) {
      Fail(RelaySide::kInternal, leased);
      return;
    }
    size_t wanted = ReadLength(direction, env_.pipes->pipe_capacity());
    int read = SpliceOnce(direction.src_fd, direction.pipe.write_fd, wanted);
    if (read == -EAGAIN) {
      env_.pipes->Return(direction.pipe);
      direction.pipe = Pipe{};
      ArmPoll(index, /*writable=*/false);
      return;
    }
    if (read < 0) {
      Fail(direction.src_side, read);
      return;
    }
    if (read == 0) {
      direction.src_eof = true;
      continue;
    }
    direction.bytes_in_pipe = static_cast<size_t>(read);
    ChargeBudget(direction, static_cast<uint64_t>(read));
  }

  ArmPoll(index, /*writable=*/direction.bytes_in_pipe > 0);
}

// One round of the descriptor-free path: peek at the source, send what the destination takes,
// then drop exactly that much from the source. Returns true when the pump may go on (bytes moved
// or the source ended), false when it armed a poll or failed the relay.
bool PollSpliceRelay::CopyWithoutPipe(int index) {
  auto& direction = directions_[index];
  ssize_t peeked =
      recv(direction.src_fd, env_.copy_buffer, env_.copy_buffer_size, MSG_PEEK | MSG_DONTWAIT);
  if (peeked < 0) {
    if (errno == EAGAIN) {
      ArmPoll(index, /*writable=*/false);
    } else {
      Fail(direction.src_side, -errno);
    }
    return false;
  }
  if (peeked == 0) {
    direction.src_eof = true;
    return true;
  }

  ssize_t sent = send(direction.dst_fd, env_.copy_buffer, static_cast<size_t>(peeked),
                      MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno == EAGAIN) {
      ArmPoll(index, /*writable=*/true);
    } else {
      Fail(direction.dst_side, -errno);
    }
    return false;
  }
  // MSG_TRUNC on a TCP socket discards the bytes instead of copying them out.
  recv(direction.src_fd, env_.copy_buffer, static_cast<size_t>(sent), MSG_TRUNC | MSG_DONTWAIT);
  *direction.byte_counter += static_cast<uint64_t>(sent);
  ChargeBudget(direction, static_cast<uint64_t>(sent));
  return true;
}

void PollSpliceRelay::ArmPoll(int index, bool writable) {
  auto& direction = directions_[index];
  bool& armed = writable ? direction.writable_armed : direction.readable_armed;
  if (armed) {
    return;
  }
  int fd = writable ? direction.dst_fd : direction.src_fd;
  io_uring_sqe* sqe = env_.ring->NextSqe();
  io_uring_prep_poll_add(sqe, fd, writable ? POLLOUT : POLLIN);
  Ring::SetHandler(sqe, this, static_cast<unsigned>(index) * kTagsPerDirection + writable);
  armed = true;
  ++in_flight_;
}

void PollSpliceRelay::Fail(RelaySide side, int error) {
  if (finishing_) {
    return;
  }
  finishing_ = true;
  outcome_.failed_side = side;
  outcome_.error = error;

  // A reset from one peer is passed on as a reset to the other, not as a clean close that
  // would make a truncated transfer look complete.
  if (error == -ECONNRESET || error == -EPIPE) {
    int other_fd = side == RelaySide::kClient ? directions_[0].dst_fd : directions_[0].src_fd;
    SetLingerZero(other_fd);
  }
  CancelArmedPolls();
  MaybeFinish();
}

void PollSpliceRelay::CancelArmedPolls() {
  for (int index = 0; index < 2; ++index) {
    const auto& direction = directions_[index];
    for (bool writable : {false, true}) {
      bool armed = writable ? direction.writable_armed : direction.readable_armed;
      if (!armed) {
        continue;
      }
      uint64_t user_data = reinterpret_cast<uint64_t>(static_cast<CompletionHandler*>(this)) |
                           (static_cast<unsigned>(index) * kTagsPerDirection + writable);
      io_uring_sqe* sqe = env_.ring->NextSqe();
      io_uring_prep_cancel64(sqe, user_data, 0);
      Ring::SetNoHandler(sqe);
    }
  }
}

}  // namespace strait::net::internal
