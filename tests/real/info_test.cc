// End-to-end on real dumps: `info --json` and `read` against the ground
// truth the guest itself recorded (cores/truth.py: /proc/version, the
// _stext KASLR offset from /proc/kallsyms, the oops text on the console).
#include <gtest/gtest.h>

#include "support/corpus.h"

namespace vmc::test {
namespace {

using nlohmann::json;

class RealDump : public ::testing::TestWithParam<DumpCase> {
 protected:
  void SetUp() override {
    if (!GetParam().scenario) GTEST_SKIP() << corpus_missing_message();
  }
  const Scenario& sc() const { return *GetParam().scenario; }
  const json& truth() const { return sc().truth; }
  const std::string& file() const { return GetParam().file; }
};

std::string hexstr(const json& j) { return j.is_string() ? j.get<std::string>() : ""; }

TEST_P(RealDump, InfoMatchesTruth) {
  CliResult r = run_cli({"info", "--json", file(), sc().vmlinux()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["schema"], "vmcore-args/1");
  const json& d = j["dump"];
  EXPECT_EQ(d["arch"], truth()["arch"]);
  EXPECT_EQ(d["paging"], truth()["paging"]);
  EXPECT_EQ(d["release"], truth()["release"]);
  EXPECT_EQ(d["banner"], truth()["banner"]);
  EXPECT_EQ(d["cpus"], truth()["cpus"]);
  std::string want_off = truth()["kaslr"].get<bool>() ? hexstr(truth()["kaslr_offset"]) : "0x0";
  EXPECT_EQ(hexstr(d["kaslr_offset"]), want_off);
  EXPECT_NE(d["vmlinux_check"].get<std::string>().find("matches"), std::string::npos) << d["vmlinux_check"];

  const json& p = j["panic"];
  const json& tp = truth()["panic"];
  EXPECT_EQ(p["message"], tp["message"]);
  EXPECT_EQ(p["cpu"], tp["cpu"]);
  EXPECT_EQ(p["pid"], tp["pid"]);
  if (!tp["fault_address"].is_null()) {
    EXPECT_EQ(p["fault_address"], tp["fault_address"]);
  }
}

TEST_P(RealDump, ReadBannerMatchesGuestProcVersion) {
  std::string banner = truth()["banner"];
  CliResult r = run_cli({"read", file(), sc().vmlinux(), "linux_banner", std::to_string(banner.size())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Reassemble the ASCII column of the hex dump.
  std::string ascii;
  size_t pos = 0;
  while ((pos = r.out.find('|', pos)) != std::string::npos) {
    size_t end = r.out.find('|', pos + 1);
    ascii += r.out.substr(pos + 1, end - pos - 1);
    pos = r.out.find('\n', end);
    if (pos == std::string::npos) break;
  }
  EXPECT_EQ(ascii, banner);
}

TEST_P(RealDump, WrongVmlinuxIsRejected) {
  // Any ELF that is not this kernel: the module of the scenario.
  std::string other;
  for (const auto& m : truth()["modules"]) other = data_dir() + "/" + m["path"].get<std::string>();
  if (other.empty()) GTEST_SKIP() << "scenario lists no module file to use as a wrong vmlinux";
  CliResult r = run_cli({"info", file(), other});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.err.empty());
}

INSTANTIATE_TEST_SUITE_P(Corpus, RealDump, ::testing::ValuesIn(dump_cases()),
                         [](const auto& info) { return info.param.label(); });

}  // namespace
}  // namespace vmc::test
