#include "support/corpus.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>

#ifndef VMC_CLI_PATH
#define VMC_CLI_PATH "vmcore-args"
#endif

#ifndef VMC_DATA_DIR_DEFAULT
#define VMC_DATA_DIR_DEFAULT ""
#endif

namespace fs = std::filesystem;

namespace vmc::test {

std::string data_dir() {
  if (const char* e = getenv("VMCORE_ARGS_DATA"); e && *e) return e;
  if (*VMC_DATA_DIR_DEFAULT) return VMC_DATA_DIR_DEFAULT;
  return "/var/tmp/vmcore-args";
}

std::string Scenario::vmlinux() const {
  std::string v = truth.value("vmlinux", "");
  return v.empty() || v[0] == '/' ? v : data_dir() + "/" + v;
}

std::vector<std::string> Scenario::dumps() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("vmcore", 0) == 0 && e.is_regular_file()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> v;
    fs::path root = fs::path(data_dir()) / "dumps";
    std::error_code ec;
    for (const auto& set : fs::directory_iterator(root, ec)) {
      if (!set.is_directory()) continue;
      for (const auto& sc : fs::directory_iterator(set.path(), ec)) {
        fs::path t = sc.path() / "truth.json";
        std::ifstream in(t);
        if (!in) continue;
        Scenario s;
        s.set = set.path().filename().string();
        s.name = sc.path().filename().string();
        s.dir = sc.path().string();
        s.truth = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (s.truth.is_discarded()) continue;
        v.push_back(std::move(s));
      }
    }
    std::sort(v.begin(), v.end(), [](const Scenario& a, const Scenario& b) {
      return std::tie(a.set, a.name) < std::tie(b.set, b.name);
    });
    return v;
  }();
  return all;
}

std::string corpus_missing_message() {
  return "REAL DUMPS MISSING: no scenario with truth.json under " + data_dir() +
         "/dumps; make them with cores/make-cores.sh (see cores/README.md) or point VMCORE_ARGS_DATA at them";
}

CliResult run_cli(const std::vector<std::string>& args, unsigned cpu_seconds, uint64_t mem_bytes) {
  CliResult r;
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    if (cpu_seconds) {
      rlimit rl{cpu_seconds, cpu_seconds};
      setrlimit(RLIMIT_CPU, &rl);
    }
    if (mem_bytes) {
      rlimit rl{mem_bytes, mem_bytes};
      setrlimit(RLIMIT_AS, &rl);
    }
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]); close(out[1]); close(err[0]); close(err[1]);
    std::vector<char*> argv;
    std::string exe = VMC_CLI_PATH;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, size_t(n));
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string DumpCase::label() const {
  if (!scenario) return "NoCorpus";
  std::string l = scenario->set + "_" + scenario->name + "_" + fs::path(file).filename().string();
  for (char& c : l)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return l;
}

std::vector<DumpCase> dump_cases() {
  std::vector<DumpCase> v;
  for (const auto& s : scenarios())
    for (const auto& f : s.dumps()) v.push_back({&s, f});
  if (v.empty()) v.push_back({});
  return v;
}

}  // namespace vmc::test
