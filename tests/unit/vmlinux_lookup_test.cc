// VmlinuxFinder: the debug-directory layouts, build-id before name, the
// walk. Stand-ins for vmlinux files are symbolic links to two real ELF
// files with different build-ids (this test program and /bin/true).
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "dwarf/elf_image.h"
#include "kvm/vmlinux_lookup.h"

namespace vmc {
namespace {

namespace fs = std::filesystem;

class VmlinuxLookup : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmc-lookup-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    a_ = fs::read_symlink("/proc/self/exe").string();
    b_ = fs::canonical("/bin/true").string();
    auto ia = read_build_id(a_);
    auto ib = read_build_id(b_);
    if (!ia || !ib || ia->empty() || ib->empty() || *ia == *ib)
      GTEST_SKIP() << "needs two ELF files with different build-ids (" << a_ << ", " << b_ << ")";
    id_a_ = *ia;
    id_b_ = *ib;
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }
  // A link at root/rel to `target`.
  std::string place(const std::string& rel, const std::string& target) {
    fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    fs::create_symlink(target, p);
    return p.string();
  }

  std::string root_, a_, b_, id_a_, id_b_;
};

TEST_F(VmlinuxLookup, DebianLayoutByReleaseAndBuildId) {
  std::string p = place("usr/lib/debug/boot/vmlinux-6.1.0-9-amd64", a_);
  VmlinuxFinder f({}, {root_});
  auto r = f.find("6.1.0-9-amd64", id_a_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, p);
  // Without a build-id in the dump the name decides.
  auto n = f.find("6.1.0-9-amd64", std::nullopt);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, p);
  // A file named for the release whose build-id differs is not taken.
  auto w = f.find("6.1.0-9-amd64", id_b_);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), Errc::kNotFound);
  EXPECT_NE(w.error().message().find(id_b_), std::string::npos) << w.error().message();
  EXPECT_NE(w.error().message().find(root_), std::string::npos) << w.error().message();
}

TEST_F(VmlinuxLookup, BuildIdDirectoryComesFirst) {
  std::string named = place("boot/vmlinux-5.10.0-1", a_);
  std::string by_id = place(".build-id/" + id_b_.substr(0, 2) + "/" + id_b_.substr(2) + ".debug", b_);
  VmlinuxFinder f({}, {root_});
  auto r = f.find("5.10.0-1", id_b_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, by_id);
  auto s = f.find("5.10.0-1", id_a_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(*s, named);
}

TEST_F(VmlinuxLookup, WalkFindsFilesBelowAndMatchesByBuildId) {
  place("x86_64/vmlinux-6.1.0-56-cloud-amd64", b_);
  std::string deep = place("builds/2026/kernel-a/vmlinux", a_);
  place("builds/2026/kernel-a/vmlinuz", b_);  // not a vmlinux name
  VmlinuxFinder f({}, {root_});
  auto r = f.find("some-release", id_a_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, deep);
  auto s = f.find("6.1.0-56-cloud-amd64", std::nullopt);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(fs::path(*s).filename(), "vmlinux-6.1.0-56-cloud-amd64");
}

TEST_F(VmlinuxLookup, WalkDoesNotFollowDirectoryLinks) {
  place("real/vmlinux-r1", a_);
  fs::create_directory_symlink(root_, fs::path(root_) / "real" / "loop");  // a cycle
  VmlinuxFinder f({}, {root_});
  auto r = f.find("r1", id_a_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, root_ + "/real/vmlinux-r1");
}

TEST_F(VmlinuxLookup, GivenFilesByBuildIdThenAlone) {
  VmlinuxFinder two({a_, b_}, {});
  auto r = two.find("x", id_b_);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, b_);
  EXPECT_FALSE(two.find("x", std::string(40, '0')));
  // One file and a dump without a build-id: the file (the session then
  // checks its banner against the dump).
  VmlinuxFinder one({a_}, {});
  auto o = one.find("x", std::nullopt);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(*o, a_);
}

}  // namespace
}  // namespace vmc
