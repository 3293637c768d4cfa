#include "net/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace strait::net {

int CreatePipe(bool non_blocking, size_t size, Pipe* pipe, size_t* capacity) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | (non_blocking ? O_NONBLOCK : 0)) != 0) {
    return -errno;
  }
  pipe->read_fd = fds[0];
  pipe->write_fd = fds[1];

  // F_SETPIPE_SZ fails with EPERM past fs.pipe-max-size or the user's pipe budget; the pipe then
  // keeps the default size, which still works, only with more splice calls per byte.
  int obtained = fcntl(pipe->write_fd, F_SETPIPE_SZ, static_cast<int>(size));
  if (obtained < 0) {
    obtained = fcntl(pipe->write_fd, F_GETPIPE_SZ);
  }
  *capacity = obtained > 0 ? static_cast<size_t>(obtained) : 65536;
  return 0;
}

void ClosePipe(Pipe& pipe) {
  if (pipe.read_fd >= 0) {
    close(pipe.read_fd);
  }
  if (pipe.write_fd >= 0) {
    close(pipe.write_fd);
  }
  pipe = Pipe{};
}

PipePool::PipePool(size_t pipe_size, size_t max_idle)
    : requested_size_(pipe_size), pipe_capacity_(pipe_size), max_idle_(max_idle) {
  idle_.reserve(max_idle);
}

PipePool::~PipePool() {
  for (Pipe& pipe : idle_) {
    ClosePipe(pipe);
  }
}

int PipePool::Create(Pipe* pipe) {
  size_t capacity = 0;
  int res = CreatePipe(/*non_blocking=*/true, requested_size_, pipe, &capacity);
  if (res < 0) {
    return res;
  }
  // Splices are sized by the smallest pipe the pool ever got, so a pipe the kernel shrank is
  // never asked for more than it holds.
  if (capacity < pipe_capacity_) {
    pipe_capacity_ = capacity;
  }
  ++created_;
  return 0;
}

int PipePool::Lease(Pipe* pipe) {
  if (!idle_.empty()) {
    *pipe = idle_.back();
    idle_.pop_back();
    ++leased_;
    return 0;
  }
  int res = Create(pipe);
  if (res == 0) {
    ++leased_;
  }
  return res;
}

void PipePool::Return(Pipe pipe) {
  --leased_;
  if (idle_.size() < max_idle_) {
    idle_.push_back(pipe);
    return;
  }
  ClosePipe(pipe);
}

void PipePool::Trim(size_t keep) {
  while (idle_.size() > keep) {
    ClosePipe(idle_.back());
    idle_.pop_back();
  }
}

void PipePool::Discard(Pipe pipe) {
  --leased_;
  ClosePipe(pipe);
}

}  // namespace strait::net
