#include "cli/thread_report.h"

#include <algorithm>

#include "kvm/linux/kernel_code.h"
#include "kvm/linux/modules.h"
#include "kvm/linux/threads.h"
#include "kvm/vmcoreinfo.h"

namespace vmc::cli {

namespace {

bool selected(const Task& t, const ReportOptions& o) {
  if (o.active_only && t.active_cpu < 0) return false;
  if (o.threads.empty()) return true;
  for (const auto& w : o.threads) {
    if (auto n = parse_dec(w); n && *n == t.pid && !t.idle) return true;
    if (auto a = parse_hex(w); a && *a == t.addr && (w.rfind("0x", 0) == 0 || w.size() > 8)) return true;
  }
  return false;
}

std::string symbolize(Session& s, const KernelCodeMap& code, uint64_t a) {
  if (const CodeImage* img = code.find(a)) {
    if (!img->runtime_symbols.empty() && img->name != "vmlinux") {
      const auto& v = img->runtime_symbols;
      auto it = std::upper_bound(v.begin(), v.end(), a, [](uint64_t x, const Symbol& y) { return x < y.addr; });
      if (it != v.begin()) {
        --it;
        return fmt::format("{}+{:#x} [{}]", it->name, a - it->addr, img->name);
      }
    }
  }
  ElfImage* vm = s.vmlinux();
  if (!vm) return "";
  uint64_t link = s.to_link(a);
  if (const Symbol* sym = vm->object_at(link))
    return link == sym->addr ? std::string(sym->name) : fmt::format("{}+{:#x}", sym->name, link - sym->addr);
  for (const auto& img : code.images()) {
    if (img->name == "vmlinux" || !img->elf) continue;
    if (const Symbol* sym = img->elf->object_at(a))
      return fmt::format("{}+{:#x} [{}]", sym->name, a - sym->addr, img->name);
  }
  return "";
}

}  // namespace

void unwind_and_describe(Machine m, VirtualMemory& mem, const CodeMap& code, const Frame& frame0,
                         const UnwindOptions& uo, ArgRecovery& args, ReportThread& th) {
  UnwindResult ur = unwind(m, mem, code, frame0, uo);
  if (!ur.stop_reason.empty() && !ur.complete) th.error = ur.stop_reason;
  for (size_t i = 0; i < ur.frames.size(); ++i) {
    const Frame& f = ur.frames[i];
    ReportFrame rf;
    rf.index = i;  // inlined functions share their physical frame's number
    rf.physical = i;
    rf.pc = f.pc;
    rf.sp = f.sp;
    rf.cfa = f.cfa;
    rf.how = f.how;
    if (f.user_mode) {
      rf.user_mode = true;
      th.frames.push_back(std::move(rf));
      continue;
    }
    const CodeImage* img = f.image ? f.image : code.find(f.pc);
    rf.module = img && img->name != "vmlinux" ? img->name : "";
    for (FunctionFrame& fn : args.describe(ur.frames, i)) {
      ReportFrame x = rf;
      x.fn = std::move(fn);
      th.frames.push_back(std::move(x));
    }
  }
}

using J = nlohmann::ordered_json;

J frame_json(const ReportFrame& f) {
  J j;
  j["index"] = f.index;
  j["pc"] = hex(f.pc);
  j["sp"] = hex(f.sp);
  j["cfa"] = f.cfa ? J(hex(*f.cfa)) : J(nullptr);
  j["function"] = f.fn.function;
  j["offset"] = hex(f.fn.offset);
  j["symbol"] = f.fn.symbol;
  j["module"] = f.module.empty() ? J(nullptr) : J(f.module);
  j["file"] = f.fn.file.empty() ? J(nullptr) : J(f.fn.file);
  j["line"] = f.fn.line ? J(f.fn.line) : J(nullptr);
  j["inlined"] = f.fn.inlined;
  j["unwound_by"] = unwound_by_name(f.how);
  if (f.user_mode) j["user_mode"] = true;
  if (f.fn.args_error) j["args_error"] = *f.fn.args_error;
  if (!f.fn.trust_notes.empty()) j["trust_notes"] = f.fn.trust_notes;
  J args = J::array();
  for (const auto& a : f.fn.args) {
    J x;
    x["name"] = a.name;
    x["type"] = a.type;
    x["known"] = a.known;
    if (a.known) {
      std::string hv;
      for (size_t i = a.bytes.size(); i-- > 0;) hv += fmt::format("{:02x}", a.bytes[i]);  // little-endian bytes -> number
      x["value"] = a.bytes.size() <= 8 ? hex(a.raw) : "0x" + hv;
      x["display"] = a.display;
      x["source"] = a.source;
      x["fault_address"] = a.fault_address;
      if (a.heuristic) x["heuristic"] = true;
    } else {
      x["reason"] = a.reason;
    }
    args.push_back(std::move(x));
  }
  j["args"] = std::move(args);
  return j;
}

J thread_json(const ReportThread& t) {
  J x;
  x["task"] = t.task.addr ? J(hex(t.task.addr)) : J(nullptr);
  x["pid"] = t.task.pid;
  x["tgid"] = t.task.tgid;
  x["comm"] = t.task.comm;
  x["state"] = std::string(1, t.task.state_char);
  x["cpu"] = t.task.active_cpu >= 0 ? t.task.active_cpu : t.task.cpu;
  x["active"] = t.task.active_cpu >= 0;
  x["idle"] = t.task.idle;
  x["crashed"] = t.crashed;
  x["registers"] = t.start;
  if (t.error) x["error"] = *t.error;
  J frames = J::array();
  for (const auto& f : t.frames) frames.push_back(frame_json(f));
  x["frames"] = std::move(frames);
  return x;
}

Result<Report> build_report(Session& s, const ReportOptions& o) {
  Report r;
  r.summary = summarize(s);
  if (!s.kmem())
    return make_error(Errc::kUnsupported, "no address translation: {}",
                      s.translation_error() ? s.translation_error()->message() : "unknown");
  VMC_ASSIGN(TaskList tl, load_tasks(s));
  VMC_ASSIGN(ModuleList mods, load_modules(s));
  VMC_ASSIGN(auto code, KernelCodeMap::build(s, mods));
  for (auto& w : tl.warnings) r.warnings.push_back(w);
  for (auto& w : mods.warnings) r.warnings.push_back(w);
  for (auto& w : code->warnings()) r.warnings.push_back(w);
  for (const auto& m : mods.modules) {
    if (!m->debug) r.warnings.push_back(fmt::format("module {}: no debug info ({}); its frames show symbols only", m->name, m->debug_error));
    else
      for (const auto& w : m->debug->warnings()) r.warnings.push_back(w);
  }
  CpuRegsTable cr = load_cpu_regs(s, tl);
  for (auto& w : cr.warnings) r.warnings.push_back(w);

  // The panic task: whatever ran on the panicking CPU.
  std::optional<int> pcpu = tl.panic_cpu ? tl.panic_cpu : r.summary.panic_cpu;
  kvaddr_t panic_task = 0;
  if (pcpu && unsigned(*pcpu) < tl.cpu_current.size()) panic_task = tl.cpu_current[unsigned(*pcpu)];
  if (panic_task) {
    r.summary.task = panic_task;
    r.summary.panic_cpu = pcpu;
    if (const Task* t = tl.find(panic_task)) {
      r.summary.pid = t->pid;
      r.summary.comm = t->comm;
    }
    r.summary.panic_source = tl.panic_cpu ? "panic_cpu and the CPU's current task" : r.summary.panic_source;
  }

  ArgOptions ao;
  ao.initial_regs = s.dump().producer() == "qemu" ? "the vCPU's registers at dump time"
                                                  : "the CPU's registers saved at the crash";
  ao.symbolize = [&s, &code](uint64_t a) { return symbolize(s, *code, a); };
  ao.heuristics = o.heuristics;
  ArgRecovery args(s.machine(), s.dump().endian(), *s.kmem(), *code, ao);

  std::vector<const Task*> order;
  for (const auto& t : tl.tasks)
    if (o.crashed_only ? (panic_task && t.addr == panic_task) : selected(t, o)) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [&](const Task* a, const Task* b) {
    auto rank = [&](const Task* t) { return t->addr == panic_task ? 0 : t->active_cpu >= 0 ? 1 : 2; };
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (rank(a) == 1) return a->active_cpu < b->active_cpu;
    return a->pid < b->pid;
  });

  for (const Task* t : order) {
    ReportThread th;
    th.task = *t;
    th.crashed = t->addr == panic_task;
    auto start = thread_start(s, tl, cr, *t);
    if (!start) {
      th.error = start.error().message();
      r.threads.push_back(std::move(th));
      continue;
    }
    th.start = start->source;
    UnwindOptions uo;
    uo.max_frames = o.max_frames;
    uo.stacks = start->stacks;
    uo.task_pt_regs = start->task_pt_regs;
    args.set_thread(start->stacks, th.crashed ? r.summary.fault_address : std::nullopt);
    unwind_and_describe(s.machine(), *s.kmem(), *code, start->frame0, uo, args, th);
    r.threads.push_back(std::move(th));
  }
  return r;
}

}  // namespace vmc::cli
