// `vmcore-args triage` on the real corpus. Ground truth: each scenario's
// truth.json (the test module's own log): the crash mode it was told to
// perform and the functions on the crashing stack; for sysrq crashes, the
// kernel's own backtrace on the serial console.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "support/corpus.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr unsigned kDepth = 5;

// The kernel directories of the sets present, for --modules.
std::vector<std::string> module_args() {
  std::set<std::string> sets;
  for (const auto& s : scenarios()) sets.insert(s.set);
  std::vector<std::string> a;
  for (const auto& set : sets) {
    std::string d = data_dir() + "/kernels/" + set;
    if (fs::is_directory(d)) {
      a.push_back("--modules");
      a.push_back(d);
    }
  }
  return a;
}

std::string function_of(std::string entry) {  // "panic+0x2e9/0x2f6 [mod]" -> "panic"
  if (size_t p = entry.find('+'); p != std::string::npos) entry.erase(p);
  if (size_t p = entry.find('.'); p != std::string::npos) entry.erase(p);
  return entry;
}

TEST(Triage, GroupsTheCorpusByCrashAcrossKaslrPagingAndFormats) {
  VMC_REQUIRE_CORPUS();
  std::vector<std::string> args = {"triage", data_dir() + "/dumps", "--debug-dir", data_dir() + "/kernels",
                                   "--json", "-j", "2", "--frames", std::to_string(kDepth)};
  for (auto& m : module_args()) args.push_back(m);
  CliResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["schema"], "vmcore-args-triage/1");

  std::map<std::string, json> by_path;
  for (const auto& d : j["dumps"]) by_path[d["path"]] = d;
  std::map<std::string, const json*> groups;
  for (const auto& g : j["groups"]) groups[g["id"]] = &g;

  // Every dump file of the corpus is analysed and sits in a group that
  // lists it; the expected key is (release, crash mode).
  std::map<std::string, std::pair<std::string, std::string>> expected;  // path -> (release, mode)
  size_t checked = 0;
  for (const auto& sc : scenarios()) {
    const std::string mode = sc.truth["panic"]["mode"];
    std::vector<std::string> want_frames;
    for (const auto& t : sc.truth["threads"])
      if (t.value("role", "") == "crashed")
        for (const auto& f : t["frames"])
          if (want_frames.size() < kDepth) want_frames.push_back(f["function"]);
    if (mode == "sysrq") {
      // The kernel's own backtrace: the caller of panic().
      // Entries with "? " are the kernel's unreliable stack-scan guesses.
      for (const auto& [pid, bt] : sc.truth["serial_backtrace"].items()) {
        std::vector<std::string> reliable;
        for (const std::string e : bt)
          if (e.rfind("? ", 0) != 0) reliable.push_back(function_of(e));
        for (size_t i = 0; i + 1 < reliable.size(); ++i)
          if (reliable[i] == "panic" && want_frames.empty()) want_frames.push_back(reliable[i + 1]);
      }
    }
    ASSERT_FALSE(want_frames.empty()) << sc.dir << ": no ground-truth frame";
    for (const auto& file : sc.dumps()) {
      SCOPED_TRACE(file);
      auto it = by_path.find(file);
      ASSERT_NE(it, by_path.end()) << "not in the triage output";
      const json& d = it->second;
      ASSERT_FALSE(d.contains("error")) << d["error"];
      ASSERT_TRUE(d["group"].is_string());
      ASSERT_TRUE(groups.count(d["group"]));
      const json& g = *groups[d["group"]];
      EXPECT_NE(std::find(g["dumps"].begin(), g["dumps"].end(), file), g["dumps"].end());
      // The signature starts with the functions the module logged (all
      // of them up to the depth), or with panic()'s caller for sysrq.
      std::vector<std::string> sig = d["signature"];
      ASSERT_GE(sig.size(), want_frames.size()) << d.dump();
      EXPECT_EQ(std::vector<std::string>(sig.begin(), sig.begin() + long(want_frames.size())), want_frames);
      if (mode != "sysrq") {
        EXPECT_EQ(sig.size(), kDepth);
      }
      // Nothing that varies with KASLR is in the crash kind.
      std::string crash = d["crash"];
      EXPECT_EQ(crash.find("0x"), std::string::npos) << crash;
      EXPECT_EQ(d["dump"]["release"], sc.truth["release"]);
      EXPECT_EQ(d["panic"]["pid"], sc.truth["panic"]["pid"]);
      expected[file] = {sc.truth["release"], mode};
      ++checked;
    }
  }
  ASSERT_GT(checked, 0u);
  // Same release and mode <=> same group.
  for (const auto& [a, ka] : expected)
    for (const auto& [b, kb] : expected) {
      if (a >= b || ka.first != kb.first) continue;
      bool same = by_path[a]["group"] == by_path[b]["group"];
      EXPECT_EQ(same, ka.second == kb.second) << a << " (" << ka.second << ") and " << b << " (" << kb.second << ")";
    }
  // The group table: counts add up, sorted by count.
  size_t total = 0, prev = SIZE_MAX;
  for (const auto& g : j["groups"]) {
    EXPECT_EQ(g["count"], g["dumps"].size());
    EXPECT_LE(size_t(g["count"]), prev);
    prev = g["count"];
    total += size_t(g["count"]);
    EXPECT_FALSE(g["releases"].empty());
  }
  EXPECT_EQ(total, checked);
  // The other files of the corpus (truth.json, logs, modules) are listed as skipped.
  bool truth_skipped = false;
  for (const auto& s : j["skipped"])
    if (fs::path(std::string(s["path"])).filename() == "truth.json") truth_skipped = true;
  EXPECT_TRUE(truth_skipped);
}

// A truncated dump, a dump without a vmlinux, and a good one: error rows
// and a group; exit 0, or 7 with --strict; --jsonl gives one line each.
TEST(Triage, BadDumpsAreRowsAndTheRunGoesOn) {
  VMC_REQUIRE_CORPUS();
  const Scenario* x86 = nullptr;
  for (const auto& sc : scenarios())
    if (sc.set == "x86_64" && !sc.dumps().empty()) x86 = &sc;
  if (!x86) GTEST_SKIP() << "needs the x86_64 set of the corpus (cores/make-cores.sh --sets x86_64)";
  char tmpl[] = "/tmp/vmc-triage-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  fs::path dir = tmpl;
  std::string good = x86->dumps().front();
  fs::create_symlink(good, dir / "good.dump");
  {  // the first 1 MiB of the dump
    std::ifstream in(good, std::ios::binary);
    std::string head(1 << 20, '\0');
    in.read(head.data(), long(head.size()));
    std::ofstream(dir / "truncated.dump", std::ios::binary).write(head.data(), in.gcount());
  }
  std::ofstream(dir / "README") << "not a dump\n";
  fs::create_directory(dir / "empty-debug-dir");

  // With no vmlinux anywhere: every dump is an error row, the run succeeds.
  CliResult none = run_cli({"triage", dir.string(), "--debug-dir", (dir / "empty-debug-dir").string(), "--jsonl"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  std::map<std::string, json> rows;
  std::istringstream lines(none.out);
  for (std::string l; std::getline(lines, l);) {
    json x = json::parse(l);
    rows[fs::path(std::string(x["path"])).filename()] = x;
  }
  ASSERT_EQ(rows.size(), 2u) << none.out;
  ASSERT_TRUE(rows["good.dump"].contains("error"));
  EXPECT_NE(std::string(rows["good.dump"]["error"]).find("no vmlinux for release"), std::string::npos);
  EXPECT_EQ(rows["good.dump"]["exit_code"], 3);
  EXPECT_EQ(rows["good.dump"]["dump"]["release"], x86->truth["release"]);  // known without the vmlinux
  EXPECT_TRUE(rows["truncated.dump"].contains("error"));
  EXPECT_NE(none.err.find("README"), std::string::npos) << "skipped files are named on stderr with --jsonl";

  // With the vmlinux: the good dump groups, the truncated one is a row.
  std::vector<std::string> args = {"triage", dir.string(), "--vmlinux", x86->vmlinux(), "--json"};
  for (auto& m : module_args()) args.push_back(m);
  CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["groups"].size(), 1u) << r.out;
  EXPECT_EQ(j["groups"][0]["count"], 1);
  size_t errors = 0;
  for (const auto& d : j["dumps"]) errors += d.contains("error");
  EXPECT_EQ(errors, 1u);
  ASSERT_EQ(j["skipped"].size(), 1u);
  EXPECT_EQ(fs::path(std::string(j["skipped"][0]["path"])).filename(), "README");

  args.push_back("--strict");
  EXPECT_EQ(run_cli(args).exit_code, 7);

  // The text table names the group, the failure and the skipped file.
  CliResult t = run_cli({"triage", dir.string(), "--vmlinux", x86->vmlinux()});
  EXPECT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("2 dumps in 1 group; 1 could not be analysed; 1 other file skipped"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("truncated.dump"), std::string::npos);
  EXPECT_NE(t.out.find("README"), std::string::npos);

  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace vmc::test
