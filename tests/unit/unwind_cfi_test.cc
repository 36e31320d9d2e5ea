// DWARF CFI unwinding over fake stacks laid out as the hand-written
// functions of tests/programs/cfi_cases*.S expect, and the CFI expression
// evaluator on its own.
#include <gtest/gtest.h>

#include <dwarf.h>

#include "dwarf/cfi.h"
#include "dwarf/unwind.h"
#include "unwind_fakes.h"

namespace vmc {
namespace {

using test::FakeVm;
using test::initial_frame;
using test::load_fixture;
using namespace x86_64;

constexpr int64_t kBias = 0x7f1234560000;

class CfiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VMC_REQUIRE_UNWIND_FIXTURES();
    img_ = load_fixture("cfi_cases.so", kBias);
    ASSERT_TRUE(img_);
    code_.add(&img_->image);
  }
  uint64_t sym(const char* n) const { return img_->sym(n); }
  UnwindResult run(const Frame& f0, UnwindOptions o = {}) { return unwind(Machine::kX86_64, vm_, code_, f0, o); }

  std::unique_ptr<test::LoadedImage> img_;
  CodeImageList code_;
  FakeVm vm_;
};

// cfi_leaf (exact) -> cfi_saves (at cfi_saves_ret) -> cfi_outermost.
TEST_F(CfiTest, SavedRegistersSameValueAndCallerSaved) {
  const uint64_t s0 = 0x7ffd00001000, s1 = s0 + 8;
  vm_.put64(s0, sym("cfi_saves_ret"));
  vm_.put64(s1 + 8, 0x1212);                    // saved r12
  vm_.put64(s1 + 16, 0xb0b0);                   // saved rbx
  vm_.put64(s1 + 24, 0xbbbb);                   // saved rbp
  vm_.put64(s1 + 32, sym("cfi_outermost_ret"));  // return address
  Frame f0 = initial_frame(Machine::kX86_64, sym("cfi_leaf") + 1, s0,
                           {{kRbx, 0x1111}, {kRbp, 0x2222}, {kR12, 0x3333}, {kR13, 0x1313}, {kRdi, 0xd1}, {kRax, 0xa0}});
  auto r = run(f0);
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete) << r.stop_reason;
  EXPECT_EQ(r.stop_reason, "");

  const Frame& f1 = r.frames[1];
  EXPECT_EQ(f1.how, UnwoundBy::kCfi);
  EXPECT_EQ(f1.pc, sym("cfi_saves_ret"));
  EXPECT_EQ(f1.sp, s1);
  EXPECT_FALSE(f1.pc_exact);
  ASSERT_TRUE(r.frames[0].cfa);
  EXPECT_EQ(*r.frames[0].cfa, s1);
  // The leaf has no rules: callee-saved registers carry over with their
  // provenance; caller-saved ones (rdi, and rax which libdw calls
  // same-value) are unknown.
  EXPECT_EQ(f1.regs.get(kRbx), 0x1111u);
  EXPECT_EQ(f1.loc[kRbx].kind, RegLoc::Kind::kInitial);
  EXPECT_EQ(f1.regs.get(kR13), 0x1313u);
  EXPECT_FALSE(f1.regs.has(kRdi));
  EXPECT_FALSE(f1.regs.has(kRax));
  EXPECT_FALSE(f1.regs.has(kR14));
  EXPECT_EQ(f1.loc[kRip].kind, RegLoc::Kind::kSaved);
  EXPECT_EQ(f1.loc[kRip].addr, s0);
  EXPECT_EQ(f1.loc[kRsp].kind, RegLoc::Kind::kComputed);

  const Frame& f2 = r.frames[2];
  EXPECT_EQ(f2.pc, sym("cfi_outermost_ret"));
  EXPECT_EQ(f2.sp, s1 + 40);
  ASSERT_TRUE(r.frames[1].cfa);
  EXPECT_EQ(*r.frames[1].cfa, s1 + 40);
  EXPECT_EQ(f2.regs.get(kR12), 0x1212u);
  EXPECT_EQ(f2.loc[kR12].kind, RegLoc::Kind::kSaved);
  EXPECT_EQ(f2.loc[kR12].frame, 1);
  EXPECT_EQ(f2.loc[kR12].addr, s1 + 8);
  EXPECT_EQ(f2.loc[kR12].cfa_offset, -32);
  EXPECT_EQ(f2.regs.get(kRbx), 0xb0b0u);
  EXPECT_EQ(f2.loc[kRbx].cfa_offset, -24);
  EXPECT_EQ(f2.regs.get(kRbp), 0xbbbbu);
  EXPECT_EQ(f2.loc[kRbp].cfa_offset, -16);
  // r13 was never saved: still frame 0's value and provenance.
  EXPECT_EQ(f2.regs.get(kR13), 0x1313u);
  EXPECT_EQ(f2.loc[kR13].kind, RegLoc::Kind::kInitial);
  // The outermost frame's CFA is still computed.
  ASSERT_TRUE(f2.cfa);
  EXPECT_EQ(*f2.cfa, s1 + 48);
}

// Every rule kind, starting at a return address (pc_exact = false).
TEST_F(CfiTest, ExpressionValueRegisterAndUndefinedRules) {
  const uint64_t s = 0x7ffd00002000, bp = s + 32, cfa = bp + 16;
  vm_.put64(bp, 0x5151);                       // caller's rbp
  vm_.put64(bp + 8, sym("cfi_outermost_ret"));  // return address
  vm_.put64(bp - 8, 0xc12c12);                  // r12 per DW_CFA_expression
  Frame f0 = initial_frame(Machine::kX86_64, sym("cfi_exprs_ret"), s,
                           {{kRbp, bp}, {kR11, 0xaa11}, {kR15, 0xf15}, {kR13, 0x13}, {kR12, 0x12}, {kRbx, 0xb}},
                           /*exact=*/false);
  auto r = run(f0);
  ASSERT_GE(r.frames.size(), 2u) << r.stop_reason;
  const Frame& f1 = r.frames[1];
  EXPECT_EQ(f1.pc, sym("cfi_outermost_ret"));
  EXPECT_EQ(f1.sp, cfa);
  EXPECT_EQ(f1.regs.get(kRbp), 0x5151u);
  EXPECT_EQ(f1.loc[kRbp].cfa_offset, -16);
  // r14 <- r11 (DW_CFA_register): value and provenance of frame 0's r11.
  EXPECT_EQ(f1.regs.get(kR14), 0xaa11u);
  EXPECT_EQ(f1.loc[kR14].kind, RegLoc::Kind::kInitial);
  // r15 explicitly undefined although callee-saved.
  EXPECT_FALSE(f1.regs.has(kR15));
  // r13 = CFA - 8 (val_offset), computed by frame 0.
  EXPECT_EQ(f1.regs.get(kR13), cfa - 8);
  EXPECT_EQ(f1.loc[kR13].kind, RegLoc::Kind::kComputed);
  EXPECT_EQ(f1.loc[kR13].frame, 0);
  // r12 saved at rbp - 8 (expression): a memory location.
  EXPECT_EQ(f1.regs.get(kR12), 0xc12c12u);
  EXPECT_EQ(f1.loc[kR12].kind, RegLoc::Kind::kSaved);
  EXPECT_EQ(f1.loc[kR12].addr, bp - 8);
  EXPECT_EQ(f1.loc[kR12].cfa_offset, -24);
  // rbx = rsp + 32 (val_expression).
  EXPECT_EQ(f1.regs.get(kRbx), s + 32);
  EXPECT_EQ(f1.loc[kRbx].kind, RegLoc::Kind::kComputed);
  EXPECT_TRUE(r.complete);
}

TEST_F(CfiTest, RegisterRuleNeedsTheSourceRegister) {
  const uint64_t s = 0x7ffd00002000, bp = s + 32;
  vm_.put64(bp, 0x5151);
  vm_.put64(bp + 8, sym("cfi_outermost_ret"));
  vm_.put64(bp - 8, 0);
  Frame f0 = initial_frame(Machine::kX86_64, sym("cfi_exprs_ret"), s, {{kRbp, bp}, {kR14, 0x14}}, false);
  auto r = run(f0);
  ASSERT_GE(r.frames.size(), 2u);
  EXPECT_FALSE(r.frames[1].regs.has(kR14));  // r11 unknown in frame 0, never r14's own value
}

TEST_F(CfiTest, CfaExpressionWithDerefMaySwitchStacks) {
  // CFA = *(rsp + 8): the caller's stack lies below this one.
  const uint64_t s = 0x7ffd00003000, other = 0x7ffc00000100;
  vm_.put64(s + 8, other);
  vm_.put64(other - 8, sym("cfi_outermost_ret"));
  Frame f0 = initial_frame(Machine::kX86_64, sym("cfi_cfa_deref_ret"), s, {}, false);
  auto r = run(f0);
  ASSERT_EQ(r.frames.size(), 2u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].sp, other);
  EXPECT_EQ(r.frames[1].pc, sym("cfi_outermost_ret"));
  EXPECT_TRUE(r.complete);

  // Unreadable CFA memory ends the walk with the address in the reason.
  FakeVm empty;
  auto r2 = unwind(Machine::kX86_64, empty, code_, f0, {});
  EXPECT_EQ(r2.frames.size(), 1u);
  EXPECT_FALSE(r2.complete);
  EXPECT_NE(r2.stop_reason.find(fmt::format("{:#x}", s + 8)), std::string::npos) << r2.stop_reason;
}

TEST_F(CfiTest, SignalFrameMakesTheInterruptedPcExact) {
  // handler (cfi_leaf) returns into cfi_sigtramp, whose context restores
  // rip, rsp, rdi and rbx of code interrupted inside cfi_saves after its
  // three pushes (exact pc cfi_saves + 4: CFA = rsp + 32).
  const uint64_t s0 = 0x7ffd00004000, s1 = s0 + 8, isp = 0x7ffd00005000;
  vm_.put64(s0, sym("cfi_sigtramp"));
  vm_.put64(s1 + 0, sym("cfi_saves") + 4);
  vm_.put64(s1 + 8, isp);
  vm_.put64(s1 + 16, 0xd1d1);
  vm_.put64(s1 + 24, 0xb1b1);
  vm_.put64(isp + 0, 0x1212);
  vm_.put64(isp + 8, 0xb2b2);
  vm_.put64(isp + 16, 0xbbbb);
  vm_.put64(isp + 24, sym("cfi_outermost_ret"));
  Frame f0 = initial_frame(Machine::kX86_64, sym("cfi_leaf"), s0);
  auto r = run(f0);
  ASSERT_EQ(r.frames.size(), 4u) << r.stop_reason;
  EXPECT_EQ(r.frames[1].pc, sym("cfi_sigtramp"));
  EXPECT_FALSE(r.frames[1].pc_exact);
  const Frame& f2 = r.frames[2];
  EXPECT_EQ(f2.pc, sym("cfi_saves") + 4);
  EXPECT_TRUE(f2.pc_exact);
  EXPECT_EQ(f2.sp, isp);
  EXPECT_EQ(f2.loc[kRsp].kind, RegLoc::Kind::kSaved);
  // A caller-saved register with an explicit rule is known.
  EXPECT_EQ(f2.regs.get(kRdi), 0xd1d1u);
  EXPECT_EQ(f2.loc[kRdi].addr, s1 + 16);
  EXPECT_EQ(f2.regs.get(kRbx), 0xb1b1u);
  // Looked up exactly: CFA = isp + 32, rbx at CFA - 24.
  const Frame& f3 = r.frames[3];
  EXPECT_EQ(f3.pc, sym("cfi_outermost_ret"));
  EXPECT_EQ(f3.sp, isp + 32);
  EXPECT_EQ(f3.regs.get(kRbx), 0xb2b2u);
  EXPECT_TRUE(r.complete);
}

TEST_F(CfiTest, ReturnAddressAtFunctionEndIsLookedUpAtPcMinusOne) {
  // cfi_noreturn's last instruction is a call: its return address is the
  // first byte of cfi_after. pc - 1 finds cfi_noreturn's CFI (CFA = rsp +
  // 16), not cfi_after's (CFA = rsp + 8).
  const uint64_t s0 = 0x7ffd00006000, s1 = s0 + 8;
  ASSERT_EQ(sym("cfi_noreturn_end"), sym("cfi_after"));
  vm_.put64(s0, sym("cfi_after"));
  vm_.put64(s1, 0xb0b0);
  vm_.put64(s1 + 8, sym("cfi_outermost_ret"));
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_leaf"), s0, {{kRbx, 1}}));
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_EQ(r.frames[2].pc, sym("cfi_outermost_ret"));
  EXPECT_EQ(r.frames[2].regs.get(kRbx), 0xb0b0u);
}

TEST_F(CfiTest, DebugFrameIsUsedWhenThereIsNoEhFrame) {
  auto df = load_fixture("cfi_cases_debug_frame.so", kBias);
  ASSERT_TRUE(df);
  ASSERT_EQ(df->image.eh_frame, nullptr);
  ASSERT_NE(df->image.debug_frame, nullptr);
  CodeImageList code;
  code.add(&df->image);
  const uint64_t s0 = 0x7ffd00001000, s1 = s0 + 8;
  vm_.put64(s0, df->sym("cfi_saves_ret"));
  vm_.put64(s1 + 8, 0x1212);
  vm_.put64(s1 + 16, 0xb0b0);
  vm_.put64(s1 + 24, 0xbbbb);
  vm_.put64(s1 + 32, df->sym("cfi_outermost_ret"));
  auto r = unwind(Machine::kX86_64, vm_, code, initial_frame(Machine::kX86_64, df->sym("cfi_leaf"), s0), {});
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_EQ(r.frames[2].regs.get(kR12), 0x1212u);
  EXPECT_TRUE(r.complete);
}

TEST_F(CfiTest, UnreadableSavedRegisterIsUnknownWithANote) {
  const uint64_t s0 = 0x7ffd00001000, s1 = s0 + 8;
  vm_.put64(s0, sym("cfi_saves_ret"));
  vm_.put64(s1 + 16, 0xb0b0);
  vm_.put64(s1 + 24, 0xbbbb);
  vm_.put64(s1 + 32, sym("cfi_outermost_ret"));  // r12's slot s1+8 is missing
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_leaf"), s0, {{kR12, 7}}));
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_FALSE(r.frames[2].regs.has(kR12));
  ASSERT_FALSE(r.frames[2].notes.empty());
  EXPECT_NE(r.frames[2].notes[0].find(fmt::format("{:#x}", s1 + 8)), std::string::npos) << r.frames[2].notes[0];
}

TEST_F(CfiTest, UnreadableReturnAddressStopsAndKeepsFrames) {
  const uint64_t s0 = 0x7ffd00001000, s1 = s0 + 8;
  vm_.put64(s0, sym("cfi_saves_ret"));
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_leaf"), s0));
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_FALSE(r.complete);
  EXPECT_NE(r.stop_reason.find(fmt::format("{:#x}", s1 + 32)), std::string::npos) << r.stop_reason;
  EXPECT_NE(r.stop_reason.find("not mapped"), std::string::npos) << r.stop_reason;
}

TEST_F(CfiTest, ReturnIntoUnknownCodeIsKeptAndStops) {
  const uint64_t s0 = 0x7ffd00001000;
  vm_.put64(s0, 0x401234);
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_leaf"), s0));
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[1].pc, 0x401234u);
  EXPECT_EQ(r.frames[1].image, nullptr);
  EXPECT_EQ(r.stop_reason, "pc 0x401234 is in no known code");
  EXPECT_FALSE(r.complete);
}

TEST_F(CfiTest, InitialPcInNoKnownCode) {
  auto r = run(initial_frame(Machine::kX86_64, 0x1000, 0x7ffd00001000));
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.stop_reason, "pc 0x1000 is in no known code");
}

// A self-recursive stack: cfi_saves calling itself through cfi_leaf.
void build_recursion(FakeVm& vm, uint64_t s0, uint64_t ret, int depth) {
  vm.put64(s0, ret);
  uint64_t s = s0 + 8;
  for (int i = 0; i < depth; ++i, s += 40) {
    vm.put64(s + 8, i);
    vm.put64(s + 16, i);
    vm.put64(s + 24, i);
    vm.put64(s + 32, ret);
  }
}

TEST_F(CfiTest, MaxFramesKeepsWhatWasGatheredAndTheLastCfa) {
  const uint64_t s0 = 0x7ffd00010000;
  build_recursion(vm_, s0, sym("cfi_saves_ret"), 50);
  UnwindOptions o;
  o.max_frames = 5;
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_leaf"), s0), o);
  ASSERT_EQ(r.frames.size(), 5u);
  EXPECT_EQ(r.stop_reason, "stopped at the limit of 5 frames");
  ASSERT_TRUE(r.frames[4].cfa);
  EXPECT_EQ(*r.frames[4].cfa, r.frames[4].sp + 40);
}

TEST_F(CfiTest, StackRangesBoundTheWalk) {
  const uint64_t s0 = 0x7ffd00010000;
  build_recursion(vm_, s0, sym("cfi_saves_ret"), 50);
  UnwindOptions o;
  o.stacks.push_back({s0, s0 + 8 + 3 * 40 - 8, "task"});
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_leaf"), s0), o);
  EXPECT_EQ(r.frames.size(), 4u);
  EXPECT_NE(r.stop_reason.find("outside the thread's stacks"), std::string::npos) << r.stop_reason;
}

TEST_F(CfiTest, SpGoingDownOnTheSameStackIsALoop) {
  // cfi_cfa_deref says CFA = *(rsp + 8); make it point below rsp while
  // staying on the same stack range.
  const uint64_t s = 0x7ffd00003000;
  vm_.put64(s + 8, s - 0x100);
  vm_.put64(s - 0x108, sym("cfi_outermost_ret"));
  UnwindOptions o;
  o.stacks.push_back({s - 0x1000, s + 0x1000, "task"});
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_cfa_deref_ret"), s, {}, false), o);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_NE(r.stop_reason.find("does not lie above"), std::string::npos) << r.stop_reason;
}

TEST_F(CfiTest, RangeEnteredTwiceStops) {
  // task stack -> irq stack (via the deref CFA) -> back to the task stack.
  const uint64_t task = 0x7ffd00003000, irq = 0x7ffc00000100;
  vm_.put64(task + 8, irq);
  vm_.put64(irq - 8, sym("cfi_cfa_deref_ret"));
  vm_.put64(irq + 8, task + 0x40);
  vm_.put64(task + 0x38, sym("cfi_outermost_ret"));
  UnwindOptions o;
  o.stacks.push_back({task - 0x1000, task + 0x1000, "task"});
  o.stacks.push_back({irq - 0x100, irq + 0x100, "irq"});
  auto r = run(initial_frame(Machine::kX86_64, sym("cfi_cfa_deref_ret"), task, {}, false), o);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_NE(r.stop_reason.find("returns to the task stack"), std::string::npos) << r.stop_reason;
}

TEST(CfiTest32, SavedRegistersOnI386) {
  VMC_REQUIRE_UNWIND_FIXTURES();
  auto img = load_fixture("cfi_cases32.so", 0x56550000);
  ASSERT_TRUE(img);
  CodeImageList code;
  code.add(&img->image);
  FakeVm vm;
  const uint64_t s0 = 0xbffff000, s1 = s0 + 4;
  vm.put32(s0, img->sym("cfi32_saves_ret"));
  vm.put32(s1 + 4, 0x5151);                         // esi
  vm.put32(s1 + 8, 0xb0b0);                         // ebx
  vm.put32(s1 + 12, 0xbbbb);                        // ebp
  vm.put32(s1 + 16, img->sym("cfi32_outermost_ret"));
  Frame f0 = initial_frame(Machine::kI386, img->sym("cfi32_leaf"), s0,
                           {{i386::kEdi, 0xd1}, {i386::kEax, 0xa}, {i386::kEbx, 0xb}, {i386::kEsi, 0x5}});
  auto r = unwind(Machine::kI386, vm, code, f0, {});
  ASSERT_EQ(r.frames.size(), 3u) << r.stop_reason;
  EXPECT_TRUE(r.complete);
  const Frame& f2 = r.frames[2];
  EXPECT_EQ(f2.pc, img->sym("cfi32_outermost_ret"));
  EXPECT_EQ(f2.sp, s1 + 20);
  EXPECT_EQ(f2.regs.get(i386::kEsi), 0x5151u);
  EXPECT_EQ(f2.loc[i386::kEsi].cfa_offset, -16);
  EXPECT_EQ(f2.regs.get(i386::kEbx), 0xb0b0u);
  EXPECT_EQ(f2.regs.get(i386::kEbp), 0xbbbbu);
  EXPECT_EQ(f2.regs.get(i386::kEdi), 0xd1u);  // never saved: same value
  EXPECT_FALSE(r.frames[1].regs.has(i386::kEax));
}

// ---- The expression evaluator -------------------------------------------

Dwarf_Op op(uint8_t atom, uint64_t n1 = 0, uint64_t n2 = 0, uint64_t off = 0) {
  Dwarf_Op o{};
  o.atom = atom;
  o.number = n1;
  o.number2 = n2;
  o.offset = off;
  return o;
}

TEST(CfiExpr, ArithmeticDerefAndValues) {
  FakeVm vm;
  vm.put64(0x1000, 0xabcdef);
  RegisterSet regs(Machine::kX86_64);
  regs.set(kRsp, 0xff8);
  CfiContext ctx{Machine::kX86_64, &regs, &vm};
  // breg7 8; deref; lit4; mul; stack_value
  std::vector<Dwarf_Op> ops = {op(DW_OP_breg7, 8), op(DW_OP_deref), op(DW_OP_lit4), op(DW_OP_mul), op(DW_OP_stack_value)};
  auto r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->kind, CfiExprResult::Kind::kValue);
  EXPECT_EQ(r->v, 0xabcdefu * 4);
  // call_frame_cfa; plus_uconst 16 -> a memory location.
  ops = {op(DW_OP_call_frame_cfa), op(DW_OP_plus_uconst, 16)};
  r = eval_cfi_expr(ops, ctx, 0x2000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, CfiExprResult::Kind::kMemory);
  EXPECT_EQ(r->v, 0x2010u);
  // A negative offset in an unsigned field wraps like the target would.
  ops = {op(DW_OP_bregx, kRsp, uint64_t(-16))};
  r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->v, 0xfe8u);
  // A lone register names a register.
  ops = {op(DW_OP_regx, 11)};
  r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, CfiExprResult::Kind::kRegister);
  EXPECT_EQ(r->v, 11u);
}

TEST(CfiExpr, UnknownRegisterIsNeverZero) {
  FakeVm vm;
  RegisterSet regs(Machine::kX86_64);
  CfiContext ctx{Machine::kX86_64, &regs, &vm};
  std::vector<Dwarf_Op> ops = {op(DW_OP_breg3, 0)};
  auto r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotFound);
  EXPECT_NE(r.error().message().find("rbx"), std::string::npos);
}

TEST(CfiExpr, BranchesByByteOffset) {
  // Byte offsets: 0 lit1, 1 bra +1 (to 1 + 3 + 1 = 5), 4 lit7, 5 lit2,
  // 6 lit9, 7 plus. The branch is taken (1 != 0), skipping lit7: 2 + 9.
  FakeVm vm;
  RegisterSet regs(Machine::kX86_64);
  CfiContext ctx{Machine::kX86_64, &regs, &vm};
  std::vector<Dwarf_Op> ops = {op(DW_OP_lit1, 0, 0, 0), op(DW_OP_bra, 1, 0, 1), op(DW_OP_lit7, 0, 0, 4),
                               op(DW_OP_lit2, 0, 0, 5), op(DW_OP_lit9, 0, 0, 6), op(DW_OP_plus, 0, 0, 7)};
  auto r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->v, 11u);
  // skip backwards forever: bounded.
  ops = {op(DW_OP_skip, uint64_t(int64_t(-3)), 0, 0)};
  r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kLimit);
}

TEST(CfiExpr, Wraps32BitOnI386) {
  FakeVm vm;
  vm.put32(0x10, 0xfffffffc);
  RegisterSet regs(Machine::kI386);
  regs.set(i386::kEsp, 0xfffffff8);
  CfiContext ctx{Machine::kI386, &regs, &vm};
  std::vector<Dwarf_Op> ops = {op(DW_OP_breg4, 0x18)};
  auto r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->v, 0x10u);
  ops = {op(DW_OP_lit16), op(DW_OP_deref), op(DW_OP_lit8), op(DW_OP_plus), op(DW_OP_stack_value)};
  r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->v, 4u);  // 0xfffffffc + 8 wraps at 32 bits
}

TEST(CfiExpr, MalformedAndUnsupported) {
  FakeVm vm;
  RegisterSet regs(Machine::kX86_64);
  CfiContext ctx{Machine::kX86_64, &regs, &vm};
  std::vector<Dwarf_Op> ops = {op(DW_OP_plus)};
  EXPECT_EQ(eval_cfi_expr(ops, ctx, std::nullopt).error().code(), Errc::kBadData);
  ops = {op(DW_OP_lit1), op(DW_OP_piece, 8)};
  EXPECT_EQ(eval_cfi_expr(ops, ctx, std::nullopt).error().code(), Errc::kUnsupported);
  ops = {op(DW_OP_call_frame_cfa)};
  EXPECT_FALSE(eval_cfi_expr(ops, ctx, std::nullopt).ok());
  ops = {op(DW_OP_lit0), op(DW_OP_deref)};
  auto r = eval_cfi_expr(ops, ctx, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotMapped);
  EXPECT_NE(r.error().message().find("0x0"), std::string::npos);
}

}  // namespace
}  // namespace vmc
