// The real-dump corpus made by cores/make-cores.sh: where it is, which
// scenarios exist, and their ground truth (cores/README.md has the schema).
// Tests that need it call VMC_REQUIRE_CORPUS() first: without the corpus
// they skip loudly (ctest reports "Skipped", never "Passed").
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmc::test {

// $VMCORE_ARGS_DATA, else the CMake VMC_DATA_DIR, else /var/tmp/vmcore-args.
std::string data_dir();

struct Scenario {
  std::string set;   // "x86_64", "x86_64-la57", "i386", "i386-pae"
  std::string name;  // "fault-kaslr", …
  std::string dir;   // absolute path of dumps/<set>/<name>
  nlohmann::json truth;
  std::string vmlinux() const;  // absolute path
  // Absolute paths of the dump files present in dir, by file name
  // ("vmcore.elf", "vmcore.kdump", …).
  std::vector<std::string> dumps() const;
  std::string path(const std::string& file) const { return dir + "/" + file; }
};

// Every scenario directory with a readable truth.json, sorted.
const std::vector<Scenario>& scenarios();

std::string corpus_missing_message();

}  // namespace vmc::test

#define VMC_REQUIRE_CORPUS()                                                       \
  do {                                                                             \
    if (::vmc::test::scenarios().empty()) GTEST_SKIP() << ::vmc::test::corpus_missing_message(); \
  } while (0)

namespace vmc::test {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs the built vmcore-args with `args` (no shell), capturing both streams.
// With limits, the child gets at most `cpu_seconds` of CPU and `mem_bytes`
// of address space (RLIMIT_CPU / RLIMIT_AS); 0 means no limit.
CliResult run_cli(const std::vector<std::string>& args, unsigned cpu_seconds = 0, uint64_t mem_bytes = 0);

// One (scenario, dump file) pair per element; a single placeholder with
// an empty scenario when the corpus is missing, so the test skips loudly.
struct DumpCase {
  const Scenario* scenario = nullptr;
  std::string file;  // absolute path
  std::string label() const;
};
std::vector<DumpCase> dump_cases();
inline void PrintTo(const DumpCase& c, std::ostream* os) { *os << c.label(); }

}  // namespace vmc::test
