#include "tools/load_stats.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace strait::load {
namespace {

TEST(LatencySamples, ReportsNearestRankQuantiles) {
  LatencySamples samples;
  EXPECT_EQ(samples.Quantile(0.5), 0u);
  for (uint64_t v = 100; v >= 1; --v) {  // added out of order on purpose
    samples.Add(v);
  }
  EXPECT_EQ(samples.count(), 100u);
  EXPECT_EQ(samples.Quantile(0.5), 50u);
  EXPECT_EQ(samples.Quantile(0.9), 90u);
  EXPECT_EQ(samples.Quantile(0.99), 99u);
  EXPECT_EQ(samples.Quantile(0.999), 100u);
  EXPECT_EQ(samples.Quantile(0), 1u);
  samples.Add(1000);  // a later sample re-sorts
  EXPECT_EQ(samples.Quantile(1), 1000u);
}

TEST(StatLine, ParsesFieldsAfterACommandNameWithSpacesAndParens) {
  // Fields 1..24 of proc(5): pid (comm) state ppid ... utime(14) stime cutime cstime ...
  // num_threads(20) ... rss(24).
  std::string line =
      "4242 (odd) name (x)) S 7 4242 4242 0 -1 4194560 100 0 0 0 "
      "250 50 10 5 20 0 3 0 12345 1000000 77 18446744073709551615";
  StatFields fields;
  ASSERT_TRUE(ParseStatLine(line, &fields));
  EXPECT_EQ(fields.ppid, 7);
  EXPECT_EQ(fields.utime, 250u);
  EXPECT_EQ(fields.stime, 50u);
  EXPECT_EQ(fields.cutime, 10u);
  EXPECT_EQ(fields.cstime, 5u);
  EXPECT_EQ(fields.threads, 3);
  EXPECT_EQ(fields.rss_pages, 77);
  EXPECT_FALSE(ParseStatLine("4242 (short) S 1 2 3", &fields));
  EXPECT_FALSE(ParseStatLine("no parenthesis", &fields));
}

TEST(ProcessTree, CountsTheCallerAndItsChildren) {
  ProcessUsage alone = ReadProcessTree(getpid());
  ASSERT_TRUE(alone.found);
  EXPECT_GE(alone.processes, 1);
  EXPECT_GE(alone.threads, 1);
  EXPECT_GT(alone.rss_bytes, 0u);
  EXPECT_GE(alone.fds, 3u);

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sleep(10);  // killed below; bounded if the parent dies first
    _exit(0);
  }
  ProcessUsage with_child = ReadProcessTree(getpid());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(with_child.processes, alone.processes + 1);
  EXPECT_FALSE(ReadProcessTree(child).found);
}

TEST(CpuTimes, ReadsOneLinePerCpuAndBoundsBusyShare) {
  std::vector<CpuTimes> before = ReadCpuTimes();
  ASSERT_EQ(before.size(), static_cast<size_t>(sysconf(_SC_NPROCESSORS_ONLN)));
  volatile uint64_t spin = 0;
  for (uint64_t i = 0; i < 20'000'000; ++i) {
    spin = spin + i;
  }
  std::vector<CpuTimes> after = ReadCpuTimes();
  for (double busy : BusyPercent(before, after)) {
    EXPECT_GE(busy, 0.0);
    EXPECT_LE(busy, 100.0);
  }
}

}  // namespace
}  // namespace strait::load
