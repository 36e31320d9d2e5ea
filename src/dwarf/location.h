// A bounded DWARF 4/5 location-expression evaluator over one frame's
// register and memory model (unwind.h). It reads a register only when the
// frame knows it, never assumes a value, and records every input (which
// registers with which provenance, which memory, which entry values) so
// the caller can say where a value came from.
#pragma once

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "arch/memory.h"
#include "dwarf/unwind.h"

namespace vmc {

struct LocInputs {
  struct Reg { unsigned regno; RegLoc loc; };
  std::vector<Reg> regs;           // registers read (DW_OP_breg*, DW_OP_reg* as value)
  std::vector<uint64_t> memory;    // addresses dereferenced
  std::vector<std::string> entry;  // provenance of entry values used
  bool cfa = false;                // the frame's CFA was used (fbreg / call_frame_cfa)
  // A right shift, division, modulo or comparison was applied to a value
  // read from a register, memory or an entry value. The DWARF stack is
  // untyped and address-sized: GCC writes such expressions for 32-bit C
  // arithmetic (an int's magic-number division, a shifted _Bool) that give
  // a different number when evaluated in 64 bits, so a value narrower than
  // the stack computed this way is not trusted. The sign-extension idiom
  // `const K; shl; const K; shra` is exact and does not count.
  bool width_sensitive = false;
};

struct LocPiece {
  enum class Kind : uint8_t { kRegister, kMemory, kValue, kBytes, kUnavailable, kImplicitPointer };
  Kind kind = Kind::kUnavailable;
  unsigned regno = 0;              // kRegister
  uint64_t addr = 0;               // kMemory
  uint64_t value = 0;              // kValue (DW_OP_stack_value)
  std::vector<uint8_t> bytes;      // kBytes (DW_OP_implicit_value)
  uint64_t size = 0;               // bytes covered (0: the whole object)
  std::string why;                 // kUnavailable / kImplicitPointer
};

struct EvalEnv {
  Machine machine = Machine::kUnknown;
  Endian endian = Endian::kLittle;
  unsigned addr_size = 8;
  // Added to DW_OP_addr/DW_OP_addrx operands: DWARF holds image (link-time)
  // addresses, memory is read at runtime addresses (the KASLR offset for
  // the vmlinux, 0 for a module relocated to its runtime sections).
  int64_t addr_bias = 0;
  VirtualMemory* mem = nullptr;
  const Frame* frame = nullptr;
  std::string frame_label;                 // "#2 vfs_write", for messages
  std::optional<uint64_t> frame_base;      // DW_AT_frame_base of the function, evaluated
  Dwarf_Attribute* attr = nullptr;         // attribute the ops come from (sub-expressions)
  // DW_OP_entry_value / DW_OP_GNU_entry_value: the value the sub-expression
  // had on entry, resolved through the caller's call site.
  std::function<Result<uint64_t>(Dwarf_Attribute* sub, LocInputs* in)> entry_value;
  // DW_OP_GNU_parameter_ref: the value of the formal parameter DIE at that
  // CU offset on entry, through the caller's call site.
  std::function<Result<uint64_t>(Dwarf_Off cu_offset, LocInputs* in)> parameter_ref;
  unsigned max_steps = 10000;
};

// Evaluates a location description. A simple location yields one piece
// with size 0; DW_OP_piece splits it. kNotFound for an unknown register
// (naming it and why), kUnsupported for operations we do not evaluate,
// kBadData for malformed expressions, memory errors as they come.
Result<std::vector<LocPiece>> eval_location(const Dwarf_Op* ops, size_t n, const EvalEnv& env, LocInputs* in);

// Reads a register of the frame as a value, recording it in `in`.
Result<uint64_t> frame_register(const EvalEnv& env, unsigned regno, LocInputs* in);

}  // namespace vmc
