#include "kvm/cpu_notes.h"

#include <fmt/format.h>

#include "arch/base/bytes.h"

namespace vmc {

namespace {

// struct elf_prstatus: pr_pid and pr_reg offsets per machine
// (include/uapi/linux/elfcore.h with the machine's long/timeval sizes).
struct PrstatusLayout {
  size_t size, pid_off, reg_off;
};
PrstatusLayout prstatus_layout(Machine m) {
  if (m == Machine::kI386) return {144, 24, 72};
  return {336, 32, 112};
}

// QEMUCPUState (QEMU target/i386/arch_dump.c), the same for 32- and 64-bit
// guests: version, size, then 64-bit GPRs, rip, rflags, 10 segment records
// of 24 bytes, cr[5], optionally kernel_gs_base.
constexpr size_t kQemuGprOff = 8;
constexpr size_t kQemuRipOff = 136;
constexpr size_t kQemuCrOff = 392;
constexpr size_t kQemuMinSize = kQemuCrOff + 5 * 8;

}  // namespace

size_t prstatus_size(Machine m) { return prstatus_layout(m).size; }

std::vector<CpuNote> decode_cpu_notes(const std::vector<Note>& notes, Machine m, Endian e,
                                      std::vector<std::string>* warnings) {
  std::vector<CpuNote> pr, qemu;
  const RegisterInfo& ri = register_info(m);
  PrstatusLayout lay = prstatus_layout(m);
  for (const Note& n : notes) {
    if (n.name == "CORE" && n.type == kNtPrstatus) {
      if (n.desc.size() != lay.size) {
        if (warnings)
          warnings->push_back(fmt::format("NT_PRSTATUS note {} has {} bytes, expected {} for {}: skipped", pr.size(),
                                          n.desc.size(), lay.size, machine_info(m).name));
        continue;
      }
      CpuNote c;
      c.has_prstatus = true;
      c.regs = RegisterSet(m);
      c.pr_pid = int32_t(load_u32(n.desc.data() + lay.pid_off, e));
      for (size_t i = 0; i < ri.pt_regs.size(); ++i) {
        uint8_t regno = ri.pt_regs[i];
        if (regno == kNoReg) continue;
        c.regs.set(regno, load_uint(n.desc.data() + lay.reg_off + i * ri.reg_size, ri.reg_size, e));
      }
      pr.push_back(std::move(c));
    } else if (n.name == "QEMU") {
      if (n.desc.size() < kQemuMinSize) {
        if (warnings)
          warnings->push_back(fmt::format("QEMU CPU note {} has {} bytes, expected at least {}: skipped", qemu.size(),
                                          n.desc.size(), kQemuMinSize));
        continue;
      }
      CpuNote c;
      c.has_qemu = true;
      c.qemu_regs = RegisterSet(m);
      const uint8_t* d = n.desc.data();
      auto gpr = [&](int i) { return load_u64(d + kQemuGprOff + size_t(i) * 8, e); };
      // QEMU order: rax rbx rcx rdx rsi rdi rsp rbp r8..r15.
      if (m == Machine::kX86_64) {
        const uint8_t order[] = {x86_64::kRax, x86_64::kRbx, x86_64::kRcx, x86_64::kRdx, x86_64::kRsi, x86_64::kRdi,
                                 x86_64::kRsp, x86_64::kRbp, x86_64::kR8,  x86_64::kR9,  x86_64::kR10, x86_64::kR11,
                                 x86_64::kR12, x86_64::kR13, x86_64::kR14, x86_64::kR15};
        for (int i = 0; i < 16; ++i) c.qemu_regs.set(order[i], gpr(i));
        c.qemu_regs.set(x86_64::kRip, load_u64(d + kQemuRipOff, e));
        c.qemu_regs.set(x86_64::kRflags, load_u64(d + kQemuRipOff + 8, e));
      } else {
        const uint8_t order[] = {i386::kEax, i386::kEbx, i386::kEcx, i386::kEdx,
                                 i386::kEsi, i386::kEdi, i386::kEsp, i386::kEbp};
        for (int i = 0; i < 8; ++i) c.qemu_regs.set(order[i], gpr(i) & 0xffffffffu);
        c.qemu_regs.set(i386::kEip, load_u64(d + kQemuRipOff, e) & 0xffffffffu);
        c.qemu_regs.set(i386::kEflags, load_u64(d + kQemuRipOff + 8, e) & 0xffffffffu);
      }
      c.cr0 = load_u64(d + kQemuCrOff, e);
      c.cr2 = load_u64(d + kQemuCrOff + 16, e);
      c.cr3 = load_u64(d + kQemuCrOff + 24, e);
      c.cr4 = load_u64(d + kQemuCrOff + 32, e);
      qemu.push_back(std::move(c));
    }
  }
  // Pair by position; either list may be absent.
  std::vector<CpuNote> out;
  size_t n = std::max(pr.size(), qemu.size());
  for (size_t i = 0; i < n; ++i) {
    CpuNote c = i < pr.size() ? std::move(pr[i]) : CpuNote{};
    if (i < qemu.size()) {
      c.has_qemu = true;
      c.qemu_regs = qemu[i].qemu_regs;
      c.cr0 = qemu[i].cr0;
      c.cr2 = qemu[i].cr2;
      c.cr3 = qemu[i].cr3;
      c.cr4 = qemu[i].cr4;
    }
    if (!c.has_prstatus) c.regs = RegisterSet(m);
    c.index = unsigned(i);
    out.push_back(std::move(c));
  }
  if (!pr.empty() && !qemu.empty() && pr.size() != qemu.size() && warnings)
    warnings->push_back(fmt::format("{} NT_PRSTATUS notes but {} QEMU CPU notes", pr.size(), qemu.size()));
  return out;
}

}  // namespace vmc
