#include <map>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/thread_report.h"

namespace vmc::cli {

namespace {

using J = nlohmann::ordered_json;

std::string frame_label(const ReportFrame& f) {
  if (f.fn.function.empty() && f.fn.symbol.empty())
    return f.module.empty() ? fmt::format("{:#x}", f.pc) : fmt::format("{:#x} [{}]", f.pc, f.module);
  std::string name = f.fn.function.empty() ? fmt::format("{:#x}", f.pc) : f.fn.function;
  // Physical frames are named by their ELF symbol (as the kernel's own
  // backtraces are); the source function follows when it differs.
  std::string s = f.fn.inlined ? name
                  : f.fn.symbol.empty() ? fmt::format("{}+{:#x}", name, f.fn.offset)
                                        : fmt::format("{}+{:#x}", f.fn.symbol, f.fn.offset);
  if (!f.module.empty()) s += fmt::format(" [{}]", f.module);
  if (f.fn.inlined) s += " (inlined)";
  return s;
}

std::string short_value(const ArgValue& a) {
  if (!a.known) return "?";
  std::string d = a.display.empty() ? fmt::format("{:#x}", a.raw) : a.display;
  if (a.heuristic) d = "~" + d + " (heuristic)";
  if (a.fault_address) d += " <-- fault address";
  return d;
}

// "file:line", preceded by the source function when the frame's ELF symbol
// names something else (a .cold part, a compiler clone).
std::string where(const ReportFrame& f) {
  std::string fn = !f.fn.inlined && !f.fn.symbol.empty() && !f.fn.function.empty() && f.fn.symbol != f.fn.function
                       ? f.fn.function + " "
                       : "";
  if (f.fn.file.empty()) return fn.empty() ? "" : "in " + f.fn.function;
  std::string loc = f.fn.line ? fmt::format("{}:{}", f.fn.file, f.fn.line) : f.fn.file;
  return fn.empty() ? loc : fmt::format("{}at {}", fn, loc);
}

// Threads with the same sequence of functions and offsets fold together.
std::string stack_key(const ReportThread& t) {
  std::string k = t.error.value_or("");
  for (const auto& f : t.frames) k += fmt::format("|{}+{:x}", f.fn.function, f.fn.offset);
  return k;
}

void print_thread(const ReportThread& t, bool verbose) {
  const Task& k = t.task;
  if (k.addr == 0) {  // a user-space thread of a process core
    fmt::print("thread {} ({}){}", k.pid, printable(k.comm), t.crashed ? " [received the fatal signal]" : "");
    if (!t.frames.empty()) fmt::print(", sp {:#x}", t.frames[0].sp);
    fmt::print("\n");
  }
  std::string tags;
  if (t.crashed) tags += " [crashed]";
  else if (k.active_cpu >= 0) tags += " [on CPU]";
  if (k.idle) tags += " [idle]";
  if (k.addr != 0) {
    fmt::print("thread {:#x} pid {} ({}) CPU {}{} state {}", k.addr, k.pid, printable(k.comm), k.active_cpu >= 0 ? k.active_cpu : k.cpu,
               tags, k.state_char);
    if (!t.frames.empty()) fmt::print(", sp {:#x}", t.frames[0].sp);
    fmt::print("\n");
  }
  if (!t.start.empty()) fmt::print("  registers: {}\n", t.start);
  for (const auto& f : t.frames) {
    if (f.user_mode) {
      fmt::print(" -- entered from user space: pc {:#x}, sp {:#x} --\n", f.pc, f.sp);
      continue;
    }
    std::string loc = where(f);
    if (!verbose) {
      std::vector<std::string> as;
      for (const auto& a : f.fn.args) as.push_back(fmt::format("{}={}", a.name, short_value(a)));
      std::string args = f.fn.args_error ? "" : fmt::format("({})", fmt::join(as, ", "));
      fmt::print(" #{:<2} {:016x} {}{}\n", f.index, f.sp, printable(frame_label(f)), printable(args));
      if (!loc.empty()) fmt::print("         {}{}\n", loc.rfind("in ", 0) == 0 || loc.find(" at ") != std::string::npos ? "" : "at ", loc);
      continue;
    }
    fmt::print(" #{:<2} {:016x} {}  {}  ({})\n", f.index, f.sp, frame_label(f), loc, unwound_by_name(f.how));
    if (f.fn.args_error) fmt::print("        arguments unknown: {}\n", *f.fn.args_error);
    for (const auto& n : f.fn.trust_notes) fmt::print("        note: {}\n", n);
    for (const auto& a : f.fn.args) {
      std::string decl = fmt::format("{} {}", a.type, a.name);
      if (a.known) {
        std::string rawhex = fmt::format("{:#x}", a.raw);
        std::string v = a.bytes.size() > 8 || a.display.find(rawhex) != std::string::npos ? a.display
                        : a.display.empty() || a.display == rawhex ? rawhex
                                                                   : fmt::format("{} ({})", rawhex, a.display);
        if (a.fault_address) v += " <-- fault address";
        if (a.heuristic) v = "~" + v + "   [HEURISTIC]";
        fmt::print("        {} = {}\n            from {}\n", printable(decl), printable(v), printable(a.source));
      } else {
        fmt::print("        {} = <unknown: {}>\n", printable(decl), printable(a.reason));
      }
    }
  }
  if (t.error) fmt::print("  (trace stopped: {})\n", printable(*t.error));
}

}  // namespace

int cmd_report(const ReportArgs& a) {
  ReportOptions o;
  o.threads = a.threads;
  o.active_only = a.active_only;
  o.heuristics = a.heuristics;
  o.max_frames = a.max_frames;
  // A user-space process core: the second argument is the program.
  std::unique_ptr<Session> session;
  Result<Report> r = make_error(Errc::kUsage, "no report");
  if (is_process_core(a.vmcore)) {
    r = build_process_report(a.vmcore, a.vmlinux, o);
  } else {
    auto s = Session::open(a.vmcore, a.vmlinux, a.session);
    if (!s) return report_error(s.error());
    session = std::move(*s);
    r = build_report(*session, o);
  }
  if (!r) return report_error(r.error());
  const Summary& m = r->summary;
  if (!a.threads.empty() && r->threads.empty())
    return report_error(make_error(Errc::kUsage, "no thread matches --thread {}", fmt::join(a.threads, ", ")));

  if (a.json) {
    J j;
    j["schema"] = "vmcore-args/1";
    j["dump"] = dump_json(m);
    j["panic"] = panic_json(m);
    J threads = J::array();
    for (const auto& t : r->threads) {
      J x = thread_json(t);
      threads.push_back(std::move(x));
    }
    j["threads"] = std::move(threads);
    if (!r->warnings.empty()) j["warnings"] = r->warnings;
    fmt::print("{}\n", j.dump(2, ' ', false, J::error_handler_t::replace));
  } else {
    if (r->process) {
      fmt::print("PROCESS {}: {}\n", r->program.empty() ? "(program unknown)" : r->program,
                 m.panic_message.value_or("no fatal signal recorded (a core made by gcore?)"));
      if (m.pid) fmt::print("  thread {}{}\n", *m.pid, m.fault_address ? fmt::format(", fault address {:#x}", *m.fault_address) : "");
      fmt::print("  {} process core, {} threads\n", m.arch, r->threads.size());
    } else {
    fmt::print("{} on CPU {}: \"{}\"\n", m.reached_panic ? "PANIC" : m.oops ? "OOPS" : "CRASH",
               m.panic_cpu ? fmt::format("{}", *m.panic_cpu) : "?",
               printable(m.panic_message.value_or("(no panic or oops message in the log)")));
    if (m.oops && m.oops != m.panic_message) fmt::print("  {}\n", printable(*m.oops));
    if (m.pid)
      fmt::print("  task {} ({}){}{}\n", *m.pid, printable(m.comm.value_or("?")), m.task ? fmt::format(" at {:#x}", *m.task) : "",
                 m.fault_address ? fmt::format(", fault address {:#x}", *m.fault_address) : "");
    fmt::print("  Linux {} {}, {} paging, KASLR offset {}, {} CPUs; {} dump{}\n", m.release, m.arch, m.paging,
               m.kaslr_offset ? fmt::format("{:#x}", *m.kaslr_offset) : "unknown", m.cpus, m.format,
               m.producer.empty() ? "" : fmt::format(" written by {}", m.producer));
    }
    for (const auto& w : m.warnings) fmt::print("  WARNING: {}\n", printable(w));
    for (const auto& w : r->warnings) fmt::print("  note: {}\n", printable(w));
    fmt::print("\n");
    // Fold identical stacks (never the crashed or an on-CPU thread).
    std::map<std::string, std::vector<const ReportThread*>> groups;
    std::vector<std::string> order;
    for (const auto& t : r->threads) {
      std::string k = (a.expand || t.crashed || t.task.active_cpu >= 0) ? fmt::format("#{:x}", t.task.addr) : stack_key(t);
      if (!groups.count(k)) order.push_back(k);
      groups[k].push_back(&t);
    }
    for (const auto& k : order) {
      const auto& g = groups[k];
      print_thread(*g[0], a.verbose);
      if (g.size() > 1) {
        std::vector<std::string> others;
        for (size_t i = 1; i < g.size(); ++i)
          others.push_back(fmt::format("{} ({})", g[i]->task.pid, printable(g[i]->task.comm)));
        fmt::print("  + {} more thread{} with this stack (arguments shown are pid {}'s; --expand shows each): {}\n",
                   g.size() - 1, g.size() > 2 ? "s" : "", g[0]->task.pid, fmt::join(others, ", "));
      }
      fmt::print("\n");
    }
  }
  if (session && session->dump().header().incomplete) {
    fmt::print(stderr, "vmcore-args: error: {}: the dump is incomplete (truncated or flagged incomplete by its writer)\n",
               a.vmcore);
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace vmc::cli
