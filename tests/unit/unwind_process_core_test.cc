// ProcessCore on synthetic ELF cores (ElfCoreBuilder): threads from
// NT_PRSTATUS, mappings from NT_FILE, the main-program override, file-backed
// reads, the build-id check, malformed notes; then unwinding a thread
// through the mapped fixture object's .eh_frame.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "kvm/process_core.h"
#include "support/builders.h"
#include "unwind_fakes.h"

namespace vmc {
namespace {

using test::ByteWriter;
using test::ElfCoreBuilder;
using test::TempFile;

constexpr uint32_t kNtPrstatusType = 1, kNtAuxvType = 6, kNtFileType = 0x46494c45;

std::vector<uint8_t> read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A user_regs_struct image for NT_PRSTATUS (x86-64: 27 slots at 112; i386:
// 17 slots at 72), pid at 32 / 24, cursig at 12.
std::vector<uint8_t> prstatus(Machine m, int32_t pid, int16_t cursig, std::map<unsigned, uint64_t> regs) {
  const RegisterInfo& ri = register_info(m);
  bool is64 = m == Machine::kX86_64;
  ByteWriter w;
  w.zeros(is64 ? 336 : 144);
  w.put(12, 2, uint16_t(cursig));
  w.put(is64 ? 32 : 24, 4, uint32_t(pid));
  size_t reg_off = is64 ? 112 : 72;
  for (size_t i = 0; i < ri.pt_regs.size(); ++i)
    if (ri.pt_regs[i] != kNoReg && regs.count(ri.pt_regs[i]))
      w.put(reg_off + i * ri.reg_size, ri.reg_size, regs[ri.pt_regs[i]]);
  return w.bytes();
}

struct Mapping {
  uint64_t start, end, pgoff;
  std::string path;
};
std::vector<uint8_t> nt_file(unsigned ws, const std::vector<Mapping>& maps, uint64_t count_override = 0) {
  ByteWriter w;
  w.uint(ws, count_override ? count_override : maps.size()).uint(ws, 4096);
  for (const auto& m : maps) w.uint(ws, m.start).uint(ws, m.end).uint(ws, m.pgoff);
  for (const auto& m : maps) w.raw(m.path.c_str(), m.path.size() + 1);
  return w.bytes();
}
std::vector<uint8_t> auxv(unsigned ws, std::vector<std::pair<uint64_t, uint64_t>> kv) {
  ByteWriter w;
  for (auto [k, v] : kv) w.uint(ws, k).uint(ws, v);
  w.uint(ws, 0).uint(ws, 0);
  return w.bytes();
}

class ProcessCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { VMC_REQUIRE_UNWIND_FIXTURES(); }
  static constexpr uint64_t kBase = 0x7f0000000000, kStack = 0x7ffd00001000;
  std::string so() const { return test::fixture_dir() + "/cfi_cases.so"; }

  // A core of one thread stopped in cfi_leaf called from cfi_saves called
  // from cfi_outermost (the stack of CfiTest.SavedRegisters…).
  std::vector<uint8_t> make_core(const std::string& nt_path, std::vector<uint8_t> first_page = {}) {
    auto elf = ElfImage::open(so());
    EXPECT_TRUE(elf.ok());
    auto sym = [&](const char* n) { return (*elf)->find_symbol(n)->addr + kBase; };
    std::vector<uint8_t> file = read_file(so());
    if (first_page.empty()) first_page.assign(file.begin(), file.begin() + 0x1000);
    ByteWriter st;
    st.zeros(0x1000);
    const uint64_t s0 = kStack + 0x100, s1 = s0 + 8;
    st.put(s0 - kStack, 8, sym("cfi_saves_ret"));
    st.put(s1 + 8 - kStack, 8, 0x1212);
    st.put(s1 + 16 - kStack, 8, 0xb0b0);
    st.put(s1 + 24 - kStack, 8, 0xbbbb);
    st.put(s1 + 32 - kStack, 8, sym("cfi_outermost_ret"));
    ElfCoreBuilder b(true, Endian::kLittle, 62);
    b.add_note("CORE", kNtPrstatusType,
               prstatus(Machine::kX86_64, 4242, 11,
                        {{x86_64::kRip, sym("cfi_leaf")}, {x86_64::kRsp, s0}, {x86_64::kRbx, 0x1111}, {x86_64::kCs, 0x33}}));
    b.add_note("CORE", kNtPrstatusType, prstatus(Machine::kX86_64, 4243, 0, {{x86_64::kRip, 0x1234}}));
    b.add_note("CORE", kNtAuxvType, auxv(8, {{3, kBase + 64}, {9, kBase + 0x1000}}));
    b.add_note("CORE", kNtFileType,
               nt_file(8, {{kBase, kBase + 0x1000, 0, nt_path}, {kBase + 0x1000, kBase + 0x2000, 1, nt_path},
                           {kBase + 0x2000, kBase + 0x3000, 2, nt_path}}));
    b.add_load(0, kBase, first_page);
    b.add_load(0, kBase + 0x1000, {}, 0x2000);  // text + eh_frame: not dumped
    b.add_load(0, kStack, st.bytes());
    return b.build();
  }
};

TEST_F(ProcessCoreTest, ThreadsMappingsAndReads) {
  TempFile core(make_core(so()));
  auto pc = ProcessCore::open(core.path());
  ASSERT_TRUE(pc.ok()) << pc.error().message();
  ProcessCore& c = **pc;
  EXPECT_TRUE(c.warnings().empty()) << c.warnings()[0];
  EXPECT_EQ(c.machine(), Machine::kX86_64);
  ASSERT_EQ(c.threads().size(), 2u);
  EXPECT_EQ(c.threads()[0].tid, 4242);
  EXPECT_EQ(c.threads()[0].cursig, 11);
  EXPECT_EQ(c.threads()[1].tid, 4243);
  EXPECT_EQ(c.threads()[0].regs.get(x86_64::kRbx), 0x1111u);
  ASSERT_EQ(c.mappings().size(), 3u);
  EXPECT_EQ(c.mappings()[1].file_offset, 0x1000u);
  EXPECT_EQ(c.mappings()[1].opened_path, so());
  EXPECT_EQ(c.auxv(9), kBase + 0x1000);
  auto imgs = c.images();
  ASSERT_EQ(imgs.size(), 1u);
  EXPECT_EQ(imgs[0]->bias, int64_t(kBase));
  EXPECT_EQ(imgs[0]->name, "cfi_cases.so");
  EXPECT_EQ(c.code().find(kBase + 0x1010), imgs[0]);
  EXPECT_EQ(c.code().find(kBase + 0x10), nullptr);  // the read-only first segment is not code

  // Stack bytes come from the core; text from the mapped file.
  uint8_t b[8];
  ASSERT_TRUE(c.read_virt(kStack + 0x100, b).ok());
  std::vector<uint8_t> file = read_file(so());
  std::vector<uint8_t> text(16);
  ASSERT_TRUE(c.read_virt(kBase + 0x1000, text).ok());
  EXPECT_TRUE(std::equal(text.begin(), text.end(), file.begin() + 0x1000));
  Status s = c.read_core_only(kBase + 0x1000, text);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Errc::kExcluded);
  s = c.read_virt(0x1000, b);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Errc::kNotMapped);
  EXPECT_NE(s.error().message().find("0x1000"), std::string::npos);
  // A read that runs from the core's stack page into nothing fails whole.
  std::vector<uint8_t> big(0x20);
  s = c.read_virt(kStack + 0x1000 - 0x10, big);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find(fmt::format("{:#x}", kStack + 0x1000)), std::string::npos) << s.error().message();
}

TEST_F(ProcessCoreTest, UnwindsThroughTheMappedObject) {
  TempFile core(make_core(so()));
  auto pc = ProcessCore::open(core.path());
  ASSERT_TRUE(pc.ok()) << pc.error().message();
  ProcessCore& c = **pc;
  Frame f0 = c.initial_frame(c.threads()[0]);
  EXPECT_TRUE(f0.pc_exact);
  EXPECT_EQ(f0.loc[x86_64::kRbx].kind, RegLoc::Kind::kInitial);
  auto r = unwind(c.machine(), c, c.code(), f0, {});
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.frames[2].regs.get(x86_64::kR12), 0x1212u);
  EXPECT_EQ(r.frames[1].regs.get(x86_64::kRbx), 0x1111u);
  // The second thread's pc lies in no mapped code.
  auto r2 = unwind(c.machine(), c, c.code(), c.initial_frame(c.threads()[1]), {});
  EXPECT_EQ(r2.stop_reason, "pc 0x1234 is in no known code");
}

TEST_F(ProcessCoreTest, ProgramOverridesTheRecordedPath) {
  TempFile core(make_core("/nonexistent/build/cfi_cases.so"));
  auto without = ProcessCore::open(core.path());
  ASSERT_TRUE(without.ok());
  EXPECT_TRUE((*without)->images().empty());
  EXPECT_FALSE((*without)->warnings().empty());
  auto with = ProcessCore::open(core.path(), so());
  ASSERT_TRUE(with.ok());
  ASSERT_EQ((*with)->images().size(), 1u);
  EXPECT_EQ((*with)->mappings()[0].path, "/nonexistent/build/cfi_cases.so");
  EXPECT_EQ((*with)->mappings()[0].opened_path, so());
}

TEST_F(ProcessCoreTest, DifferentBuildIdIsNotUsed) {
  auto elf = ElfImage::open(so());
  ASSERT_TRUE(elf.ok());
  std::vector<uint8_t> file = read_file(so());
  std::vector<uint8_t> page(file.begin(), file.begin() + 0x1000);
  // Flip the last byte of the build-id in the core's copy of the headers.
  const auto& id = (*elf)->build_id();
  ASSERT_FALSE(id.empty());
  auto it = std::search(page.begin(), page.end(), id.begin(), id.end());
  ASSERT_NE(it, page.end());
  *(it + ptrdiff_t(id.size()) - 1) ^= 0xff;
  TempFile core(make_core(so(), page));
  auto pc = ProcessCore::open(core.path());
  ASSERT_TRUE(pc.ok());
  EXPECT_TRUE((*pc)->images().empty());
  ASSERT_FALSE((*pc)->warnings().empty());
  EXPECT_NE((*pc)->warnings()[0].find("build-id"), std::string::npos) << (*pc)->warnings()[0];
}

TEST_F(ProcessCoreTest, MalformedNtFileIsRefused) {
  ElfCoreBuilder b(true, Endian::kLittle, 62);
  b.add_note("CORE", kNtFileType, nt_file(8, {{kBase, kBase + 0x1000, 0, "x"}}, 1000000));
  b.add_load(0, kStack, std::vector<uint8_t>(16));
  TempFile core(b.build());
  auto pc = ProcessCore::open(core.path());
  ASSERT_FALSE(pc.ok());
  EXPECT_EQ(pc.error().code(), Errc::kBadData);
  EXPECT_NE(pc.error().message().find(core.path()), std::string::npos);

  ElfCoreBuilder b2(true, Endian::kLittle, 62);
  b2.add_note("CORE", kNtFileType, nt_file(8, {{kBase + 0x1000, kBase, 0, "x"}}));
  b2.add_load(0, kStack, std::vector<uint8_t>(16));
  TempFile core2(b2.build());
  auto pc2 = ProcessCore::open(core2.path());
  ASSERT_FALSE(pc2.ok());
  EXPECT_NE(pc2.error().message().find("end"), std::string::npos) << pc2.error().message();
}

TEST_F(ProcessCoreTest, I386Core) {
  const uint64_t base = 0xf7f00000, stack = 0xffd00000;
  const std::string so32 = test::fixture_dir() + "/cfi_cases32.so";
  auto elf = ElfImage::open(so32);
  ASSERT_TRUE(elf.ok());
  auto sym = [&](const char* n) { return (*elf)->find_symbol(n)->addr + base; };
  std::vector<uint8_t> file = read_file(so32);
  ByteWriter st;
  st.zeros(0x1000);
  const uint64_t s0 = stack + 0x100, s1 = s0 + 4;
  st.put(s0 - stack, 4, sym("cfi32_saves_ret"));
  st.put(s1 + 4 - stack, 4, 0x5151);
  st.put(s1 + 8 - stack, 4, 0xb0b0);
  st.put(s1 + 12 - stack, 4, 0xbbbb);
  st.put(s1 + 16 - stack, 4, sym("cfi32_outermost_ret"));
  ElfCoreBuilder b(false, Endian::kLittle, 3);
  b.add_note("CORE", kNtPrstatusType, prstatus(Machine::kI386, 77, 6, {{i386::kEip, sym("cfi32_leaf")}, {i386::kEsp, s0}}));
  b.add_note("CORE", kNtAuxvType, auxv(4, {{3, base + 52}}));
  b.add_note("CORE", kNtFileType, nt_file(4, {{base, base + 0x1000, 0, so32}, {base + 0x1000, base + 0x3000, 1, so32}}));
  b.add_load(0, base, std::vector<uint8_t>(file.begin(), file.begin() + 0x1000));
  b.add_load(0, base + 0x1000, {}, 0x2000);
  b.add_load(0, stack, st.bytes());
  TempFile core(b.build());
  auto pc = ProcessCore::open(core.path());
  ASSERT_TRUE(pc.ok()) << pc.error().message();
  ProcessCore& c = **pc;
  EXPECT_EQ(c.machine(), Machine::kI386);
  ASSERT_EQ(c.threads().size(), 1u);
  EXPECT_EQ(c.threads()[0].tid, 77);
  EXPECT_EQ(c.threads()[0].cursig, 6);
  auto r = unwind(c.machine(), c, c.code(), c.initial_frame(c.threads()[0]), {});
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.frames[2].regs.get(i386::kEsi), 0x5151u);
}

}  // namespace
}  // namespace vmc
