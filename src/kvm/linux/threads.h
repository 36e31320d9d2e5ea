// Where each thread's stack walk starts: its registers and the stacks it
// may use. Running tasks take their CPU's registers (kdump: the crash_notes
// NT_PRSTATUS of that CPU, read per CPU from memory; QEMU: the vCPU's state
// at dump time); sleeping tasks start from the scheduler's switch frame
// (struct inactive_task_frame at thread.sp, layout from DWARF).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dwarf/unwind.h"
#include "kvm/linux/tasks.h"

namespace vmc {

// Registers of each CPU, and where they came from.
struct CpuRegs {
  bool valid = false;
  RegisterSet regs;
  std::optional<int32_t> pr_pid;
  std::string source;  // "kdump crash_notes of CPU 1", "QEMU vCPU 1 state at dump time"
  std::optional<uint64_t> cr2, cr3;
};

struct CpuRegsTable {
  std::vector<CpuRegs> cpus;
  std::vector<std::string> warnings;
};
CpuRegsTable load_cpu_regs(Session& s, const TaskList& tl);

struct ThreadStart {
  Frame frame0;
  std::vector<StackRange> stacks;
  // Where the task's user-mode pt_regs lies (top of its kernel stack minus
  // the padding minus sizeof(struct pt_regs)), for unwinding system-call
  // entries that do not encode a frame pointer.
  std::optional<uint64_t> task_pt_regs;
  std::string source;  // how frame 0 was obtained
};

// kNotFound/kBadData with the reason when no start can be found (e.g. a
// running task whose CPU left no registers).
Result<ThreadStart> thread_start(Session& s, const TaskList& tl, const CpuRegsTable& cr, const Task& t);

}  // namespace vmc
