// The DWARF location evaluator (src/dwarf/location.cc) on hand-built
// expressions over a synthetic frame.
#include <gtest/gtest.h>

#include <map>

#include "dwarf/location.h"

namespace vmc {
namespace {

Dwarf_Op op(uint8_t atom, Dwarf_Word n = 0, Dwarf_Word n2 = 0, Dwarf_Word off = 0) {
  Dwarf_Op o{};
  o.atom = atom;
  o.number = n;
  o.number2 = n2;
  o.offset = off;
  return o;
}

struct FlatMemory : VirtualMemory {
  std::map<uint64_t, uint8_t> bytes;
  Status read_virt(kvaddr_t va, std::span<uint8_t> buf) override {
    for (size_t i = 0; i < buf.size(); ++i) {
      auto it = bytes.find(va + i);
      if (it == bytes.end()) return make_error(Errc::kNotMapped, "{:#x} not mapped", va + i);
      buf[i] = it->second;
    }
    return {};
  }
  void put64(uint64_t a, uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes[a + i] = uint8_t(v >> (8 * i));
  }
};

class LocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    frame.regs = RegisterSet(Machine::kX86_64);
    frame.regs.set(x86_64::kRbx, 0x1000);
    frame.loc[x86_64::kRbx].kind = RegLoc::Kind::kSaved;
    frame.regs.set(x86_64::kRbp, 0xfffffffffffffff5ull);  // -11 as a 64-bit value
    frame.regs.set(x86_64::kR12, 0x00000000fffffff9ull);  // -7 as a zero-extended 32-bit int
    frame.cfa = 0x7000;
    frame.pc_exact = false;
    env.machine = Machine::kX86_64;
    env.addr_size = 8;
    env.mem = &mem;
    env.frame = &frame;
    env.frame_label = "#3 test";
    mem.put64(0x1000, 0x1122334455667788ull);
    mem.put64(0x7008, 42);
  }
  Result<std::vector<LocPiece>> eval(std::vector<Dwarf_Op> ops) {
    in = LocInputs{};
    return eval_location(ops.data(), ops.size(), env, &in);
  }
  Frame frame;
  FlatMemory mem;
  EvalEnv env;
  LocInputs in;
};

TEST_F(LocationTest, RegisterAndComputedValues) {
  auto r = eval({op(DW_OP_reg3)});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].kind, LocPiece::Kind::kRegister);
  EXPECT_EQ((*r)[0].regno, 3u);

  r = eval({op(DW_OP_breg3, 0x10), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)[0].kind, LocPiece::Kind::kValue);
  EXPECT_EQ((*r)[0].value, 0x1010u);
  ASSERT_EQ(in.regs.size(), 1u);
  EXPECT_EQ(in.regs[0].loc.kind, RegLoc::Kind::kSaved);
  EXPECT_FALSE(in.width_sensitive);
}

TEST_F(LocationTest, UnknownRegisterSaysWhy) {
  auto r = eval({op(DW_OP_breg5, 0), op(DW_OP_stack_value)});  // rdi: caller-saved, unknown here
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotFound);
  EXPECT_NE(r.error().message().find("rdi is unknown in #3 test"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("caller-saved"), std::string::npos);
}

TEST_F(LocationTest, FrameBaseCfaMemoryAndDeref) {
  auto r = eval({op(DW_OP_call_frame_cfa), op(DW_OP_plus_uconst, 8)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].kind, LocPiece::Kind::kMemory);
  EXPECT_EQ((*r)[0].addr, 0x7008u);
  EXPECT_TRUE(in.cfa);
  r = eval({op(DW_OP_breg3, 0), op(DW_OP_deref), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].value, 0x1122334455667788ull);
  r = eval({op(DW_OP_fbreg, 8)});
  ASSERT_FALSE(r.ok());  // no frame base given
  env.frame_base = 0x7000;
  r = eval({op(DW_OP_fbreg, 8)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].addr, 0x7008u);
}

TEST_F(LocationTest, AddrIsRelocatedByTheImageBias) {
  env.addr_bias = 0x1c000000;
  auto r = eval({op(DW_OP_addr, 0xffffffff822d00c8ull), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].value, 0xffffffff9e2d00c8ull);
}

TEST_F(LocationTest, PiecesAndImplicitPointers) {
  auto r = eval({op(DW_OP_reg3), op(DW_OP_piece, 8), op(DW_OP_reg6), op(DW_OP_piece, 8)});
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].regno, 6u);
  EXPECT_EQ((*r)[1].size, 8u);
  r = eval({op(DW_OP_implicit_pointer, 0x1234, 0)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].kind, LocPiece::Kind::kImplicitPointer);
  r = eval({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].kind, LocPiece::Kind::kUnavailable);
}

TEST_F(LocationTest, NarrowArithmeticOnRegistersIsFlagged) {
  // GCC's _Bool from `(int)(signed char)x >> 31` (logical): sign-extend the
  // low byte (the idiom is exact) then shift right — on the 64-bit stack
  // this is 0x1ffffffff, not 1.
  auto r = eval({op(DW_OP_breg6, 0), op(DW_OP_const1u, 56), op(DW_OP_shl), op(DW_OP_const1u, 56), op(DW_OP_shra),
                 op(DW_OP_lit31), op(DW_OP_shr), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].value, 0x1ffffffffull);
  EXPECT_TRUE(in.width_sensitive);

  // The sign-extension idiom alone is exact.
  r = eval({op(DW_OP_breg6, 0), op(DW_OP_const1u, 56), op(DW_OP_shl), op(DW_OP_const1u, 56), op(DW_OP_shra),
            op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(in.width_sensitive);

  // A magic-number division of a zero-extended 32-bit int.
  r = eval({op(DW_OP_breg12, 0), op(DW_OP_lit2), op(DW_OP_shra), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(in.width_sensitive);

  // Taint survives stack shuffling and memory reads.
  r = eval({op(DW_OP_lit7), op(DW_OP_breg3, 0), op(DW_OP_swap), op(DW_OP_div), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(in.width_sensitive);
  r = eval({op(DW_OP_call_frame_cfa), op(DW_OP_plus_uconst, 8), op(DW_OP_deref), op(DW_OP_lit1), op(DW_OP_shr),
            op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].value, 21u);
  EXPECT_TRUE(in.width_sensitive);

  // Constants alone, and additions of registers, are not width-sensitive.
  r = eval({op(DW_OP_const1u, 64), op(DW_OP_lit3), op(DW_OP_shr), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(in.width_sensitive);
  r = eval({op(DW_OP_breg3, 0), op(DW_OP_breg6, 0), op(DW_OP_plus), op(DW_OP_stack_value)});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(in.width_sensitive);
}

TEST_F(LocationTest, MalformedAndBoundedExpressions) {
  EXPECT_FALSE(eval({op(DW_OP_plus)}).ok());                      // empty stack
  EXPECT_FALSE(eval({op(DW_OP_lit1), op(DW_OP_lit0), op(DW_OP_div)}).ok());  // division by zero
  EXPECT_EQ(eval({op(DW_OP_form_tls_address)}).error().code(), Errc::kUnsupported);
  // An endless loop: skip back to itself.
  auto r = eval({op(DW_OP_skip, Dwarf_Word(int64_t(-3)), 0, 0)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kLimit);
  std::vector<Dwarf_Op> deep(100, op(DW_OP_lit1));
  EXPECT_EQ(eval(deep).error().code(), Errc::kLimit);  // stack overflow is bounded
}

}  // namespace
}  // namespace vmc
