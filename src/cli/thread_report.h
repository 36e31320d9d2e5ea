// The findstack-like report model: every thread's frames and arguments,
// gathered once from a Session and rendered as text or JSON.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/summary.h"
#include "dwarf/args.h"
#include "kvm/linux/tasks.h"

namespace vmc::cli {

struct ReportFrame {
  size_t index = 0;            // physical frame number (inlined functions share it; provenance uses it)
  size_t physical = 0;
  uint64_t pc = 0, sp = 0;
  std::optional<uint64_t> cfa;
  std::string module;          // "" for the vmlinux
  UnwoundBy how = UnwoundBy::kRegs;
  bool user_mode = false;      // the user-space context the kernel was entered from
  FunctionFrame fn;
};

struct ReportThread {
  Task task;
  bool crashed = false;
  std::string start;           // where frame 0's registers came from
  std::optional<std::string> error;  // why the trace stopped early
  std::vector<ReportFrame> frames;
};

struct Report {
  Summary summary;
  bool process = false;               // a user-space process core
  std::string program;
  std::vector<ReportThread> threads;  // panic task first, then active, then by pid
  std::vector<std::string> warnings;
};

struct ReportOptions {
  std::vector<std::string> threads;  // PID or task address filters
  bool active_only = false;
  bool heuristics = false;
  bool crashed_only = false;         // only the crashing task (triage)
  unsigned max_frames = 128;
};

Result<Report> build_report(Session& s, const ReportOptions& o);

// The JSON of one frame and one thread (schema vmcore-args/1, DESIGN.md §4).
nlohmann::ordered_json frame_json(const ReportFrame& f);
nlohmann::ordered_json thread_json(const ReportThread& t);

// A user-space process core (ELF ET_CORE with NT_FILE/NT_AUXV notes) and
// the program that crashed (empty: the path the core recorded).
bool is_process_core(const std::string& path);
Result<Report> build_process_report(const std::string& core, const std::string& program, const ReportOptions& o);

// Unwinds one thread from frame0 and appends its described frames to th.
void unwind_and_describe(Machine m, VirtualMemory& mem, const CodeMap& code, const Frame& frame0,
                         const UnwindOptions& uo, ArgRecovery& args, ReportThread& th);

}  // namespace vmc::cli
