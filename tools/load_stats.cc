#include "tools/load_stats.h"

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "fmt/format.h"

namespace strait::load {

void LatencySamples::Add(uint64_t ns) {
  ++count_;
  if (samples_.size() < kMaxSamples) {
    samples_.push_back(ns);
    sorted_ = false;
  }
}

uint64_t LatencySamples::Quantile(double q) {
  if (samples_.empty()) {
    return 0;
  }
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples_.size())));
  return samples_[rank == 0 ? 0 : rank - 1];
}

std::vector<CpuTimes> ReadCpuTimes() {
  std::vector<CpuTimes> cpus;
  std::ifstream file("/proc/stat");
  std::string line;
  while (std::getline(file, line)) {
    if (line.size() < 4 || line.compare(0, 3, "cpu") != 0 || line[3] < '0' || line[3] > '9') {
      continue;
    }
    std::istringstream fields(line);
    std::string name;
    uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    fields >> name >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    CpuTimes times;
    times.busy = user + nice + system + irq + softirq + steal;
    times.total = times.busy + idle + iowait;
    cpus.push_back(times);
  }
  return cpus;
}

std::vector<double> BusyPercent(const std::vector<CpuTimes>& before,
                                const std::vector<CpuTimes>& after) {
  std::vector<double> percent;
  for (size_t i = 0; i < before.size() && i < after.size(); ++i) {
    uint64_t total = after[i].total - before[i].total;
    uint64_t busy = after[i].busy - before[i].busy;
    percent.push_back(total == 0 ? 0.0 : 100.0 * static_cast<double>(busy) / total);
  }
  return percent;
}

bool ParseStatLine(std::string_view line, StatFields* fields) {
  size_t close = line.rfind(')');
  if (close == std::string_view::npos) {
    return false;
  }
  // After ')': field 3 (state) onwards, space separated. proc(5) numbers fields from 1 (pid).
  std::vector<std::string_view> parts;
  std::string_view rest = line.substr(close + 1);
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(start);
    size_t end = rest.find(' ');
    parts.push_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  auto field = [&](int number, auto* out) {
    std::string_view text = parts[number - 3];
    return std::from_chars(text.data(), text.data() + text.size(), *out).ec == std::errc();
  };
  if (parts.size() < 22) {  // up to field 24 (rss)
    return false;
  }
  return field(4, &fields->ppid) && field(14, &fields->utime) && field(15, &fields->stime) &&
         field(16, &fields->cutime) && field(17, &fields->cstime) && field(20, &fields->threads) &&
         field(24, &fields->rss_pages);
}

namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

uint64_t CountFds(pid_t pid) {
  DIR* dir = opendir(fmt::format("/proc/{}/fd", pid).c_str());
  if (dir == nullptr) {
    return 0;
  }
  uint64_t count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') {
      ++count;
    }
  }
  closedir(dir);
  return count;
}

}  // namespace

ProcessUsage ReadProcessTree(pid_t root) {
  // One pass over /proc builds the parent map; the tree is then walked from `root`.
  std::map<pid_t, StatFields> processes;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return ProcessUsage();
  }
  while (dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    std::string_view name = entry->d_name;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc()) {
      continue;
    }
    StatFields fields;
    if (ParseStatLine(ReadSmallFile(fmt::format("/proc/{}/stat", pid)), &fields)) {
      processes[pid] = fields;
    }
  }
  closedir(proc);

  ProcessUsage usage;
  if (processes.find(root) == processes.end()) {
    return usage;
  }
  usage.found = true;
  const double ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
  const uint64_t page_bytes = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::vector<pid_t> pending = {root};
  // Bounded: each pid is visited once (the parent relation is a tree).
  while (!pending.empty()) {
    pid_t pid = pending.back();
    pending.pop_back();
    const StatFields& fields = processes[pid];
    usage.processes += 1;
    usage.threads += static_cast<int>(fields.threads);
    usage.cpu_s +=
        static_cast<double>(fields.utime + fields.stime + fields.cutime + fields.cstime) /
        ticks_per_s;
    usage.rss_bytes += static_cast<uint64_t>(std::max<int64_t>(fields.rss_pages, 0)) * page_bytes;
    usage.fds += CountFds(pid);
    for (const auto& [child, child_fields] : processes) {
      if (child_fields.ppid == pid && child != pid) {
        pending.push_back(child);
      }
    }
  }
  return usage;
}

uint64_t NowNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace strait::load
