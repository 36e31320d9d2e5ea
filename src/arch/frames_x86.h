// x86 (x86-64 and i386) stack-frame facts the unwinder needs, independent
// of any debug format: the frame-pointer chain, the kernel's encoded frame
// pointers, struct pt_regs and its iret part, and what "user mode" means for
// a saved CS.
//
// Sources: SysV psABI (x86-64 §3.4.1, i386 §2-13: the frame-pointer
// chain); Linux arch/x86/include/asm/ptrace.h (pt_regs), arch/x86/kernel/
// unwind_frame.c (decode_frame_pointer, regs_size), arch/x86/entry/calling.h
// and entry_32.S (ENCODE_FRAME_POINTER), arch/x86/include/asm/ptrace.h
// (user_mode: RPL of CS, and X86_VM_MASK on i386).
//
// All reads go through VirtualMemory in the target's byte order (x86 is
// little-endian); nothing here depends on the host.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "arch/base/result.h"
#include "arch/machine.h"
#include "arch/memory.h"
#include "arch/regs.h"

namespace vmc::x86 {

// Bytes in a general register / stack slot: 8 on x86-64, 4 on i386.
unsigned word_size(Machine m);
// Masks a value to the machine's address width (32 bits on i386).
uint64_t mask_word(Machine m, uint64_t v);

// Reads one stack word at `addr` in the machine's byte order. Errors are
// the memory's, with "reading <what> at <addr>" prepended.
Result<uint64_t> read_word(Machine m, VirtualMemory& mem, uint64_t addr, const char* what);

// ---- Frame-pointer chain -------------------------------------------------
//
// A function that keeps a frame pointer pushes the caller's bp right below
// the return address and points bp at it:
//
//   bp + ws : return address into the caller
//   bp      : caller's bp
//
// so the caller's sp (the callee's CFA) is bp + 2*ws.
struct FpFrame {
  uint64_t caller_bp = 0;    // value read at bp
  uint64_t return_addr = 0;  // value read at bp + ws
  uint64_t caller_sp = 0;    // bp + 2*ws (this frame's CFA)
  uint64_t bp_slot = 0;      // address the caller's bp was read from (= bp)
  uint64_t ra_slot = 0;      // address the return address was read from
};
Result<FpFrame> read_fp_frame(Machine m, VirtualMemory& mem, uint64_t bp);

// The Linux kernel's encoded frame pointer (ENCODE_FRAME_POINTER): entry
// code that builds a pt_regs sets bp so that an unwinder can find it.
//   x86-64: bp with bit 0 set; pt_regs at bp & ~1.
//   i386:   bp with the top bit clear (kernel addresses all have it set);
//           pt_regs at bp | 0x80000000.
// Returns the pt_regs address, or nullopt when bp is an ordinary frame
// pointer. Only meaningful for kernel code (user bp values have neither
// property by convention).
std::optional<uint64_t> decode_kernel_frame_pointer(Machine m, uint64_t bp);

// ---- struct pt_regs ------------------------------------------------------
//
// Slot order is register_info(m).pt_regs (x86-64: r15 … ss, 21 slots of 8
// bytes; i386: bx … ss, 17 slots of 4 bytes). Before Linux 5.3 (commit
// 3c88c692c287, "x86/stackframe/32: Provide consistent pt_regs") an i386
// pt_regs saved from kernel mode ends after flags: it has no sp and ss, and
// the interrupted sp is the address where the sp slot would be.

// Number of slots in a full pt_regs (21 / 17).
unsigned pt_regs_slots(Machine m);
// Size in bytes of a full pt_regs (168 / 68).
uint64_t pt_regs_size(Machine m);
// Offset of the ip slot inside pt_regs: x86-64 IRET_FRAME_OFFSET (128);
// the iret frame (ip, cs, flags, sp, ss) follows it (IRET_FRAME_SIZE 40).
uint64_t pt_regs_ip_offset(Machine m);
constexpr unsigned kIretFrameSlots = 5;

struct PtRegsSlot {
  uint8_t regno = kNoReg;  // DWARF register number, kNoReg for orig_ax etc.
  uint64_t addr = 0;       // where it was read
  uint64_t value = 0;
};
struct PtRegs {
  uint64_t addr = 0;                 // address of the pt_regs (slot 0)
  std::vector<PtRegsSlot> slots;     // the slots read, in pt_regs order
  bool user_mode = false;            // saved context is user mode
  // Convenience: the value of a DWARF register if its slot was read.
  std::optional<uint64_t> get(unsigned regno) const;
  std::optional<uint64_t> slot_addr(unsigned regno) const;
};

// Reads a whole pt_regs at `addr`. With `i386_short_kernel_regs` (i386
// kernels before 5.3), a kernel-mode pt_regs is read without its sp/ss
// slots and sp is synthesised as the address of the missing sp slot.
// Errors name the address of the slot that could not be read.
Result<PtRegs> read_pt_regs(Machine m, VirtualMemory& mem, uint64_t addr, bool i386_short_kernel_regs = false);

// Reads only the iret frame (ip, cs, flags, sp, ss) of a pt_regs whose ip
// slot is at `ip_addr` (ORC_TYPE_REGS_PARTIAL). The result's addr is the
// (partially valid) pt_regs start, ip_addr - pt_regs_ip_offset(m).
Result<PtRegs> read_iret_frame(Machine m, VirtualMemory& mem, uint64_t ip_addr);

// user_mode() of arch/x86/include/asm/ptrace.h: x86-64 (cs & 3) == 3;
// i386 also when EFLAGS.VM (bit 17, virtual-8086 mode) is set. Only the low
// 16 bits of the saved CS are the selector (i386 entry code keeps flags in
// the high half).
bool saved_context_is_user(Machine m, uint64_t cs, uint64_t flags);

}  // namespace vmc::x86
