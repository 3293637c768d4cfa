#include "net/uring.h"

#include <cerrno>

#include "core/check.h"

namespace strait::net {
namespace {

constexpr uint64_t kNoHandler = 0;

}  // namespace

Ring::~Ring() {
  if (initialized_) {
    io_uring_queue_exit(&ring_);
  }
}

int Ring::Init(unsigned entries) {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                 IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = entries * 8;
  int res = io_uring_queue_init_params(entries, &ring_, &params);
  if (res == -EINVAL) {
    // Kernels before 6.1 know neither SINGLE_ISSUER nor DEFER_TASKRUN.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 8;
    res = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (res < 0) {
    return res;
  }
  initialized_ = true;
  return 0;
}

io_uring_sqe* Ring::NextSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  for (int attempt = 0; sqe == nullptr && attempt < 64; ++attempt) {
    // The submission queue is full: hand it to the kernel. With CQSIZE at 8x the SQ this only
    // fails when completions pile up unreaped, so reap nothing here; the caller's loop will.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  STRAIT_CHECK(sqe != nullptr);
  return sqe;
}

int Ring::SubmitAndWait(int64_t timeout_ns) {
  __kernel_timespec timeout{};
  timeout.tv_sec = timeout_ns / 1'000'000'000;
  timeout.tv_nsec = timeout_ns % 1'000'000'000;
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
}

int Ring::Submit() { return io_uring_submit(&ring_); }

unsigned Ring::DispatchCompletions() {
  unsigned count = 0;
  // Completions are handled one at a time and consumed before the handler runs, so a handler
  // that submits new work (or reaps) never sees a stale CQE.
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&ring_, &cqe) != 0 || cqe == nullptr) {
      break;
    }
    uint64_t user_data = cqe->user_data;
    int32_t res = cqe->res;
    uint32_t flags = cqe->flags;
    io_uring_cqe_seen(&ring_, cqe);
    ++count;

    if (user_data == kNoHandler) {
      continue;
    }
    auto* handler =
        reinterpret_cast<CompletionHandler*>(user_data & ~uint64_t{kCompletionTagLimit - 1});
    handler->OnCompletion(static_cast<unsigned>(user_data & (kCompletionTagLimit - 1)), res, flags);
  }
  return count;
}

void Ring::SetHandler(io_uring_sqe* sqe, CompletionHandler* handler, unsigned tag) {
  auto address = reinterpret_cast<uint64_t>(handler);
  STRAIT_DCHECK((address & (kCompletionTagLimit - 1)) == 0);
  STRAIT_DCHECK(tag < kCompletionTagLimit);
  io_uring_sqe_set_data64(sqe, address | tag);
}

void Ring::SetNoHandler(io_uring_sqe* sqe) { io_uring_sqe_set_data64(sqe, kNoHandler); }

}  // namespace strait::net
