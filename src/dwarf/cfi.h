// DWARF call-frame information through libdw, evaluated by us.
//
// libdw parses .debug_frame (dwarf_getcfi) and .eh_frame
// (dwarf_getcfi_elf) for any target on any host and, for a PC, returns the
// CFA and every register's rule as small DWARF expressions
// (dwarf_cfi_addrframe, dwarf_frame_cfa, dwarf_frame_register). We evaluate
// those expressions ourselves, bounded, over the registers known in the
// frame being unwound and the target's memory: an unknown register is never
// taken as zero, it makes the result unknown.
//
// Conventions of libdw's answers (libdw.h, dwarf_frame_register):
//   nops == 0, ops == ops_mem  -> undefined
//   nops == 0, ops == nullptr  -> same value
//   [call_frame_cfa, plus_uconst N]           -> saved at CFA+N   (offset(N))
//   [... , stack_value]                       -> a value          (val_offset, val_expression)
//   [regx R]                                  -> in register R    (register(R))
// libdw runs the psABI's default rules (its ebl "abi_cfi") before the CIE,
// so a register CFI never mentions comes back as the backend's default.
// Those defaults are not trustworthy (elfutils 0.188's x86-64 table marks
// rax same-value and leaves rbx unmentioned), so the unwinder applies the
// psABI itself on top (see unwind.cc).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <elfutils/libdw.h>

#include "arch/base/result.h"
#include "arch/machine.h"
#include "arch/memory.h"
#include "arch/regs.h"

namespace vmc {

// What expression evaluation may use: the frame's known registers and the
// target memory. Addresses and arithmetic wrap at the machine's address
// size (32 bits on i386).
struct CfiContext {
  Machine machine = Machine::kUnknown;
  const RegisterSet* regs = nullptr;
  VirtualMemory* mem = nullptr;
  int64_t bias = 0;         // runtime minus image address, for DW_OP_addr
  unsigned max_steps = 256; // operations executed (branches count)
};

// The result of a CFI expression.
struct CfiExprResult {
  enum class Kind : uint8_t {
    kMemory,    // the value lives in memory at `v`
    kValue,     // `v` is the value itself (DW_OP_stack_value)
    kRegister,  // the value is register `v` of the frame being unwound
  };
  Kind kind = Kind::kMemory;
  uint64_t v = 0;
};

// Evaluates a libdw op array. `cfa` is pushed by DW_OP_call_frame_cfa
// (absent: that op fails). Errors: kNotFound when a register the
// expression needs is not known in the frame ("rbx is not known"),
// kUnsupported for operations that have no meaning in CFI (pieces,
// entry values…), kLimit past max_steps, kBadData for malformed
// expressions (stack underflow, bad branch); memory errors are passed
// through with the address prepended.
Result<CfiExprResult> eval_cfi_expr(std::span<const Dwarf_Op> ops, const CfiContext& ctx,
                                    std::optional<uint64_t> cfa);

// One register's rule in an evaluated CFI row.
struct CfiRule {
  enum class Kind : uint8_t {
    kUndefined,  // CFI (or libdw's default) says the caller's value is lost
    kSameValue,  // unchanged by this frame (or libdw's default)
    kSavedAt,    // saved in memory at `v` (not read yet)
    kValue,      // the caller's value is `v` (val_offset / val_expression)
    kRegister,   // the caller's value is this frame's register `v`
    kError,      // a rule exists but could not be evaluated: `error`
  };
  Kind kind = Kind::kUndefined;
  uint64_t v = 0;
  std::string error;
};

// A CFI row evaluated for one frame.
struct CfiRow {
  uint64_t cfa = 0;
  unsigned ra_column = 0;      // return-address register column
  bool signal_frame = false;   // FDE augmentation 'S': the caller's pc is exact
  uint64_t start = 0, end = 0; // image address range of this row
  // The register the CFA is an offset from, when the CFA rule is the usual
  // "register + offset" (not an expression).
  std::optional<unsigned> cfa_reg;
  std::array<CfiRule, RegisterSet::kMax> rules{};
};

// Finds the row for `image_pc` (an image address: runtime pc minus bias)
// and evaluates the CFA and every register rule 0..RegisterSet::kMax-1.
// kNotFound when no FDE covers image_pc; the CFA's evaluation errors as
// eval_cfi_expr (a CFA that needs an unknown register is kNotFound).
// Register rules that fail to evaluate become CfiRule::kError.
Result<CfiRow> cfi_row(Dwarf_CFI* cfi, uint64_t image_pc, const CfiContext& ctx);

// True for the error codes that mean "memory could not be read" (as
// opposed to "cannot evaluate with what is known").
bool is_memory_error(Errc c);

}  // namespace vmc
