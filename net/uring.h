#pragma once

// A thin owner of one io_uring instance, driven by exactly one thread (the shard).
//
// Completions are dispatched to a CompletionHandler whose address travels in the SQE's
// user_data, with a small operation tag in the low bits, so a handler can tell its operations
// apart without a lookup:
//
//   ring.PrepPollAdd(fd, POLLIN, &tunnel, kClientReadable);
//   ...
//   ring.DispatchCompletions();   // calls tunnel.OnCompletion(kClientReadable, res, flags)
//
// Handlers must be aligned to kCompletionTagLimit bytes and must stay alive until every operation
// they submitted has completed (closing an fd does not cancel an io_uring poll on it; cancel
// first, wait for the completions, then free).

#include <liburing.h>

#include <cstdint>

namespace strait::net {

inline constexpr unsigned kCompletionTagLimit = 16;

class CompletionHandler {
 public:
  // `res` is the CQE result: a count or -errno. `flags` are the CQE flags (IORING_CQE_F_MORE).
  virtual void OnCompletion(unsigned tag, int32_t res, uint32_t flags) = 0;

 protected:
  ~CompletionHandler() = default;
};

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  // Sets up a ring of `entries` submission slots and 8x that many completion slots, asking for
  // single-issuer, deferred task running where the kernel has it and falling back to plain
  // setup where it does not. Must be called from the thread that will drive the ring.
  // Returns 0 or -errno.
  int Init(unsigned entries);

  bool initialized() const { return initialized_; }

  // A free SQE, submitting queued ones first when the queue is full. Never null: if the kernel
  // cannot take more submissions the queue is flushed with a wait for one completion.
  io_uring_sqe* NextSqe();

  // Submit everything queued and wait for at least one completion or `timeout_ns`.
  // Returns the number submitted or -errno (-ETIME and -EINTR are normal).
  int SubmitAndWait(int64_t timeout_ns);

  // Submit everything queued without waiting. Returns the number submitted or -errno.
  int Submit();

  // Calls OnCompletion for every completion available now; returns how many.
  unsigned DispatchCompletions();

  // Attach a handler and tag to an SQE.
  static void SetHandler(io_uring_sqe* sqe, CompletionHandler* handler, unsigned tag);

  // Mark an SQE as one whose completion nobody wants (cancel requests and the like).
  static void SetNoHandler(io_uring_sqe* sqe);

  io_uring* raw() { return &ring_; }

 private:
  io_uring ring_{};
  bool initialized_ = false;
};

}  // namespace strait::net
