// The forked worker pool of triage: results come back, and a worker that
// crashes, hangs or floods costs its own job only.
#include <signal.h>
#include <unistd.h>

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "cli/fork_pool.h"

namespace vmc::cli {
namespace {

TEST(ForkPool, EveryJobReturnsItsOutput) {
  ForkPoolOptions o;
  o.jobs = 3;
  std::map<size_t, std::string> got;
  std::set<pid_t> pids;
  run_forked(
      10, o, [](size_t i) { return std::to_string(i * i) + ":" + std::to_string(::getpid()); },
      [&](size_t i, JobOutcome out) {
        ASSERT_FALSE(out.failure) << *out.failure;
        auto colon = out.output.find(':');
        got[i] = out.output.substr(0, colon);
        pids.insert(pid_t(std::stol(out.output.substr(colon + 1))));
      });
  ASSERT_EQ(got.size(), 10u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(got[i], std::to_string(i * i));
  EXPECT_EQ(pids.size(), 10u) << "one process per job";
  EXPECT_EQ(pids.count(::getpid()), 0u) << "jobs run in children";
}

TEST(ForkPool, ACrashOrAHangCostsOnlyItsJob) {
  ForkPoolOptions o;
  o.jobs = 2;
  o.timeout_seconds = 1;
  std::map<size_t, JobOutcome> got;
  run_forked(
      4, o,
      [](size_t i) -> std::string {
        if (i == 1) ::raise(SIGABRT);  // (ASan would turn a SIGSEGV into an exit status)
        if (i == 2) ::sleep(30);
        if (i == 3) ::_exit(5);
        return "fine";
      },
      [&](size_t i, JobOutcome out) { got[i] = std::move(out); });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].output, "fine");
  EXPECT_FALSE(got[0].failure);
  ASSERT_TRUE(got[1].failure);
  EXPECT_NE(got[1].failure->find("signal 6"), std::string::npos) << *got[1].failure;
  ASSERT_TRUE(got[2].failure);
  EXPECT_NE(got[2].failure->find("did not finish within 1 s"), std::string::npos) << *got[2].failure;
  EXPECT_TRUE(got[2].timed_out);
  EXPECT_FALSE(got[1].timed_out);
  ASSERT_TRUE(got[3].failure);
  EXPECT_NE(got[3].failure->find("status 5"), std::string::npos) << *got[3].failure;
}

TEST(ForkPool, OutputLargerThanTheLimitIsAFailure) {
  ForkPoolOptions o;
  o.max_output = 1 << 20;
  std::optional<JobOutcome> got;
  run_forked(
      1, o, [](size_t) { return std::string(4 << 20, 'x'); }, [&](size_t, JobOutcome out) { got = std::move(out); });
  ASSERT_TRUE(got && got->failure);
  EXPECT_NE(got->failure->find("exceeds"), std::string::npos);
}

TEST(ForkPool, LargeOutputArrivesWhole) {
  ForkPoolOptions o;
  o.jobs = 2;
  std::map<size_t, size_t> sizes;
  run_forked(
      3, o, [](size_t i) { return std::string((i + 1) * 3'000'000, char('a' + i)); },
      [&](size_t i, JobOutcome out) {
        ASSERT_FALSE(out.failure);
        sizes[i] = out.output.size();
        EXPECT_EQ(out.output.find_first_not_of(char('a' + i)), std::string::npos);
      });
  EXPECT_EQ(sizes[0], 3'000'000u);
  EXPECT_EQ(sizes[2], 9'000'000u);
}

}  // namespace
}  // namespace vmc::cli
