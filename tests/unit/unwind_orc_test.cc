// ORC-driven unwinding of x86-64 kernel stacks over fake memory: call
// frames, bp rules, full and partial pt_regs, end of stack, indirect stack
// switches, and the CFI/ORC cross-check at exact PCs.
#include <gtest/gtest.h>

#include <algorithm>

#include "arch/frames_x86.h"
#include "dwarf/orc.h"
#include "dwarf/unwind.h"
#include "unwind_fakes.h"

namespace vmc {
namespace {

using namespace x86_64;
using test::FakeVm;
using test::initial_frame;

constexpr uint64_t K = 0xffffffff81000000;

OrcEntry entry(uint8_t type, uint8_t sp_reg, int16_t sp_off, uint8_t bp_reg = orc::kRegUndefined, int16_t bp_off = 0,
               bool signal = false) {
  OrcEntry e;
  e.type = type;
  e.sp_reg = sp_reg;
  e.sp_offset = sp_off;
  e.bp_reg = bp_reg;
  e.bp_offset = bp_off;
  e.signal = signal;
  return e;
}

void put_pt_regs(FakeVm& vm, uint64_t addr, std::map<unsigned, uint64_t> regs) {
  const RegisterInfo& ri = register_info(Machine::kX86_64);
  for (unsigned i = 0; i < 21; ++i) {
    uint64_t v = 0x1000 + i;
    if (ri.pt_regs[i] != kNoReg && regs.count(ri.pt_regs[i])) v = regs[ri.pt_regs[i]];
    vm.put64(addr + 8 * i, v);
  }
}

class OrcUnwind : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.version = 4;
    add(0x100, entry(orc::kTypeCall, orc::kRegSp, 16));
    add(0x200, entry(orc::kTypeCall, orc::kRegSp, 24, orc::kRegPrevSp, -16));
    add(0x300, entry(orc::kTypeRegs, orc::kRegSp, 0, orc::kRegUndefined, 0, true));
    add(0x400, entry(orc::kTypeRegsPartial, orc::kRegSp, 8, orc::kRegUndefined, 0, true));
    add(0x500, entry(orc::kTypeEndOfStack, orc::kRegUndefined, 0));
    add(0x600, entry(orc::kTypeUndefined, orc::kRegUndefined, 0));
    add(0x700, entry(orc::kTypeCall, orc::kRegSpIndirect, 8, orc::kRegUndefined, 0, true));
    add(0x800, entry(orc::kTypeCall, orc::kRegBp, 16, orc::kRegPrevSp, -16));
    add(0x900, entry(orc::kTypeCall, orc::kRegDi, 0));
    add(0xa00, entry(orc::kTypeEndOfStack, orc::kRegUndefined, 0));
    img_.name = "vmlinux";
    img_.kernel = true;
    img_.text.push_back({K, K + 0x1000});
    img_.orc = &table_;
    code_.add(&img_);
  }
  void add(uint64_t off, OrcEntry e) {
    table_.ips.push_back(K + off);
    table_.entries.push_back(e);
  }
  UnwindResult run(const Frame& f0, UnwindOptions o = {}) { return unwind(Machine::kX86_64, vm_, code_, f0, o); }

  OrcTable table_;
  CodeImage img_;
  CodeImageList code_;
  FakeVm vm_;
};

TEST_F(OrcUnwind, CallFramesKnowOnlySpPcAndBp) {
  const uint64_t s = 0xffffc90000003e00;
  vm_.put64(s + 8, K + 0x210);     // return address at CFA - 8, CFA = s + 16
  vm_.put64(s + 16 + 8, 0xb2b2);   // frame 1: bp at CFA - 16, CFA = s + 16 + 24
  vm_.put64(s + 16 + 16, K + 0x510);
  Frame f0 = initial_frame(Machine::kX86_64, K + 0x110, s, {{kRbp, 0xb0}, {kRbx, 0xb}, {kR12, 0xc}});
  auto r = run(f0);
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete) << r.stop_reason;
  const Frame& f1 = r.frames[1];
  EXPECT_EQ(f1.how, UnwoundBy::kOrc);
  EXPECT_EQ(f1.pc, K + 0x210);
  EXPECT_EQ(f1.sp, s + 16);
  EXPECT_FALSE(f1.pc_exact);
  // bp_reg UNDEFINED: unchanged, with frame 0's provenance.
  EXPECT_EQ(f1.regs.get(kRbp), 0xb0u);
  EXPECT_EQ(f1.loc[kRbp].kind, RegLoc::Kind::kInitial);
  // ORC does not say where rbx/r12 were saved: unknown in the caller.
  EXPECT_FALSE(f1.regs.has(kRbx));
  EXPECT_FALSE(f1.regs.has(kR12));
  EXPECT_EQ(*r.frames[0].cfa, s + 16);
  const Frame& f2 = r.frames[2];
  EXPECT_EQ(f2.pc, K + 0x510);
  EXPECT_EQ(f2.regs.get(kRbp), 0xb2b2u);
  EXPECT_EQ(f2.loc[kRbp].kind, RegLoc::Kind::kSaved);
  EXPECT_EQ(f2.loc[kRbp].cfa_offset, -16);
  EXPECT_EQ(f2.loc[kRbp].frame, 1);
}

TEST_F(OrcUnwind, FullPtRegs) {
  const uint64_t s = 0xffffc90000003e00, isp = s + 0x400;
  put_pt_regs(vm_, s, {{kRip, K + 0x520}, {kCs, 0x10}, {kRsp, isp}, {kRdi, 0xd1}, {kR12, 0xc12}, {kRbp, 0xbb}});
  auto r = run(initial_frame(Machine::kX86_64, K + 0x300, s));
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  const Frame& f1 = r.frames[1];
  EXPECT_EQ(f1.how, UnwoundBy::kException);
  EXPECT_TRUE(f1.pc_exact);
  EXPECT_EQ(*f1.pt_regs_addr, s);
  EXPECT_EQ(f1.pc, K + 0x520);
  EXPECT_EQ(f1.sp, isp);
  EXPECT_EQ(f1.regs.get(kRdi), 0xd1u);
  EXPECT_EQ(f1.regs.get(kR12), 0xc12u);
  EXPECT_EQ(f1.regs.get(kRbp), 0xbbu);
  EXPECT_EQ(f1.loc[kR12].kind, RegLoc::Kind::kPtRegs);
  EXPECT_EQ(f1.loc[kR12].addr, s + 3 * 8);
}

TEST_F(OrcUnwind, CallThroughNullPointer) {
  // A page fault at ip 0: the exception frame's context is at address 0 in
  // kernel mode; its caller's return address is at its sp.
  const uint64_t s = 0xffffc90000003e00, isp = s + 0x400;
  put_pt_regs(vm_, s, {{kRip, 0}, {kCs, 0x10}, {kRsp, isp}, {kRbx, 0xb}, {kRdi, 0xd1}});
  vm_.put64(isp, K + 0xa30);
  auto r = run(initial_frame(Machine::kX86_64, K + 0x300, s));
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete) << r.stop_reason;
  EXPECT_EQ(r.frames[1].pc, 0u);
  EXPECT_EQ(r.frames[1].image, nullptr);
  const Frame& f2 = r.frames[2];
  EXPECT_EQ(f2.pc, K + 0xa30);
  EXPECT_EQ(f2.sp, isp + 8);
  EXPECT_EQ(f2.regs.get(kRbx), 0xbu);
  EXPECT_EQ(f2.loc[kRbx].kind, RegLoc::Kind::kPtRegs);
  EXPECT_FALSE(f2.regs.has(kRdi));
  EXPECT_EQ(f2.loc[kRip].addr, isp);
  ASSERT_FALSE(f2.notes.empty());
  EXPECT_NE(f2.notes[0].find("NULL"), std::string::npos);
  // Frame 0 itself at address 0 (CPU notes of the faulting CPU).
  auto r0 = run(initial_frame(Machine::kX86_64, 0, isp, {{kRbx, 0xb}}));
  ASSERT_EQ(r0.frames.size(), 2u) << r0.stop_reason;
  EXPECT_EQ(r0.frames[1].pc, K + 0xa30);
  EXPECT_TRUE(r0.complete);
  // Not exact (a return address of 0): no code there, stop.
  auto r1 = run(initial_frame(Machine::kX86_64, 0, isp, {}, false));
  EXPECT_EQ(r1.stop_reason, "pc 0x0 is in no known code");
}

TEST_F(OrcUnwind, UserModePtRegs) {
  const uint64_t s = 0xffffc90000003e00;
  put_pt_regs(vm_, s, {{kRip, 0x401000}, {kCs, 0x33}, {kRsp, 0x7ffe0000}});
  auto r = run(initial_frame(Machine::kX86_64, K + 0x300, s));
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_TRUE(r.frames[1].user_mode);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.stop_reason, "");
}

TEST_F(OrcUnwind, PartialPtRegsKnowOnlyTheIretFrame) {
  const uint64_t s = 0xffffc90000003e00, ip_slot = s + 8, isp = s + 0x300;
  vm_.put64(ip_slot, K + 0x530);
  vm_.put64(ip_slot + 8, 0x10);
  vm_.put64(ip_slot + 16, 0x246);
  vm_.put64(ip_slot + 24, isp);
  vm_.put64(ip_slot + 32, 0x18);
  auto r = run(initial_frame(Machine::kX86_64, K + 0x400, s, {{kRax, 1}, {kRbx, 2}, {kRbp, 3}}));
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  const Frame& f1 = r.frames[1];
  EXPECT_EQ(f1.how, UnwoundBy::kException);
  EXPECT_EQ(f1.pc, K + 0x530);
  EXPECT_EQ(f1.sp, isp);
  EXPECT_TRUE(f1.pc_exact);
  EXPECT_EQ(*f1.pt_regs_addr, ip_slot - 128);
  EXPECT_EQ(f1.regs.get(kRflags), 0x246u);
  EXPECT_EQ(f1.loc[kRsp].kind, RegLoc::Kind::kPtRegs);
  EXPECT_FALSE(f1.regs.has(kRax));
  EXPECT_FALSE(f1.regs.has(kRbx));
  EXPECT_FALSE(f1.regs.has(kRbp));
  EXPECT_FALSE(f1.notes.empty());
}

TEST_F(OrcUnwind, UndefinedEntryStops) {
  auto r = run(initial_frame(Machine::kX86_64, K + 0x600, 0xffffc90000003e00, {{kRbp, 0xffffc90000003f00}}));
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_FALSE(r.complete);
  EXPECT_NE(r.stop_reason.find("no unwind information"), std::string::npos) << r.stop_reason;
}

TEST_F(OrcUnwind, SpIndirectSwitchesStacksAndSignalMakesPcExact) {
  // call_on_irqstack: the irq stack's top holds the task stack pointer.
  const uint64_t irq = 0xfffffe0000010f00, task = 0xffffc90000003000;
  vm_.put64(irq, task);
  vm_.put64(task + 8 - 8, K + 0xa00);  // CFA = (sp) + 8: return address at task
  UnwindOptions o;
  o.stacks.push_back({irq - 0x1000, irq + 0x100, "irq"});
  o.stacks.push_back({task - 0x4000, task + 0x1000, "task"});
  auto r = run(initial_frame(Machine::kX86_64, K + 0x700, irq), o);
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].sp, task + 8);
  EXPECT_EQ(r.frames[1].pc, K + 0xa00);
  EXPECT_TRUE(r.frames[1].pc_exact);  // looked up at K + 0xa00, not 0x9ff
  EXPECT_TRUE(r.complete) << r.stop_reason;
}

TEST_F(OrcUnwind, BpBasedNeedsAKnownBp) {
  const uint64_t s = 0xffffc90000003e00, bp = s + 0x40;
  vm_.put64(bp, 0xb1);
  vm_.put64(bp + 8, K + 0xa10);
  auto r = run(initial_frame(Machine::kX86_64, K + 0x800, s, {{kRbp, bp}}));
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].sp, bp + 16);
  EXPECT_EQ(r.frames[1].regs.get(kRbp), 0xb1u);
  auto r2 = run(initial_frame(Machine::kX86_64, K + 0x800, s));
  EXPECT_EQ(r2.frames.size(), 1u);
  EXPECT_NE(r2.stop_reason.find("bp"), std::string::npos) << r2.stop_reason;
}

TEST_F(OrcUnwind, RegisterBaseUsesTheKnownValue) {
  const uint64_t s = 0xffffc90000003e00, di = s + 0x100;
  vm_.put64(di - 8, K + 0xa20);
  auto r = run(initial_frame(Machine::kX86_64, K + 0x900, s, {{kRdi, di}}));
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].sp, di);
  auto r2 = run(initial_frame(Machine::kX86_64, K + 0x900, s));
  EXPECT_EQ(r2.frames.size(), 1u);
  EXPECT_NE(r2.stop_reason.find("rdi"), std::string::npos) << r2.stop_reason;
}

TEST_F(OrcUnwind, UnreadableReturnAddressNamesTheAddress) {
  const uint64_t s = 0xffffc90000003e00;
  auto r = run(initial_frame(Machine::kX86_64, K + 0x110, s));
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_NE(r.stop_reason.find(fmt::format("{:#x}", s + 8)), std::string::npos) << r.stop_reason;
}

// CFI and ORC for the same code: cfi_epilogue's CFI is stale after its pop
// (as GCC's CFI of kernels built without asynchronous unwind tables).
class OrcVsCfi : public ::testing::Test {
 protected:
  void SetUp() override {
    VMC_REQUIRE_UNWIND_FIXTURES();
    img_ = test::load_fixture("cfi_cases.so", int64_t(K));
    ASSERT_TRUE(img_);
    table_.version = 1;
    auto add = [&](uint64_t ip, OrcEntry e) {
      table_.ips.push_back(ip);
      table_.entries.push_back(e);
    };
    // Sorted by ip; UNDEFINED entries end the described ranges (other code
    // falls back to its CFI).
    add(img_->sym("cfi_saves"), entry(orc::kTypeCall, orc::kRegSp, 8));
    add(img_->sym("cfi_saves") + 4, entry(orc::kTypeCall, orc::kRegSp, 32, orc::kRegPrevSp, -16));
    add(img_->sym("cfi_saves") + 8, entry(orc::kTypeCall, orc::kRegSp, 40, orc::kRegPrevSp, -16));
    add(img_->sym("cfi_exprs"), entry(orc::kTypeUndefined, orc::kRegUndefined, 0));
    add(img_->sym("cfi_after"), entry(orc::kTypeCall, orc::kRegSp, 8));
    add(img_->sym("cfi_leaf"), entry(orc::kTypeUndefined, orc::kRegUndefined, 0));
    add(img_->sym("cfi_epilogue_after_pop"), entry(orc::kTypeCall, orc::kRegSp, 8));
    add(img_->sym("cfi_epilogue_after_pop") + 1, entry(orc::kTypeUndefined, orc::kRegUndefined, 0));
    ASSERT_TRUE(std::is_sorted(table_.ips.begin(), table_.ips.end()));
    img_->image.orc = &table_;
    img_->image.kernel = true;
    code_.add(&img_->image);
  }
  std::unique_ptr<test::LoadedImage> img_;
  OrcTable table_;
  CodeImageList code_;
  FakeVm vm_;
};

TEST_F(OrcVsCfi, DisagreementAtAnExactPcTrustsOrc) {
  const uint64_t s = 0xffffc90000003e00;
  vm_.put64(s, img_->sym("cfi_outermost_ret"));  // the real return address
  vm_.put64(s + 8, 0xdeadbeef);                  // what stale CFI would take
  auto r = unwind(Machine::kX86_64, vm_, code_,
                  initial_frame(Machine::kX86_64, img_->sym("cfi_epilogue_after_pop"), s, {{kRbx, 0x77}}), {});
  ASSERT_GE(r.frames.size(), 2u) << r.stop_reason;
  const Frame& f1 = r.frames[1];
  EXPECT_EQ(f1.how, UnwoundBy::kOrc);
  EXPECT_EQ(f1.pc, img_->sym("cfi_outermost_ret"));
  EXPECT_EQ(f1.sp, s + 8);
  EXPECT_FALSE(f1.regs.has(kRbx));  // CFI's "rbx at CFA-16" is not used
  ASSERT_FALSE(f1.notes.empty());
  EXPECT_NE(f1.notes[0].find("ORC used"), std::string::npos) << f1.notes[0];
}

TEST_F(OrcVsCfi, CfiThatCannotFinishFallsBackToOrc) {
  // Stale CFI at the exact pc reads the return address at CFA - 8 = s + 8,
  // which is unreadable; ORC (CFA = s + 8, return address at s) works.
  const uint64_t s = 0xffffc90000003e00;
  vm_.put64(s, img_->sym("cfi_outermost_ret"));
  auto r = unwind(Machine::kX86_64, vm_, code_,
                  initial_frame(Machine::kX86_64, img_->sym("cfi_epilogue_after_pop"), s), {});
  ASSERT_GE(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].how, UnwoundBy::kOrc);
  EXPECT_EQ(r.frames[1].pc, img_->sym("cfi_outermost_ret"));
}

TEST_F(OrcVsCfi, AgreementKeepsCfiAndItsSaveRules) {
  // Exact pc after the three pushes of cfi_saves: CFA = rsp + 32 by both.
  const uint64_t s = 0xffffc90000003e00;
  vm_.put64(s, 0x1212);
  vm_.put64(s + 8, 0xb0b0);
  vm_.put64(s + 16, 0xbbbb);
  vm_.put64(s + 24, img_->sym("cfi_outermost_ret"));
  auto r = unwind(Machine::kX86_64, vm_, code_, initial_frame(Machine::kX86_64, img_->sym("cfi_saves") + 4, s), {});
  ASSERT_GE(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].how, UnwoundBy::kCfi);
  EXPECT_EQ(r.frames[1].regs.get(kRbx), 0xb0b0u);
  EXPECT_EQ(r.frames[1].regs.get(kR12), 0x1212u);
  EXPECT_TRUE(r.frames[1].notes.empty());
}

}  // namespace
}  // namespace vmc
