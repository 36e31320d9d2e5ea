#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/summary.h"
#include "kvm/linux/kernel_code.h"
#include "kvm/linux/modules.h"
#include "kvm/linux/tasks.h"

namespace vmc::cli {

int cmd_report(const ReportArgs& a) {
  auto s = Session::open(a.vmcore, a.vmlinux, a.session);
  if (!s) return report_error(s.error());
  Session& ses = **s;
  Summary m = summarize(ses);
  auto tasks = load_tasks(ses);
  if (!tasks) return report_error(tasks.error());
  auto mods = load_modules(ses);
  if (!mods) return report_error(mods.error());
  for (const auto& w : tasks->warnings) fmt::print("WARNING: {}\n", w);
  for (const auto& w : mods->warnings) fmt::print("WARNING: {}\n", w);
  fmt::print("panic cpu {} ; cpus {}\n", tasks->panic_cpu.value_or(-1), tasks->cpu_current.size());
  for (const auto& t : tasks->tasks)
    fmt::print("{:#x} pid {:5} tgid {:5} {:16} {} cpu {} active {} stack {:#x} sp {:#x}{}\n", t.addr, t.pid, t.tgid, t.comm,
               t.state_char, t.cpu, t.active_cpu, t.stack, t.thread_sp, t.idle ? " idle" : "");
  for (const auto& mo : mods->modules) {
    fmt::print("module {} at {:#x} text", mo->name, mo->addr);
    for (auto [b, e] : mo->text) fmt::print(" [{:#x},{:#x})", b, e);
    fmt::print(" sections {} orcs {} kallsyms {} debug {} {}\n", mo->sections.size(), mo->num_orcs, mo->kallsyms.size(),
               mo->debug_path, mo->debug_error);
    if (mo->debug)
      for (const auto& w : mo->debug->warnings()) fmt::print("  {}\n", w);
  }
  return kExitOk;
}

}  // namespace vmc::cli
