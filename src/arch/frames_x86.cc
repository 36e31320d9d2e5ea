#include "arch/frames_x86.h"

#include <array>

namespace vmc::x86 {

namespace {

// EFLAGS.VM (virtual-8086 mode), X86_VM_MASK in the kernel.
constexpr uint64_t kEflagsVm = 1u << 17;
// Selector RPL bits; 3 = user.
constexpr uint64_t kRplMask = 3;
// i386: slots of a pt_regs without sp/ss (kernel mode before Linux 5.3).
constexpr unsigned kI386ShortSlots = 15;

}  // namespace

unsigned word_size(Machine m) { return machine_info(m).ptr_size; }

uint64_t mask_word(Machine m, uint64_t v) { return word_size(m) == 4 ? (v & 0xffffffffu) : v; }

Result<uint64_t> read_word(Machine m, VirtualMemory& mem, uint64_t addr, const char* what) {
  unsigned ws = word_size(m);
  std::array<uint8_t, 8> b{};
  Status s = mem.read_virt(addr, std::span(b.data(), ws));
  if (!s) return std::move(s).error().context(fmt::format("reading {} at {:#x}", what, addr));
  return load_uint(b.data(), ws, machine_info(m).endian);
}

Result<FpFrame> read_fp_frame(Machine m, VirtualMemory& mem, uint64_t bp) {
  unsigned ws = word_size(m);
  FpFrame f;
  f.bp_slot = bp;
  f.ra_slot = mask_word(m, bp + ws);
  f.caller_sp = mask_word(m, bp + 2 * ws);
  if (f.caller_sp < bp)
    return make_error(Errc::kBadData, "frame pointer {:#x} wraps around the address space", bp);
  VMC_ASSIGN(f.caller_bp, read_word(m, mem, f.bp_slot, "saved frame pointer"));
  VMC_ASSIGN(f.return_addr, read_word(m, mem, f.ra_slot, "return address"));
  return f;
}

std::optional<uint64_t> decode_kernel_frame_pointer(Machine m, uint64_t bp) {
  if (m == Machine::kX86_64) {
    if (bp & 1) return bp & ~uint64_t(1);
    return std::nullopt;
  }
  if (m == Machine::kI386) {
    bp &= 0xffffffffu;
    if (bp == 0 || (bp & 0x80000000u)) return std::nullopt;
    return bp | 0x80000000u;
  }
  return std::nullopt;
}

// struct pt_regs ends with ss: r15 … ss on x86-64 (21 slots; the fs_base …
// gs tail of RegisterInfo::pt_regs belongs to user_regs_struct only), bx …
// ss on i386 (17).
unsigned pt_regs_slots(Machine m) { return m == Machine::kX86_64 ? 21 : 17; }

uint64_t pt_regs_size(Machine m) { return uint64_t(pt_regs_slots(m)) * word_size(m); }

uint64_t pt_regs_ip_offset(Machine m) { return uint64_t(register_info(m).pt_regs_ip_slot) * word_size(m); }

std::optional<uint64_t> PtRegs::get(unsigned regno) const {
  for (const auto& s : slots)
    if (s.regno == regno) return s.value;
  return std::nullopt;
}

std::optional<uint64_t> PtRegs::slot_addr(unsigned regno) const {
  for (const auto& s : slots)
    if (s.regno == regno) return s.addr;
  return std::nullopt;
}

bool saved_context_is_user(Machine m, uint64_t cs, uint64_t flags) {
  if ((cs & 0xffff & kRplMask) == kRplMask) return true;
  return m == Machine::kI386 && (flags & kEflagsVm) != 0;
}

namespace {

bool is_segment(Machine m, uint8_t regno) {
  if (m == Machine::kX86_64) return regno >= x86_64::kEs && regno <= x86_64::kGs;
  return regno >= i386::kEs && regno <= i386::kGs;
}

// Reads slots [first, first + n) of the pt_regs at `base` in one read.
Status read_slots(Machine m, VirtualMemory& mem, uint64_t base, unsigned first, unsigned n, PtRegs* out) {
  const RegisterInfo& ri = register_info(m);
  unsigned ws = word_size(m);
  std::vector<uint8_t> buf(size_t(n) * ws);
  uint64_t start = mask_word(m, base + uint64_t(first) * ws);
  Status s = mem.read_virt(start, buf);
  if (!s)
    return std::move(s).error().context(
        fmt::format("reading pt_regs slots {}-{} at {:#x} (pt_regs at {:#x})", first, first + n - 1, start, base));
  for (unsigned i = 0; i < n; ++i) {
    unsigned slot = first + i;
    PtRegsSlot ps;
    ps.regno = slot < ri.pt_regs.size() ? ri.pt_regs[slot] : kNoReg;
    ps.addr = mask_word(m, start + uint64_t(i) * ws);
    ps.value = load_uint(buf.data() + size_t(i) * ws, ws, machine_info(m).endian);
    // Segment slots hold a 16-bit selector; the rest of the slot carries
    // flags (i386 __csh CS_FROM_*, x86-64 FRED csx/ssx).
    if (is_segment(m, ps.regno)) ps.value &= 0xffff;
    out->slots.push_back(ps);
  }
  return {};
}

}  // namespace

Result<PtRegs> read_pt_regs(Machine m, VirtualMemory& mem, uint64_t addr, bool i386_short_kernel_regs) {
  const RegisterInfo& ri = register_info(m);
  PtRegs r;
  r.addr = addr;
  unsigned ws = word_size(m);
  if (m == Machine::kI386 && i386_short_kernel_regs) {
    VMC_TRY(read_slots(m, mem, addr, 0, kI386ShortSlots, &r));
    uint64_t cs = r.get(i386::kCs).value_or(0), fl = r.get(i386::kEflags).value_or(0);
    if (saved_context_is_user(m, cs, fl)) {
      VMC_TRY(read_slots(m, mem, addr, kI386ShortSlots, pt_regs_slots(m) - kI386ShortSlots, &r));
    } else {
      // kernel_stack_pointer() of those kernels: &regs->sp.
      uint64_t sp_addr = mask_word(m, addr + uint64_t(ri.pt_regs_sp_slot) * ws);
      r.slots.push_back({i386::kEsp, sp_addr, sp_addr});
    }
  } else {
    VMC_TRY(read_slots(m, mem, addr, 0, pt_regs_slots(m), &r));
  }
  uint8_t cs_reg = m == Machine::kI386 ? uint8_t(i386::kCs) : uint8_t(x86_64::kCs);
  uint8_t fl_reg = m == Machine::kI386 ? uint8_t(i386::kEflags) : uint8_t(x86_64::kRflags);
  r.user_mode = saved_context_is_user(m, r.get(cs_reg).value_or(0), r.get(fl_reg).value_or(0));
  return r;
}

Result<PtRegs> read_iret_frame(Machine m, VirtualMemory& mem, uint64_t ip_addr) {
  const RegisterInfo& ri = register_info(m);
  PtRegs r;
  r.addr = mask_word(m, ip_addr - pt_regs_ip_offset(m));
  VMC_TRY(read_slots(m, mem, r.addr, ri.pt_regs_ip_slot, kIretFrameSlots, &r));
  uint8_t cs_reg = m == Machine::kI386 ? uint8_t(i386::kCs) : uint8_t(x86_64::kCs);
  uint8_t fl_reg = m == Machine::kI386 ? uint8_t(i386::kEflags) : uint8_t(x86_64::kRflags);
  r.user_mode = saved_context_is_user(m, r.get(cs_reg).value_or(0), r.get(fl_reg).value_or(0));
  return r;
}

}  // namespace vmc::x86
