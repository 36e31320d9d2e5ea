// The unwinder: from a thread's initial registers to its frames, each with
// the strategy that produced it and, for every register whose value is known
// in that frame, where the value came from. Argument recovery (args.h)
// depends on that provenance: a callee-saved register is known in frame N
// only if a deeper frame's CFI says where it was saved (or that it was left
// untouched); a caller-saved register is never known above an exact frame.
//
// Strategies, in order (STYLE.md): initial registers -> DWARF CFI (libdw;
// .debug_frame and .eh_frame) -> Linux ORC -> frame-pointer chain ->
// exception frames (pt_regs). Works for x86-64 and i386 on any host; reads
// memory only through VirtualMemory.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/base/result.h"
#include "arch/memory.h"
#include "arch/regs.h"
#include "dwarf/elf_image.h"

typedef struct Dwarf_CFI_s Dwarf_CFI;

namespace vmc {

class DwarfIndex;

// Linux ORC unwind table of one image, sorted by ip: runtime addresses for a
// module's table read from memory, link-time ones for a vmlinux's (the
// CodeImage's orc_bias relates them).
struct OrcEntry {
  int16_t sp_offset = 0, bp_offset = 0;
  uint8_t sp_reg = 0, bp_reg = 0, type = 0;
  bool signal = false, end = false;  // `end` is ORC v1's end-of-stack flag
};
struct OrcTable {
  int version = 0;  // 1..4, see orc.h
  std::vector<uint64_t> ips;
  std::vector<OrcEntry> entries;
};

// A piece of loaded code: the kernel image, a module, a shared library.
// Addresses in `dwarf`/`cfi`/symbols are image addresses; runtime address =
// image address + bias (KASLR offset for vmlinux, 0 for a module whose
// DWARF was relocated to its runtime section addresses, the load base for a
// shared object).
struct CodeImage {
  std::string name;                                // "vmlinux", "vmcargs", "libc.so.6"
  std::vector<std::pair<uint64_t, uint64_t>> text; // runtime [start, end) ranges of code
  int64_t bias = 0;
  const ElfImage* elf = nullptr;                   // symbols, sections (may be null: no file found)
  Dwarf* dwarf = nullptr;                          // may be null
  Dwarf_CFI* debug_frame = nullptr;                // may be null
  Dwarf_CFI* eh_frame = nullptr;                   // may be null
  const OrcTable* orc = nullptr;                   // may be null
  int64_t orc_bias = 0;                            // runtime address = orc->ips[i] + orc_bias
  // A DWARF index over `dwarf` shared with other users of this image (the
  // vmlinux of every dump of one kernel); null: ArgRecovery makes its own.
  DwarfIndex* index = nullptr;
  bool kernel = false;                             // kernel code (pt_regs at entry points, ORC)
  // Runtime symbols when they differ from elf->symbols() + bias (modules:
  // ET_REL symbols are section-relative). Sorted by addr.
  std::vector<Symbol> runtime_symbols;

  bool contains(uint64_t pc) const {
    for (auto [s, e] : text)
      if (pc >= s && pc < e) return true;
    return false;
  }
};

class CodeMap {
 public:
  virtual ~CodeMap() = default;
  // The image whose code contains the runtime address, or null.
  virtual const CodeImage* find(uint64_t pc) const = 0;
};

// A CodeMap over images owned elsewhere (process cores, tests). Lookup is
// a binary search over the images' text ranges.
class CodeImageList final : public CodeMap {
 public:
  // `img` must outlive the list; its text ranges must not change.
  void add(const CodeImage* img);
  const CodeImage* find(uint64_t pc) const override;
  size_t size() const { return images_.size(); }

 private:
  struct Range { uint64_t start, end; const CodeImage* img; };
  std::vector<const CodeImage*> images_;
  std::vector<Range> ranges_;  // sorted by start
};

enum class UnwoundBy : uint8_t { kRegs, kCfi, kOrc, kFramePointer, kException };
const char* unwound_by_name(UnwoundBy u);  // "regs" | "cfi" | "orc" | "fp" | "exception"

// Where a register's value in a frame came from.
struct RegLoc {
  enum class Kind : uint8_t {
    kNone,       // not known in this frame
    kInitial,    // from the thread's initial state (dump notes, CPU state)
    kSwitchFrame,// from the scheduler's saved frame (inactive_task_frame) at `addr`
    kPtRegs,     // from a pt_regs / exception frame at `addr`
    kSaved,      // saved in memory at `addr` by frame `frame`, per its CFI: addr = CFA(frame) + cfa_offset
    kComputed,   // computed by a CFI rule (val_offset / val_expression), e.g. the CFA itself for sp
  };
  Kind kind = Kind::kNone;
  int frame = -1;          // index of the frame whose unwind data located it (kSaved, kComputed)
  uint64_t addr = 0;       // memory address it was read from (kSaved, kSwitchFrame, kPtRegs)
  int64_t cfa_offset = 0;  // kSaved: addr - CFA of `frame`
};

struct Frame {
  unsigned index = 0;
  uint64_t pc = 0;            // runtime PC (a return address unless pc_exact)
  uint64_t sp = 0;            // stack pointer in this frame
  std::optional<uint64_t> cfa;// canonical frame address of this frame, when its CFI/ORC is known
  UnwoundBy how = UnwoundBy::kRegs;
  bool pc_exact = false;      // frame 0 or interrupted by an exception: look up pc, not pc - 1
  RegisterSet regs;           // values known in this frame
  std::array<RegLoc, RegisterSet::kMax> loc{};  // provenance of each known value
  const CodeImage* image = nullptr;
  // Set when this frame was entered through an exception / interrupt /
  // syscall frame: where the pt_regs lies.
  std::optional<uint64_t> pt_regs_addr;
  bool user_mode = false;     // pt_regs of a user-mode context (the walk ends)
  // Why registers of this frame are unknown although a rule named them
  // ("r12: reading 0x… failed: …", "CFI CFA 0x… disagrees with ORC 0x…: ORC
  // used"). Free text for -v output.
  std::vector<std::string> notes;
};

struct StackRange {
  uint64_t lo = 0, hi = 0;  // [lo, hi)
  std::string name;         // "task", "irq", "exception NMI", …
};

struct UnwindOptions {
  unsigned max_frames = 128;
  // Stacks the thread may legitimately use; empty means "do not check".
  // Within one range sp must grow monotonically; each range is entered at
  // most once (a walk that comes back is a loop).
  std::vector<StackRange> stacks;
  // i386 kernels before Linux 5.3 save a kernel-mode pt_regs without its
  // sp/ss slots (see arch/frames_x86.h).
  bool i386_short_kernel_pt_regs = false;
  // The thread's outermost pt_regs, task_pt_regs(): the top of its kernel
  // stack minus TOP_OF_KERNEL_STACK_PADDING minus sizeof(struct pt_regs).
  // A kernel frame whose sp reaches it is the entry code's (system call
  // entry, ret_from_fork), and i386 entry code does not encode a frame
  // pointer for system calls, so the pt_regs is read from here: a user-mode
  // one is the final frame, a kernel-mode one (a kernel thread's empty
  // copy_thread() regs) ends the walk (arch/x86/kernel/unwind_frame.c,
  // is_last_task_frame()).
  std::optional<uint64_t> task_pt_regs;
};

struct UnwindResult {
  std::vector<Frame> frames;
  std::string stop_reason;  // empty when the walk reached a natural end
  bool complete = false;    // reached the end of the stack (user mode, END_OF_STACK, outermost frame)
};

// Unwinds from `initial` (frame 0). `initial.loc` gives the provenance of
// the initial registers; `initial.pc`/`sp` default to its regs' pc/sp when
// zero. Frame 0 is looked up at its pc when initial.pc_exact is true (CPU
// state from dump notes, pt_regs); callers starting from a return address
// (a scheduler switch frame) set pc_exact = false so that pc - 1 is looked
// up, as for every later call frame.
//
// Per frame: DWARF CFI (.debug_frame, then .eh_frame), then ORC, then the
// frame-pointer chain; kernel images also recognise pt_regs through ORC
// REGS entries, encoded frame pointers (only when they point into one of
// the thread's stacks) and UnwindOptions::task_pt_regs. When CFI and ORC
// both describe a PC and their CFAs differ, or CFI cannot finish, ORC wins
// (GCC's CFI of kernels built with -fno-asynchronous-unwind-tables is exact
// only at call sites, ORC is checked by objtool at every instruction;
// inline-asm stack switches such as call_on_irqstack are the other case)
// and the CFI's register-save rules are not used; the caller frame carries
// a note saying so.
//
// Register provenance in the caller (frame N+1) when frame N was unwound by
//   CFI: saved at CFA+off -> kSaved (frame N); val_offset/val_expression ->
//        kComputed; same-value (or no rule, for the psABI's callee-saved
//        registers) -> copied from frame N when known there; undefined and
//        caller-saved registers without a rule -> unknown.
//   ORC: sp (kComputed), pc and, when ORC says where, bp; rbx, r12-r15 and
//        all caller-saved registers unknown (ORC does not record saves).
//        REGS: the whole pt_regs (kPtRegs); REGS_PARTIAL: only the iret
//        frame (ip, cs, flags, sp, ss) — the entry code around such points
//        has pushed or cleared the other registers, so they are unknown.
//   FP:  pc, sp and bp only.
// A saved register whose slot cannot be read is unknown in the caller, with
// a note naming the address; the walk goes on.
// The walk ends (complete) at an undefined return address, a zero return
// address or frame pointer, ORC END_OF_STACK, a user-mode pt_regs (that
// frame is included, with user_mode set), or a kernel thread's initial
// pt_regs (kernel mode with ip 0, or at task_pt_regs). It stops early,
// keeping what was gathered, at max_frames, on any failed memory read of
// the CFA / return address / pt_regs (the reason names the address and
// the error), when a return address lies in no known code (that frame is
// included, image null), and when sp does not grow within a StackRange or
// a range is entered twice (or, with no ranges given, sp does not grow
// across a plain call frame, or a (pc, sp) pair repeats). The last frame's
// CFA is computed when its unwind data allows.
UnwindResult unwind(Machine m, VirtualMemory& mem, const CodeMap& code, const Frame& initial, const UnwindOptions& o);

}  // namespace vmc
