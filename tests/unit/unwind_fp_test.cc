// Frame-pointer unwinding and exception frames found through the kernel's
// encoded frame pointers, x86-64 and i386, over fake stacks.
#include <gtest/gtest.h>

#include "arch/frames_x86.h"
#include "dwarf/unwind.h"
#include "unwind_fakes.h"

namespace vmc {
namespace {

using test::FakeVm;
using test::initial_frame;

constexpr uint64_t kText64 = 0xffffffff81000000;
constexpr uint64_t kText32 = 0xc1000000;

// Writes a pt_regs at `addr`: every slot gets `fill + slot`, then the
// given registers (by DWARF number) their values.
void put_pt_regs(FakeVm& vm, Machine m, uint64_t addr, std::map<unsigned, uint64_t> regs, unsigned slots = 0) {
  const RegisterInfo& ri = register_info(m);
  unsigned n = slots ? slots : x86::pt_regs_slots(m);
  for (unsigned i = 0; i < n; ++i) {
    uint64_t v = 0x1000 + i;
    if (ri.pt_regs[i] != kNoReg && regs.count(ri.pt_regs[i])) v = regs[ri.pt_regs[i]];
    vm.put(addr + uint64_t(i) * ri.reg_size, ri.reg_size, v);
  }
}

struct Images {
  CodeImage kernel, user;
  CodeImageList code;
  Images(uint64_t ktext, uint64_t utext) {
    kernel.name = "vmlinux";
    kernel.kernel = true;
    kernel.text.push_back({ktext, ktext + 0x1000000});
    user.name = "a.out";
    user.text.push_back({utext, utext + 0x100000});
    code.add(&kernel);
    code.add(&user);
  }
};

TEST(FramePointer, ChainOnX86_64) {
  Images im(kText64, 0x400000);
  FakeVm vm;
  const uint64_t s = 0xffffc90000003e00, b1 = s + 0x40, b2 = b1 + 0x80;
  vm.put64(b1, b2);
  vm.put64(b1 + 8, kText64 + 0x200);
  vm.put64(b2, 0);
  vm.put64(b2 + 8, kText64 + 0x300);
  Frame f0 = initial_frame(Machine::kX86_64, kText64 + 0x100, s, {{x86_64::kRbp, b1}, {x86_64::kRbx, 5}});
  auto r = unwind(Machine::kX86_64, vm, im.code, f0, {});
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete) << r.stop_reason;
  const Frame& f1 = r.frames[1];
  EXPECT_EQ(f1.how, UnwoundBy::kFramePointer);
  EXPECT_EQ(f1.pc, kText64 + 0x200);
  EXPECT_EQ(f1.sp, b1 + 16);
  EXPECT_EQ(f1.regs.get(x86_64::kRbp), b2);
  EXPECT_EQ(f1.loc[x86_64::kRbp].kind, RegLoc::Kind::kSaved);
  EXPECT_EQ(f1.loc[x86_64::kRbp].addr, b1);
  EXPECT_EQ(f1.loc[x86_64::kRbp].cfa_offset, -16);
  EXPECT_EQ(f1.loc[x86_64::kRip].cfa_offset, -8);
  EXPECT_FALSE(f1.regs.has(x86_64::kRbx));  // FP frames know only bp, sp, pc
  ASSERT_TRUE(r.frames[0].cfa);
  EXPECT_EQ(*r.frames[0].cfa, b1 + 16);
  EXPECT_EQ(r.frames[2].pc, kText64 + 0x300);
}

TEST(FramePointer, FramePointerBelowSpIsNotAFrame) {
  Images im(kText64, 0x400000);
  FakeVm vm;
  const uint64_t s = 0xffffc90000003e00;
  auto r = unwind(Machine::kX86_64, vm, im.code,
                  initial_frame(Machine::kX86_64, kText64 + 0x100, s, {{x86_64::kRbp, s - 0x10}}), {});
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_FALSE(r.complete);
  EXPECT_NE(r.stop_reason.find("lies below sp"), std::string::npos) << r.stop_reason;
}

TEST(FramePointer, UnknownBpStopsWithEveryReason) {
  Images im(kText64, 0x400000);
  FakeVm vm;
  auto r = unwind(Machine::kX86_64, vm, im.code, initial_frame(Machine::kX86_64, kText64 + 0x100, 0x1000), {});
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_NE(r.stop_reason.find("cannot unwind"), std::string::npos) << r.stop_reason;
  EXPECT_NE(r.stop_reason.find("rbp is not known"), std::string::npos) << r.stop_reason;
}

TEST(ExceptionFrames, EncodedFramePointerOnX86_64) {
  Images im(kText64, 0x400000);
  FakeVm vm;
  const uint64_t s = 0xffffc90000003c00, b1 = s + 0x20, regs = b1 + 0x40;
  vm.put64(b1, regs | 1);                  // entry code's ENCODE_FRAME_POINTER
  vm.put64(b1 + 8, kText64 + 0x500);       // return into the entry stub
  const uint64_t isp = regs + 0x200, b3 = isp + 0x30;
  put_pt_regs(vm, Machine::kX86_64, regs,
              {{x86_64::kRip, kText64 + 0x600}, {x86_64::kCs, 0x10}, {x86_64::kRsp, isp}, {x86_64::kRbp, b3},
               {x86_64::kRdi, 0xd1}, {x86_64::kRbx, 0xb1}, {x86_64::kSs, 0x18}, {x86_64::kRflags, 0x246}});
  vm.put64(b3, 0);
  vm.put64(b3 + 8, kText64 + 0x700);
  auto r = unwind(Machine::kX86_64, vm, im.code, initial_frame(Machine::kX86_64, kText64 + 0x100, s, {{x86_64::kRbp, b1}}),
                  {});
  ASSERT_EQ(r.frames.size(), 4u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.frames[1].pc, kText64 + 0x500);
  const Frame& f2 = r.frames[2];
  EXPECT_EQ(f2.how, UnwoundBy::kException);
  EXPECT_TRUE(f2.pc_exact);
  EXPECT_FALSE(f2.user_mode);
  ASSERT_TRUE(f2.pt_regs_addr);
  EXPECT_EQ(*f2.pt_regs_addr, regs);
  EXPECT_EQ(f2.pc, kText64 + 0x600);
  EXPECT_EQ(f2.sp, isp);
  EXPECT_EQ(f2.regs.get(x86_64::kRdi), 0xd1u);
  EXPECT_EQ(f2.loc[x86_64::kRdi].kind, RegLoc::Kind::kPtRegs);
  EXPECT_EQ(f2.loc[x86_64::kRdi].addr, regs + 14 * 8);
  EXPECT_EQ(f2.regs.get(x86_64::kRbx), 0xb1u);
  EXPECT_EQ(f2.regs.get(x86_64::kCs), 0x10u);
  EXPECT_EQ(r.frames[3].pc, kText64 + 0x700);
}

TEST(ExceptionFrames, UserModePtRegsEndTheWalk) {
  Images im(kText64, 0x400000);
  FakeVm vm;
  const uint64_t s = 0xffffc90000003c00, b1 = s + 0x20, regs = b1 + 0x40;
  vm.put64(b1, regs | 1);
  vm.put64(b1 + 8, kText64 + 0x500);
  put_pt_regs(vm, Machine::kX86_64, regs,
              {{x86_64::kRip, 0x401000}, {x86_64::kCs, 0x33}, {x86_64::kRsp, 0x7ffe0000}, {x86_64::kSs, 0x2b}});
  auto r = unwind(Machine::kX86_64, vm, im.code, initial_frame(Machine::kX86_64, kText64 + 0x100, s, {{x86_64::kRbp, b1}}),
                  {});
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_TRUE(r.frames[2].user_mode);
  EXPECT_EQ(r.frames[2].pc, 0x401000u);
}

TEST(ExceptionFrames, OddFramePointerInUserCodeIsNotDecoded) {
  Images im(kText64, 0x400000);
  FakeVm vm;
  const uint64_t s = 0x7ffe0000, b1 = s + 0x21;  // odd, but this is user code
  vm.put64(b1, 0);
  vm.put64(b1 + 8, 0x400800);
  auto r = unwind(Machine::kX86_64, vm, im.code, initial_frame(Machine::kX86_64, 0x400100, s, {{x86_64::kRbp, b1}}), {});
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].how, UnwoundBy::kFramePointer);
  EXPECT_EQ(r.frames[1].pc, 0x400800u);
}

TEST(ExceptionFrames, EncodedFramePointerOnI386) {
  Images im(kText32, 0x08048000);
  FakeVm vm;
  const uint64_t s = 0xc5001e00, b1 = s + 0x20, regs = b1 + 0x40;
  vm.put32(b1, regs & 0x7fffffff);  // ENCODE_FRAME_POINTER: top bit cleared
  vm.put32(b1 + 4, kText32 + 0x500);
  const uint64_t isp = regs + 0x100, b3 = isp + 0x20;
  put_pt_regs(vm, Machine::kI386, regs,
              {{i386::kEip, kText32 + 0x600}, {i386::kCs, 0x60}, {i386::kEsp, isp}, {i386::kEbp, b3},
               {i386::kEax, 0xa1}, {i386::kEflags, 0x246}});
  vm.put32(b3, 0);
  vm.put32(b3 + 4, kText32 + 0x700);
  auto r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), {});
  ASSERT_EQ(r.frames.size(), 4u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  const Frame& f2 = r.frames[2];
  EXPECT_EQ(f2.how, UnwoundBy::kException);
  EXPECT_EQ(*f2.pt_regs_addr, regs);
  EXPECT_EQ(f2.pc, kText32 + 0x600);
  EXPECT_EQ(f2.sp, isp);
  EXPECT_EQ(f2.regs.get(i386::kEax), 0xa1u);
  EXPECT_EQ(f2.loc[i386::kEax].addr, regs + 6 * 4);
  EXPECT_EQ(r.frames[3].pc, kText32 + 0x700);
}

TEST(ExceptionFrames, I386UserModeByRplOrVm86) {
  for (auto [cs, flags] : {std::pair<uint64_t, uint64_t>{0x73, 0x246}, {0x0, 0x20246}}) {
    Images im(kText32, 0x08048000);
    FakeVm vm;
    const uint64_t s = 0xc5001e00, b1 = s + 0x20, regs = b1 + 0x40;
    vm.put32(b1, regs & 0x7fffffff);
    vm.put32(b1 + 4, kText32 + 0x500);
    put_pt_regs(vm, Machine::kI386, regs,
                {{i386::kEip, 0x8049000}, {i386::kCs, cs | 0xabcd0000}, {i386::kEflags, flags}, {i386::kEsp, 0xbfff0000}});
    auto r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), {});
    ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
    EXPECT_TRUE(r.frames[2].user_mode) << cs;
    EXPECT_TRUE(r.complete);
    // The high half of the CS slot (__csh, CS_FROM_* flags) is not the selector.
    EXPECT_EQ(r.frames[2].regs.get(i386::kCs), cs);
  }
}

TEST(ExceptionFrames, I386ShortKernelPtRegsBefore5_3) {
  Images im(kText32, 0x08048000);
  FakeVm vm;
  const uint64_t s = 0xc5001e00, b1 = s + 0x20, regs = b1 + 0x40;
  vm.put32(b1, regs & 0x7fffffff);
  vm.put32(b1 + 4, kText32 + 0x500);
  // Only 15 slots: no sp/ss for a kernel-mode context.
  put_pt_regs(vm, Machine::kI386, regs, {{i386::kEip, kText32 + 0x600}, {i386::kCs, 0x60}, {i386::kEbp, 0}}, 15);
  UnwindOptions o;
  o.i386_short_kernel_pt_regs = true;
  auto r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), o);
  ASSERT_GE(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_EQ(r.frames[2].sp, regs + 15 * 4);  // &regs->sp
  // Without the option the missing slots make the read fail, naming them.
  auto r2 = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), {});
  EXPECT_EQ(r2.frames.size(), 2u);
  EXPECT_NE(r2.stop_reason.find("pt_regs"), std::string::npos) << r2.stop_reason;
}

TEST(FramePointer, ChainOnI386AndStackLimits) {
  Images im(kText32, 0x08048000);
  FakeVm vm;
  // A loop: the frame points at itself.
  const uint64_t s = 0xc5001e00, b1 = s + 0x20;
  vm.put32(b1, b1);
  vm.put32(b1 + 4, kText32 + 0x200);
  auto r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), {});
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_FALSE(r.complete);
  EXPECT_NE(r.stop_reason.find("lies below sp"), std::string::npos) << r.stop_reason;
}

}  // namespace
}  // namespace vmc

namespace vmc {
namespace {

// i386 system calls: entry_SYSENTER_32 builds pt_regs at the top of the
// stack and calls C without encoding the frame pointer; the thread's
// task_pt_regs finds it (the kernel's is_last_task_frame()).
TEST(TaskPtRegs, I386SystemCallEntryWithoutEncodedFramePointer) {
  Images im(kText32, 0x08048000);
  FakeVm vm;
  const uint64_t stack_lo = 0xc5000000, stack_hi = stack_lo + 0x2000, regs = stack_hi - 8 - 68;
  const uint64_t s = regs - 0x40, b1 = regs - 8;  // the C function's frame right below pt_regs
  vm.put32(b1, 0xbfff0100);                        // the user's ebp (not an encoded pointer)
  vm.put32(b1 + 4, kText32 + 0x800);                // return into entry_SYSENTER_32
  put_pt_regs(vm, Machine::kI386, regs,
              {{i386::kEip, 0x8049000}, {i386::kCs, 0x73}, {i386::kEsp, 0xbfff0000}, {i386::kEbp, 0xbfff0100}});
  UnwindOptions o;
  o.stacks.push_back({stack_lo, stack_hi, "task"});
  Frame f0 = initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}});
  auto without = unwind(Machine::kI386, vm, im.code, f0, o);
  EXPECT_EQ(without.frames.size(), 2u);
  EXPECT_FALSE(without.complete);  // the user ebp lies below sp: no way on
  o.task_pt_regs = regs;
  auto r = unwind(Machine::kI386, vm, im.code, f0, o);
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.frames[1].sp, regs);
  EXPECT_TRUE(r.frames[2].user_mode);
  EXPECT_EQ(*r.frames[2].pt_regs_addr, regs);
  EXPECT_EQ(r.frames[2].pc, 0x8049000u);
}

TEST(TaskPtRegs, KernelThreadEndsAtItsEmptyRegs) {
  Images im(kText32, 0x08048000);
  FakeVm vm;
  const uint64_t stack_lo = 0xc5000000, stack_hi = stack_lo + 0x2000, regs = stack_hi - 8 - 68;
  const uint64_t s = regs - 0x40, b1 = regs - 8;
  vm.put32(b1, regs & 0x7fffffff);  // copy_thread(): frame->bp = encode_frame_pointer(childregs)
  vm.put32(b1 + 4, kText32 + 0x900);  // ret_from_fork
  put_pt_regs(vm, Machine::kI386, regs, {});
  for (unsigned i = 0; i < 17; ++i) vm.put32(regs + 4 * i, 0);  // empty regs
  UnwindOptions o;
  o.stacks.push_back({stack_lo, stack_hi, "task"});
  // With task_pt_regs the walk ends at ret_from_fork's frame.
  o.task_pt_regs = regs;
  auto r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), o);
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_TRUE(r.complete) << r.stop_reason;
  // Without it, the encoded frame pointer leads to the same empty regs,
  // whose zero ip also ends the walk.
  o.task_pt_regs.reset();
  r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), o);
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_TRUE(r.complete) << r.stop_reason;
}

TEST(ExceptionFrames, EncodedPointerOffTheStacksIsNotTrusted) {
  // The boot CPU's idle task on i386 starts with ebp = 0x01000000, which
  // looks like an encoded pointer to 0x81000000.
  Images im(kText32, 0x08048000);
  FakeVm vm;
  const uint64_t stack_lo = 0xc5000000, stack_hi = stack_lo + 0x2000, s = stack_hi - 0x100, b1 = s + 0x10;
  vm.put32(b1, 0x01000000);
  vm.put32(b1 + 4, kText32 + 0x900);
  UnwindOptions o;
  o.stacks.push_back({stack_lo, stack_hi, "task"});
  auto r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), o);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_NE(r.stop_reason.find("would put pt_regs at 0x81000000, outside the thread's stacks"), std::string::npos)
      << r.stop_reason;
}

TEST(StackRanges, SpAtTheTopOfAStackBelongsToIt) {
  // i386 call_on_stack(): the return address into the caller sits at the
  // very top of the IRQ stack, so that frame's sp equals the stack's end.
  Images im(kText32, 0x08048000);
  FakeVm vm;
  const uint64_t irq_lo = 0xc1195000, irq_hi = 0xc1196000, task_lo = 0xc117e000, task_hi = 0xc1180000;
  const uint64_t s = irq_hi - 0x20, b1 = irq_hi - 8, b2 = task_hi - 0x200;
  vm.put32(b1, b2);                   // the caller's ebp on the task stack
  vm.put32(b1 + 4, kText32 + 0x300);  // return address at irq_hi - 4
  vm.put32(b2, 0);
  vm.put32(b2 + 4, kText32 + 0x400);
  UnwindOptions o;
  o.stacks.push_back({irq_lo, irq_hi, "irq"});
  o.stacks.push_back({task_lo, task_hi, "task"});
  auto r = unwind(Machine::kI386, vm, im.code, initial_frame(Machine::kI386, kText32 + 0x100, s, {{i386::kEbp, b1}}), o);
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].sp, irq_hi);
  EXPECT_EQ(r.frames[2].sp, b2 + 8);
  EXPECT_TRUE(r.complete);
}

}  // namespace
}  // namespace vmc
