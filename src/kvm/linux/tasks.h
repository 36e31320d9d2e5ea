// Linux tasks from the dump: every thread of every thread group (walked
// from init_task.tasks and each group's signal->thread_head, bounded and
// cycle-safe), each CPU's idle and current task, the panicking CPU.
// Structure offsets come from the vmlinux DWARF, never from constants.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kvm/session.h"

namespace vmc {

struct Task {
  kvaddr_t addr = 0;
  int32_t pid = 0, tgid = 0;
  std::string comm;
  uint64_t state = 0, exit_state = 0;
  char state_char = '?';   // ps-style: R S D T t X Z P I
  kvaddr_t stack = 0;      // task->stack: lowest address of the kernel stack
  uint64_t thread_sp = 0;  // task->thread.sp: saved stack pointer when switched out
  int cpu = -1;            // CPU it last ran on
  int active_cpu = -1;     // CPU whose current task it is at dump time, else -1
  bool idle = false;       // a CPU's idle task (pid 0)
  bool kthread = false;    // no user address space
  kvaddr_t mm = 0;
};

struct TaskList {
  std::vector<Task> tasks;            // idle tasks first (by CPU), then list order
  std::vector<kvaddr_t> cpu_current;  // per possible CPU: its current task (0 = unknown)
  std::vector<bool> cpu_online;       // online at dump time (others stopped by the panic)
  std::optional<int> panic_cpu;       // from panic_cpu (atomic_t), when a panic happened
  uint64_t thread_size = 0;           // kernel stack size
  std::vector<std::string> warnings;  // cycles, limits, unreadable entries

  const Task* find(kvaddr_t addr) const;
  const Task* find_pid(int32_t pid) const;  // the thread with that pid (not idle)
};

Result<TaskList> load_tasks(Session& s);

// ps-style state letter from __state/exit_state (include/linux/sched.h).
char task_state_char(uint64_t state, uint64_t exit_state);

}  // namespace vmc
