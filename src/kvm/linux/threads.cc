#include "kvm/linux/threads.h"

#include <cstring>

namespace vmc {

namespace {

// NT_PRSTATUS note as the kernel writes it into crash_notes:
// Elf_Nhdr {namesz, descsz, type} + "CORE\0" padded + elf_prstatus.
std::optional<RegisterSet> prstatus_from_note_buf(const std::vector<uint8_t>& b, Machine m, Endian e,
                                                  int32_t* pid) {
  if (b.size() < 12) return std::nullopt;
  uint32_t namesz = load_u32(b.data(), e), descsz = load_u32(b.data() + 4, e), type = load_u32(b.data() + 8, e);
  if (namesz != 5 || type != kNtPrstatus || descsz != prstatus_size(m)) return std::nullopt;
  if (std::memcmp(b.data() + 12, "CORE", 5) != 0) return std::nullopt;
  uint64_t desc = 12 + 8;  // name "CORE\0" padded to 8
  if (desc + descsz > b.size()) return std::nullopt;
  Note n;
  n.name = "CORE";
  n.type = kNtPrstatus;
  n.desc.assign(b.begin() + desc, b.begin() + desc + descsz);
  auto cpus = decode_cpu_notes({n}, m, e, nullptr);
  if (cpus.empty() || !cpus[0].has_prstatus) return std::nullopt;
  if (pid && cpus[0].pr_pid) *pid = *cpus[0].pr_pid;
  return cpus[0].regs;
}

}  // namespace

CpuRegsTable load_cpu_regs(Session& s, const TaskList& tl) {
  CpuRegsTable out;
  const unsigned ncpu = unsigned(tl.cpu_current.size());
  out.cpus.resize(ncpu);
  const Machine m = s.machine();
  const Endian e = s.dump().endian();
  const bool qemu = s.dump().producer() == "qemu";
  if (qemu) {
    // QEMU writes one NT_PRSTATUS (+ QEMU note) per vCPU in vCPU order;
    // pr_pid is the vCPU number + 1.
    const auto& notes = s.cpu_notes();
    for (size_t i = 0; i < notes.size() && i < ncpu; ++i) {
      CpuRegs& c = out.cpus[i];
      const CpuNote& n = notes[i];
      if (n.has_prstatus) {
        c.regs = n.regs;
        if (n.pr_pid && *n.pr_pid != int32_t(i) + 1)
          out.warnings.push_back(fmt::format("QEMU CPU note {} has pr_pid {} (expected vCPU+1 = {})", i, *n.pr_pid, i + 1));
      } else if (n.has_qemu) {
        c.regs = n.qemu_regs;
      } else {
        continue;
      }
      c.valid = true;
      c.cr2 = n.cr2;
      c.cr3 = n.cr3;
      c.source = fmt::format("QEMU vCPU {} registers at dump time", i);
    }
    return out;
  }
  // kdump: crash_notes is a per-CPU buffer holding that CPU's note, so the
  // CPU of each register set is known exactly.
  auto sym = s.symbol_address("crash_notes");
  const uint64_t buf_len = 12 + 8 + prstatus_size(m) + 16;
  if (sym) {
    auto base = s.read_ulong(*sym);  // note_buf_t __percpu *
    for (unsigned c = 0; base && *base && c < ncpu; ++c) {
      auto offs = s.symbol_address("__per_cpu_offset");
      if (!offs) break;
      auto off = s.read_ulong(*offs + uint64_t(c) * s.minfo().ptr_size);
      if (!off) continue;
      std::vector<uint8_t> b(buf_len);
      uint64_t a = *base + *off;
      if (m == Machine::kI386) a &= 0xffffffffu;
      if (!s.read(a, b).ok()) continue;
      int32_t pid = -1;
      auto regs = prstatus_from_note_buf(b, m, e, &pid);
      if (!regs) continue;
      out.cpus[c].valid = true;
      out.cpus[c].regs = *regs;
      out.cpus[c].pr_pid = pid;
      out.cpus[c].source = fmt::format("kdump crash_notes of CPU {} (registers saved at the crash)", c);
    }
  }
  // Fall back to the dump's notes, matched by pid to the CPUs' current tasks.
  for (const CpuNote& n : s.cpu_notes()) {
    if (!n.has_prstatus || !n.pr_pid) continue;
    for (unsigned c = 0; c < ncpu; ++c) {
      if (out.cpus[c].valid || !tl.cpu_current[c]) continue;
      const Task* t = tl.find(tl.cpu_current[c]);
      if (t && t->pid == *n.pr_pid && *n.pr_pid != 0) {
        out.cpus[c].valid = true;
        out.cpus[c].regs = n.regs;
        out.cpus[c].pr_pid = n.pr_pid;
        out.cpus[c].source = fmt::format("NT_PRSTATUS note {} (pid {} is CPU {}'s current task)", n.index, *n.pr_pid, c);
      }
    }
  }
  return out;
}

Result<ThreadStart> thread_start(Session& s, const TaskList& tl, const CpuRegsTable& cr, const Task& t) {
  ThreadStart st;
  const Machine m = s.machine();
  const RegisterInfo& ri = register_info(m);
  const unsigned ws = s.minfo().ptr_size;
  if (t.stack) st.stacks.push_back({t.stack, t.stack + tl.thread_size, "task"});
  // TOP_OF_KERNEL_STACK_PADDING (arch/x86/include/asm/thread_info.h): i386
  // 8 bytes, 16 with CONFIG_VM86; x86-64 0, 16 with FRED (6.9+).
  if (t.stack && s.types()) {
    if (auto pr = s.types()->struct_size("pt_regs")) {
      uint64_t pad = 0;
      if (s.machine() == Machine::kI386) pad = s.symbol_address("sys_vm86old") ? 16 : 8;
      else if (s.symbol_address("fred_entrypoint_user")) pad = 16;
      st.task_pt_regs = t.stack + tl.thread_size - pad - *pr;
    }
  }
  Frame& f = st.frame0;
  f.regs = RegisterSet(m);

  if (t.active_cpu >= 0) {
    unsigned c = unsigned(t.active_cpu);
    if (c >= cr.cpus.size() || !cr.cpus[c].valid)
      return make_error(Errc::kNotFound, "task {:#x} runs on CPU {} but the dump holds no registers for that CPU", t.addr, c);
    f.regs = cr.cpus[c].regs;
    for (unsigned r = 0; r < RegisterSet::kMax; ++r)
      if (f.regs.has(r)) f.loc[r].kind = RegLoc::Kind::kInitial;
    f.pc = *f.regs.get(ri.pc);
    f.sp = *f.regs.get(ri.sp);
    f.pc_exact = true;
    st.source = cr.cpus[c].source;
    // The CPU's interrupt and exception stacks.
    if (auto p = s.percpu_address("hardirq_stack_ptr", c)) {
      if (auto v = s.read_ulong(*p); v && *v) {
        if (m == Machine::kX86_64) st.stacks.push_back({*v + 8 - tl.thread_size, *v + 8, "irq"});
        else st.stacks.push_back({*v, *v + tl.thread_size, "irq"});
      }
    }
    if (m == Machine::kI386) {
      if (auto p = s.percpu_address("softirq_stack_ptr", c))
        if (auto v = s.read_ulong(*p); v && *v) st.stacks.push_back({*v, *v + tl.thread_size, "softirq"});
    }
    if (m == Machine::kX86_64 && s.types()) {
      auto p = s.percpu_address("cea_exception_stacks", c);
      auto d = s.types()->find_type("cea_exception_stacks");
      if (p && d) {
        if (auto base = s.read_ulong(*p); base && *base) {
          Dwarf_Die mem;
          if (dwarf_child(&*d, &mem) == 0) {
            do {
              const char* n = dwarf_diename(&mem);
              if (!n || std::string_view(n).find("_stack_guard") != std::string_view::npos) continue;
              if (!std::string_view(n).ends_with("_stack")) continue;
              auto mi = TypeIndex::member_of(*d, n);
              if (mi && mi->size)
                st.stacks.push_back({*base + mi->offset, *base + mi->offset + *mi->size, fmt::format("exception {}", n)});
            } while (dwarf_siblingof(&mem, &mem) == 0);
          }
        }
      }
    }
    return st;
  }

  // A sleeping task: the switch frame at thread.sp.
  if (!s.types()) return make_error(Errc::kNotFound, "no DWARF: the switch frame layout is unknown");
  auto fr = s.types()->find_type("inactive_task_frame");
  if (!fr) return std::move(fr).error();
  VMC_ASSIGN(uint64_t fsize, s.types()->struct_size("inactive_task_frame"));
  VMC_ASSIGN(uint64_t ret_off, s.types()->offset("inactive_task_frame", "ret_addr"));
  std::vector<uint8_t> b(fsize);
  if (Status rs = s.read(t.thread_sp, b); !rs)
    return std::move(rs).error().context(fmt::format("reading the switch frame of task {:#x} at thread.sp {:#x}", t.addr, t.thread_sp));
  const Endian e = s.dump().endian();
  struct Slot { const char* member; unsigned regno; };
  static const Slot kX86_64Slots[] = {{"r15", x86_64::kR15}, {"r14", x86_64::kR14}, {"r13", x86_64::kR13},
                                      {"r12", x86_64::kR12}, {"bx", x86_64::kRbx},   {"bp", x86_64::kRbp}};
  static const Slot kI386Slots[] = {{"si", i386::kEsi}, {"di", i386::kEdi}, {"bx", i386::kEbx}, {"bp", i386::kEbp}};
  std::span<const Slot> slots = m == Machine::kX86_64 ? std::span<const Slot>(kX86_64Slots) : std::span<const Slot>(kI386Slots);
  for (const Slot& sl : slots) {
    auto off = s.types()->offset("inactive_task_frame", sl.member);
    if (!off) continue;  // not saved by this kernel's switch
    f.regs.set(sl.regno, load_uint(b.data() + *off, ws, e));
    f.loc[sl.regno] = RegLoc{RegLoc::Kind::kSwitchFrame, -1, t.thread_sp + *off, 0};
  }
  f.pc = load_uint(b.data() + ret_off, ws, e);
  f.sp = t.thread_sp + ret_off + ws;
  f.regs.set(ri.pc, f.pc);
  f.loc[ri.pc] = RegLoc{RegLoc::Kind::kSwitchFrame, -1, t.thread_sp + ret_off, 0};
  f.regs.set(ri.sp, f.sp);
  f.loc[ri.sp] = RegLoc{RegLoc::Kind::kComputed, -1, 0, 0};
  f.pc_exact = false;  // a return address into the scheduler
  st.source = fmt::format("switch frame at thread.sp {:#x}", t.thread_sp);
  return st;
}

}  // namespace vmc
