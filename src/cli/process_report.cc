// The report for user-space process cores: the same unwinder and argument
// recovery as for kernel dumps, over the core's memory and mapped files.
#include <filesystem>

#include "cli/thread_report.h"
#include "kvm/dump/dump.h"
#include "dwarf/elf_image.h"
#include "kvm/process_core.h"

namespace vmc::cli {

namespace {
constexpr uint32_t kNtAuxv = 6;
constexpr uint32_t kNtFile = 0x46494c45;

const char* signal_name(int s) {
  switch (s) {
    case 4: return "SIGILL";
    case 5: return "SIGTRAP";
    case 6: return "SIGABRT";
    case 7: return "SIGBUS";
    case 8: return "SIGFPE";
    case 11: return "SIGSEGV";
    case 19: return "SIGSTOP";
    default: return "signal";
  }
}
}  // namespace

bool is_process_core(const std::string& path) {
  auto d = open_dump(path);
  if (!d || (*d)->format() != "ELF") return false;
  for (const Note& n : (*d)->notes())
    if (n.name == "CORE" && (n.type == kNtAuxv || n.type == kNtFile)) return true;
  return false;
}

Result<Report> build_process_report(const std::string& core_path, const std::string& program, const ReportOptions& o) {
  // The program the user named must be usable; files the core merely
  // mentions may be missing (their frames then show addresses only).
  if (!program.empty()) {
    auto img = ElfImage::open(program);
    if (!img) return std::move(img).error().context("the program");
    if ((*img)->elf_type() != 2 && (*img)->elf_type() != 3)
      return make_error(Errc::kMismatch, "{} does not match the core: it is not an executable (ELF type {})", program,
                        (*img)->elf_type());
  }
  VMC_ASSIGN(auto core, ProcessCore::open(core_path, program));
  Report r;
  r.process = true;
  Summary& m = r.summary;
  m.path = core_path;
  m.format = "ELF process core";
  m.compression = "none";
  m.arch = std::string(machine_info(core->machine()).name);
  m.paging = "user";
  m.os = "linux-user";
  m.cpus = 0;
  for (const auto& w : core->warnings()) r.warnings.push_back(w);
  std::string prog = program;
  if (prog.empty())
    for (const auto& mp : core->mappings())
      if (!mp.opened_path.empty()) { prog = mp.opened_path; break; }
  r.program = prog;
  if (auto si = core->siginfo()) {
    m.panic_message = fmt::format("killed by signal {} ({}), si_code {}", si->signo, signal_name(si->signo), si->code);
    m.fault_address = si->addr;
    m.panic_source = "NT_SIGINFO";
  }

  ArgOptions ao;
  ao.initial_regs = "the thread's registers in the core";
  if (core->machine() == Machine::kX86_64) ao.red_zone = 128;  // SysV psABI §3.2.2
  ao.heuristics = o.heuristics;
  ArgRecovery args(core->machine(), core->endian(), *core, core->code(), ao);
  std::string comm = std::filesystem::path(prog).filename().string();
  for (const ProcessThread& pt : core->threads()) {
    ReportThread th;
    th.task.pid = pt.tid;
    th.task.tgid = core->threads().front().tid;
    th.task.comm = comm;
    th.task.state_char = '-';
    // The first NT_PRSTATUS is the thread the signal was delivered to.
    th.crashed = core->siginfo().has_value() && pt.index == 0;
    if (!o.threads.empty()) {
      bool want = false;
      for (const auto& t : o.threads) want |= t == std::to_string(pt.tid);
      if (!want) continue;
    }
    if (th.crashed) {
      m.pid = pt.tid;
      m.comm = comm;
    }
    th.start = fmt::format("NT_PRSTATUS of thread {}", pt.tid);
    Frame f0 = core->initial_frame(pt);
    UnwindOptions uo;
    uo.max_frames = o.max_frames;
    if (auto seg = core->segment_of(f0.sp)) uo.stacks.push_back({seg->first, seg->second, "stack"});
    args.set_thread(uo.stacks, th.crashed ? m.fault_address : std::nullopt);
    unwind_and_describe(core->machine(), *core, core->code(), f0, uo, args, th);
    r.threads.push_back(std::move(th));
  }
  std::stable_sort(r.threads.begin(), r.threads.end(),
                   [](const ReportThread& a, const ReportThread& b) { return a.crashed && !b.crashed; });
  return r;
}

}  // namespace vmc::cli
