#include "cli/fork_pool.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace vmc::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  pid_t pid = -1;
  int fd = -1;
  size_t index = 0;
  std::string out;
  Clock::time_point deadline;
  std::optional<std::string> failure;  // set when the parent gave up on it
  bool timed_out = false;
};

// In the child: write everything, then leave without running the
// parent's atexit handlers or flushing its stdio buffers.
[[noreturn]] void child_main(int fd, size_t i, const std::function<std::string(size_t)>& work) {
  int status = 0;
  try {
    std::string s = work(i);
    const char* p = s.data();
    size_t left = s.size();
    while (left > 0) {
      ssize_t w = ::write(fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        status = 2;
        break;
      }
      p += w;
      left -= size_t(w);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmcore-args: internal error in a worker: %s\n", e.what());
    status = 70;
  } catch (...) {
    status = 70;
  }
  ::close(fd);
  ::_exit(status);
}

std::string describe_status(int st) {
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    const char* name = strsignal(sig);
    return fmt::format("the worker analysing it died of signal {} ({}){}", sig, name ? name : "?",
                       sig == SIGKILL ? "" : ": a bug in vmcore-args");
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 70) return "the worker analysing it hit an internal error (a bug in vmcore-args)";
  if (WIFEXITED(st)) return fmt::format("the worker analysing it exited with status {} without a result", WEXITSTATUS(st));
  return "the worker analysing it ended without a result";
}

void reap(Running& r, const std::function<void(size_t, JobOutcome)>& done) {
  if (r.fd >= 0) ::close(r.fd);
  r.fd = -1;
  int st = 0;
  while (::waitpid(r.pid, &st, 0) < 0 && errno == EINTR) {
  }
  JobOutcome o;
  if (r.failure) {
    o.failure = r.failure;
    o.timed_out = r.timed_out;
  } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !r.out.empty()) {
    o.output = std::move(r.out);
  } else {
    o.failure = describe_status(st);
  }
  done(r.index, std::move(o));
}

}  // namespace

void run_forked(size_t n, const ForkPoolOptions& o, const std::function<std::string(size_t)>& work,
                const std::function<void(size_t, JobOutcome)>& done) {
  const unsigned jobs = o.jobs ? o.jobs : 1;
  std::vector<Running> run;
  size_t next = 0;
  while (next < n || !run.empty()) {
    while (next < n && run.size() < jobs) {
      size_t i = next++;
      int p[2];
      if (::pipe(p) != 0) {
        done(i, {"", fmt::format("cannot start a worker: pipe: {}", std::strerror(errno))});
        continue;
      }
      std::fflush(stdout);
      std::fflush(stderr);
      pid_t pid = ::fork();
      if (pid < 0) {
        int e = errno;
        ::close(p[0]);
        ::close(p[1]);
        done(i, {"", fmt::format("cannot start a worker: fork: {}", std::strerror(e))});
        continue;
      }
      if (pid == 0) {
#ifdef __linux__
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a killed parent
#endif
        ::close(p[0]);
        for (const auto& r : run) ::close(r.fd);
        child_main(p[1], i, work);
      }
      ::close(p[1]);
      Running r;
      r.pid = pid;
      r.fd = p[0];
      r.index = i;
      r.deadline = o.timeout_seconds ? Clock::now() + std::chrono::seconds(o.timeout_seconds) : Clock::time_point::max();
      run.push_back(std::move(r));
    }
    if (run.empty()) continue;

    std::vector<pollfd> pfds;
    auto now = Clock::now();
    auto soonest = Clock::time_point::max();
    for (const auto& r : run) {
      pfds.push_back({r.fd, POLLIN, 0});
      soonest = std::min(soonest, r.deadline);
    }
    int timeout_ms = -1;
    if (soonest != Clock::time_point::max())
      timeout_ms = int(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(soonest - now).count() + 1));
    int rc = ::poll(pfds.data(), pfds.size(), timeout_ms);
    if (rc < 0 && errno != EINTR) {
      // Cannot wait for the workers: give every running one up.
      for (auto& r : run) {
        ::kill(r.pid, SIGKILL);
        r.failure = fmt::format("cannot wait for the worker: poll: {}", std::strerror(errno));
        reap(r, done);
      }
      run.clear();
      continue;
    }
    now = Clock::now();
    std::vector<Running> still;
    for (size_t k = 0; k < run.size(); ++k) {
      Running& r = run[k];
      bool finished = false;
      if (rc > 0 && (pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[65536];
        ssize_t got = ::read(r.fd, buf, sizeof buf);
        if (got > 0) {
          r.out.append(buf, size_t(got));
          if (r.out.size() > o.max_output) {
            ::kill(r.pid, SIGKILL);
            r.failure = fmt::format("the result exceeds {} MiB", o.max_output >> 20);
            finished = true;
          }
        } else if (got == 0 || errno != EINTR) {
          finished = true;
        }
      }
      if (!finished && now >= r.deadline) {
        ::kill(r.pid, SIGKILL);
        r.failure = fmt::format("the analysis did not finish within {} s (--timeout)", o.timeout_seconds);
        r.timed_out = true;
        finished = true;
      }
      if (finished) reap(r, done);
      else still.push_back(std::move(r));
    }
    run = std::move(still);
  }
}

}  // namespace vmc::cli
