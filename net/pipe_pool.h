#pragma once

// A per-shard pool of splice pipes. A tunnel leases a pipe only while bytes sit in it and gives
// it back as soon as it is empty, so idle tunnels hold no pipe at all: with the kernel's
// per-user pipe budget (fs.pipe-user-pages-soft, 64 MiB for non-root users) a pipe per idle
// tunnel would run out after about a thousand tunnels.
//
// Not thread-safe: one pool per shard, used by that shard's thread only.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace strait::net {

struct Pipe {
  int read_fd = -1;
  int write_fd = -1;

  bool valid() const { return read_fd >= 0; }
};

class PipePool {
 public:
  // `pipe_size` is asked of the kernel with F_SETPIPE_SZ (capped by fs.pipe-max-size); the pool
  // keeps at most `max_idle` empty pipes and closes the rest.
  PipePool(size_t pipe_size, size_t max_idle);
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;
  ~PipePool();

  // Hands out an empty non-blocking pipe. Returns 0 or -errno (EMFILE/ENFILE when out of fds).
  int Lease(Pipe* pipe);

  // Takes back a pipe that holds no bytes.
  void Return(Pipe pipe);

  // Closes a pipe that may still hold bytes (its tunnel failed).
  void Discard(Pipe pipe);

  // Closes idle pipes down to `keep`, giving their descriptors back (when the process runs out).
  void Trim(size_t keep);

  // Bytes a pipe of this pool holds when full: what one splice into it may move.
  size_t pipe_capacity() const { return pipe_capacity_; }

  size_t idle() const { return idle_.size(); }
  size_t leased() const { return leased_; }
  uint64_t created() const { return created_; }

 private:
  int Create(Pipe* pipe);

  size_t requested_size_;
  size_t pipe_capacity_;
  size_t max_idle_;
  size_t leased_ = 0;
  uint64_t created_ = 0;
  std::vector<Pipe> idle_;
};

// Creates a pipe outside any pool, blocking or not, sized as close to `size` as the kernel
// allows. Returns 0 or -errno; *capacity receives the size obtained.
int CreatePipe(bool non_blocking, size_t size, Pipe* pipe, size_t* capacity);

void ClosePipe(Pipe& pipe);

}  // namespace strait::net
