// Runs jobs in forked worker processes, a bounded number at a time.
//
// Why processes, not threads: the shared state (a KernelImage with libdw
// handles and lazily filled indexes) is not thread-safe, and a fork after
// the parent has indexed a vmlinux shares that index copy-on-write with
// every worker at no cost. A worker that crashes, hangs or runs out of
// memory on one bad dump costs that dump alone: the parent records why and
// goes on.
//
// The parent must be single-threaded when it runs the pool.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace vmc::cli {

struct JobOutcome {
  std::string output;                  // what the job returned
  std::optional<std::string> failure;  // why there is no output: a signal, a timeout, an exit without result
  bool timed_out = false;              // the failure is ForkPoolOptions::timeout_seconds running out
};

struct ForkPoolOptions {
  unsigned jobs = 1;
  unsigned timeout_seconds = 0;        // per job; 0: none
  size_t max_output = 64u << 20;       // a job's result beyond this is a failure
};

// Runs work(i) for every i in [0, n) in a child process (at most
// o.jobs at once) and calls done(i, outcome) in the parent as each one
// ends, in the order they end. work's return value is its output; it runs
// in the child, whose exit skips atexit handlers and stdio flushing.
void run_forked(size_t n, const ForkPoolOptions& o, const std::function<std::string(size_t)>& work,
                const std::function<void(size_t, JobOutcome)>& done);

}  // namespace vmc::cli
