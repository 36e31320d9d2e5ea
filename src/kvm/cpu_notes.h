// Per-CPU register state from dump notes: NT_PRSTATUS (x86-64 and i386
// layouts of struct elf_prstatus) and QEMU's "QEMU" QEMUCPUState notes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "arch/regs.h"
#include "kvm/dump/dump.h"

namespace vmc {

struct CpuNote {
  unsigned index = 0;          // position among the dump's CPU notes
  std::optional<int32_t> pr_pid;  // kdump: pid of the task; QEMU: vCPU number + 1
  RegisterSet regs;            // from pr_reg (pt_regs order)
  bool has_prstatus = false;
  // From a QEMU note (live vCPU state at dump time).
  bool has_qemu = false;
  RegisterSet qemu_regs;
  std::optional<uint64_t> cr0, cr2, cr3, cr4;
};

constexpr uint32_t kNtPrstatus = 1;

// Decodes every CPU note in order. QEMU writes one NT_PRSTATUS and one QEMU
// note per vCPU, in vCPU order; they are paired by position. Notes of an
// unexpected size are skipped with a warning appended to `warnings`.
std::vector<CpuNote> decode_cpu_notes(const std::vector<Note>& notes, Machine m, Endian e,
                                      std::vector<std::string>* warnings);

// Size of struct elf_prstatus for the machine (x86-64: 336, i386: 144).
size_t prstatus_size(Machine m);

}  // namespace vmc
