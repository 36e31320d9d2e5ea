// Bad input made from real dumps: truncated and corrupted copies of each
// format. vmcore-args must end every run with a message and a distinct
// exit code (never a crash, a hang, or unbounded memory) and must never
// write to its inputs.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "support/corpus.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

constexpr unsigned kCpuLimit = 120;               // seconds per run
constexpr uint64_t kMemLimit = 6ull << 30;        // address space per run

// The smallest dump of each container kind in the x86_64 set.
std::vector<std::pair<std::string, const Scenario*>> samples() {
  std::map<std::string, std::pair<uint64_t, std::pair<std::string, const Scenario*>>> best;
  for (const auto& s : scenarios()) {
    if (s.set != "x86_64") continue;
    for (const auto& f : s.dumps()) {
      std::ifstream in(f, std::ios::binary);
      char head[16] = {};
      in.read(head, sizeof head);
      std::string kind = std::string(head, 4) == "\x7f" "ELF" ? "elf"
                         : std::string(head, 8) == "KDUMP   " ? "kdump"
                         : std::string(head, 12) == "makedumpfile" ? "flat" : "";
      if (kind.empty()) continue;
      uint64_t size = fs::file_size(f);
      if (!best.count(kind) || size < best[kind].first) best[kind] = {size, {f, &s}};
    }
  }
  std::vector<std::pair<std::string, const Scenario*>> out;
  for (auto& [k, v] : best) out.push_back(v.second);
  return out;
}

std::string tmpdir() {
  std::string d = fs::temp_directory_path() / "vmc-malformed";
  fs::create_directories(d);
  return d;
}

void copy_prefix(const std::string& from, const std::string& to, uint64_t n) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  std::vector<char> buf(1 << 20);
  while (n > 0 && in) {
    in.read(buf.data(), std::streamsize(std::min<uint64_t>(n, buf.size())));
    out.write(buf.data(), in.gcount());
    n -= uint64_t(in.gcount());
  }
}

std::string modules_dir(const Scenario& s) {
  for (const auto& m : s.truth["modules"]) return fs::path(data_dir() + "/" + m["path"].get<std::string>()).parent_path();
  return s.dir;
}

// A run on bad input: finished, with a documented exit code, a message when
// it failed, no signal, no internal error.
void expect_clean_outcome(const CliResult& r, const std::string& what) {
  EXPECT_LT(r.exit_code, 128) << what << ": killed by signal " << r.exit_code - 128 << "\n" << r.err.substr(0, 2000);
  EXPECT_NE(r.exit_code, 1) << what << ": internal error\n" << r.err.substr(0, 2000);
  EXPECT_LE(r.exit_code, 6) << what;
  if (r.exit_code != 0) {
    EXPECT_NE(r.err.find("vmcore-args: error:"), std::string::npos) << what << ": " << r.err;
  }
}

TEST(Malformed, TruncatedRealDumps) {
  VMC_REQUIRE_CORPUS();
  auto ss = samples();
  if (ss.empty()) GTEST_SKIP() << "no x86_64 dumps in the corpus";
  std::string dir = tmpdir();
  for (const auto& [file, sc] : ss) {
    uint64_t size = fs::file_size(file);
    for (double frac : {0.0, 0.0001, 0.01, 0.1, 0.5, 0.9, 0.999}) {
      uint64_t n = uint64_t(double(size) * frac);
      std::string cut = dir + "/cut-" + fs::path(file).filename().string();
      copy_prefix(file, cut, n);
      std::string what = fmt::format("{} cut to {} of {} bytes", file, n, size);
      CliResult info = run_cli({"info", cut, sc->vmlinux()}, kCpuLimit, kMemLimit);
      expect_clean_outcome(info, "info on " + what);
      CliResult rep = run_cli({cut, sc->vmlinux(), "--modules", modules_dir(*sc)}, kCpuLimit, kMemLimit);
      expect_clean_outcome(rep, "report on " + what);
      // A dump cut anywhere is either rejected or reported as incomplete.
      EXPECT_NE(rep.exit_code, 0) << "report on " << what << " succeeded without a word about the missing data";
      fs::remove(cut);
    }
  }
}

TEST(Malformed, CorruptedRealDumps) {
  VMC_REQUIRE_CORPUS();
  auto ss = samples();
  if (ss.empty()) GTEST_SKIP() << "no x86_64 dumps in the corpus";
  std::string dir = tmpdir();
  std::mt19937_64 rng(0x5eed);
  for (const auto& [file, sc] : ss) {
    uint64_t size = fs::file_size(file);
    // Flip bytes in the first 64 KiB (headers, notes, bitmaps, descriptors)
    // and at random places in the rest.
    for (int round = 0; round < 6; ++round) {
      std::string bad = dir + "/bad-" + fs::path(file).filename().string();
      fs::copy_file(file, bad, fs::copy_options::overwrite_existing);
      {
        std::fstream io(bad, std::ios::binary | std::ios::in | std::ios::out);
        for (int k = 0; k < 64; ++k) {
          uint64_t off = (k % 2 == 0) ? rng() % std::min<uint64_t>(size, 65536) : rng() % size;
          io.seekp(std::streamoff(off));
          char c = char(rng());
          io.write(&c, 1);
        }
      }
      std::string what = fmt::format("{} with 64 random bytes changed (round {})", file, round);
      expect_clean_outcome(run_cli({"info", bad, sc->vmlinux()}, kCpuLimit, kMemLimit), "info on " + what);
      expect_clean_outcome(run_cli({bad, sc->vmlinux(), "--modules", modules_dir(*sc)}, kCpuLimit, kMemLimit),
                           "report on " + what);
      fs::remove(bad);
    }
  }
}

TEST(Malformed, InputsAreNeverWritten) {
  VMC_REQUIRE_CORPUS();
  for (const auto& [file, sc] : samples()) {
    struct stat before {}, after {};
    ASSERT_EQ(stat(file.c_str(), &before), 0);
    run_cli({file, sc->vmlinux(), "--modules", modules_dir(*sc)}, kCpuLimit, kMemLimit);
    ASSERT_EQ(stat(file.c_str(), &after), 0);
    EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec) << file;
    EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec) << file;
    EXPECT_EQ(before.st_size, after.st_size) << file;
  }
}

TEST(Malformed, WrongAndMissingVmlinux) {
  VMC_REQUIRE_CORPUS();
  auto ss = samples();
  if (ss.empty()) GTEST_SKIP() << "no x86_64 dumps in the corpus";
  const auto& [file, sc] = ss.front();
  // Another kernel's vmlinux, when the corpus has one.
  for (const auto& other : scenarios()) {
    if (other.vmlinux() == sc->vmlinux()) continue;
    CliResult r = run_cli({file, other.vmlinux()}, kCpuLimit, kMemLimit);
    EXPECT_EQ(r.exit_code, 5) << other.vmlinux() << ": " << r.err;
    EXPECT_NE(r.err.find("does not match"), std::string::npos) << r.err;
    break;
  }
  CliResult r = run_cli({file, "/nonexistent/vmlinux"}, kCpuLimit, kMemLimit);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = run_cli({file, file}, kCpuLimit, kMemLimit);  // a dump is not a kernel image
  EXPECT_EQ(r.exit_code, 5) << r.err;
}

}  // namespace
}  // namespace vmc::test
