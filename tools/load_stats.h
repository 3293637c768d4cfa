#pragma once

// Measurement helpers for strait_load: exact latency percentiles, and the /proc counters that
// say how busy each CPU was and what a proxy (with all its threads and child processes) spent
// in CPU, memory and file descriptors.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strait::load {

// Keeps every sample (nanoseconds) up to a cap, so percentiles are exact rather than bucketed.
// A bench run of a few seconds at tens of thousands of tunnels per second stays far below the
// cap; past it, later samples are counted but not kept.
class LatencySamples {
 public:
  static constexpr size_t kMaxSamples = 4'000'000;

  void Add(uint64_t ns);
  size_t count() const { return count_; }

  // The q-quantile (0 <= q <= 1) by nearest rank over the kept samples; 0 when empty. Sorts the
  // samples on first use after an Add.
  uint64_t Quantile(double q);

 private:
  std::vector<uint64_t> samples_;
  size_t count_ = 0;
  bool sorted_ = true;
};

// Jiffies of one CPU line of /proc/stat.
struct CpuTimes {
  uint64_t busy = 0;   // user + nice + system + irq + softirq + steal
  uint64_t total = 0;  // busy + idle + iowait
};

// Per-CPU lines of /proc/stat ("cpu0", "cpu1", ...), in order; empty on failure.
std::vector<CpuTimes> ReadCpuTimes();

// Busy percentage of each CPU between two readings of ReadCpuTimes().
std::vector<double> BusyPercent(const std::vector<CpuTimes>& before,
                                const std::vector<CpuTimes>& after);

// A process and every descendant, summed.
struct ProcessUsage {
  bool found = false;
  int processes = 0;
  int threads = 0;
  // utime + stime of each live process plus cutime + cstime (children already reaped), in
  // seconds. Counters only grow, so the difference of two readings is the CPU spent between them.
  double cpu_s = 0;
  uint64_t rss_bytes = 0;
  uint64_t fds = 0;
};

// Reads /proc for `pid` and all processes below it. `found` is false when `pid` is gone.
ProcessUsage ReadProcessTree(pid_t pid);

// Parses the fields after the command name of a /proc/<pid>/stat line (the text following the
// last ')'). Exposed for tests. False when the line is too short.
struct StatFields {
  pid_t ppid = 0;
  uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;  // clock ticks
  int64_t threads = 0;
  int64_t rss_pages = 0;
};
bool ParseStatLine(std::string_view line, StatFields* fields);

// Nanoseconds on CLOCK_MONOTONIC.
uint64_t NowNs();

}  // namespace strait::load
