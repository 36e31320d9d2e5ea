// i386 paging: non-PAE (2-level, 4 MiB pages with PSE/PSE-36) and PAE
// (3-level, 2 MiB pages).
#include <array>

#include "arch/backend.h"
#include "arch/x86_paging.h"

namespace vmc {

extern const ArchBackend kI386Backend;

namespace {

using namespace x86;

struct I386State final : VtopState {
  PhysAddr root_pa;
  bool pae = false;
  std::string describe() const override {
    return fmt::format("i386 {} paging, root {:#x}", pae ? "PAE (3-level)" : "non-PAE (2-level)", root_pa.v);
  }
  std::string paging() const override { return pae ? "pae" : "2-level"; }
  PhysAddr root() const override { return root_pa; }
};

PhysAddr mask_root(uint64_t root, bool pae) {
  return PhysAddr(pae ? (root & i386::kPdptAddrMask) : (root & i386::kEntryAddrMask32));
}

Result<uint64_t> read_entry(PhysicalMemory& mem, PhysAddr pa, unsigned width, uint64_t va, const char* what,
                            uint64_t idx) {
  std::array<uint8_t, 8> b{};
  if (Status s = mem.read_phys(pa, std::span(b.data(), width)); !s)
    return std::move(s).error().context(
        fmt::format("translating {:#x}: reading {} entry {} at physical {:#x}", va, what, idx, pa.v));
  return load_uint(b.data(), width, Endian::kLittle);
}

Error not_present(uint64_t va, const char* what, uint64_t idx, PhysAddr pa, uint64_t e) {
  return make_error(Errc::kNotMapped, "{:#x} is not mapped: {} entry {} at physical {:#x} is not present ({:#x})", va,
                    what, idx, pa.v, e);
}

Result<Run> walk(PhysicalMemory& mem, PhysAddr root, bool pae, uint64_t va) {
  if (va > i386::kMax32) return make_error(Errc::kNonCanonical, "{:#x} is not a 32-bit address", va);
  if (!pae) {
    uint64_t di = va >> 22;
    PhysAddr pde_pa(root.v + di * 4);
    VMC_ASSIGN(uint64_t pde, read_entry(mem, pde_pa, 4, va, "PDE", di));
    if (!(pde & kPresent)) return not_present(va, "PDE", di, pde_pa, pde);
    if (pde & kPageSizeBit) {
      // 4 MiB page; PDE bits 20:13 are physical bits 39:32 (PSE-36).
      uint64_t base = (pde & i386::kLargePageMask32) | (((pde >> 13) & 0xff) << 32);
      uint64_t off = va & ((1u << 22) - 1);
      return Run{PhysAddr(base + off), (uint64_t(1) << 22) - off, uint64_t(1) << 22};
    }
    uint64_t ti = (va >> 12) & 1023;
    PhysAddr pte_pa((pde & i386::kEntryAddrMask32) + ti * 4);
    VMC_ASSIGN(uint64_t pte, read_entry(mem, pte_pa, 4, va, "PTE", ti));
    if (!(pte & kPresent)) return not_present(va, "PTE", ti, pte_pa, pte);
    uint64_t off = va & (kPageSize - 1);
    return Run{PhysAddr((pte & i386::kEntryAddrMask32) + off), kPageSize - off, kPageSize};
  }
  uint64_t pi = va >> 30;
  PhysAddr pdpte_pa(root.v + pi * 8);
  VMC_ASSIGN(uint64_t pdpte, read_entry(mem, pdpte_pa, 8, va, "PDPTE", pi));
  if (!(pdpte & kPresent)) return not_present(va, "PDPTE", pi, pdpte_pa, pdpte);
  uint64_t di = (va >> 21) & 511;
  PhysAddr pde_pa((pdpte & i386::kEntryAddrMaskPae) + di * 8);
  VMC_ASSIGN(uint64_t pde, read_entry(mem, pde_pa, 8, va, "PDE", di));
  if (!(pde & kPresent)) return not_present(va, "PDE", di, pde_pa, pde);
  if (pde & kPageSizeBit) {
    uint64_t size = uint64_t(1) << 21, off = va & (size - 1);
    return Run{PhysAddr((pde & i386::kEntryAddrMaskPae & ~(size - 1)) + off), size - off, size};
  }
  uint64_t ti = (va >> 12) & 511;
  PhysAddr pte_pa((pde & i386::kEntryAddrMaskPae) + ti * 8);
  VMC_ASSIGN(uint64_t pte, read_entry(mem, pte_pa, 8, va, "PTE", ti));
  if (!(pte & kPresent)) return not_present(va, "PTE", ti, pte_pa, pte);
  uint64_t off = va & (kPageSize - 1);
  return Run{PhysAddr((pte & i386::kEntryAddrMaskPae) + off), kPageSize - off, kPageSize};
}

bool probe(const VtopHints& h) { return h.machine == Machine::kI386 && h.kind == DumpKind::kFull; }

Result<std::unique_ptr<VtopState>> initvtop(const VtopHints& h, PhysicalMemory& mem) {
  if (!h.pae && !h.check)
    return make_error(Errc::kUnsupported, "i386: cannot tell PAE from non-PAE paging (no hint, no known mapping)");
  static constexpr int kBoth[] = {1, 0}, kPae[] = {1}, kNonPae[] = {0};
  std::span<const int> modes = !h.pae ? std::span<const int>(kBoth) : *h.pae ? std::span<const int>(kPae)
                                                                             : std::span<const int>(kNonPae);
  return choose_vtop_state(h, mem, kI386Backend, modes, [](PhysAddr root, int pae) {
    auto st = std::make_unique<I386State>();
    st->root_pa = mask_root(root.v, pae != 0);
    st->pae = pae != 0;
    return std::unique_ptr<VtopState>(std::move(st));
  });
}

void freevtop(std::unique_ptr<VtopState>) {}

Result<Run> kvatop(const VtopState& s, PhysicalMemory& mem, kvaddr_t va) {
  const auto& st = static_cast<const I386State&>(s);
  return walk(mem, st.root_pa, st.pae, va);
}

Result<Run> uvatop(const VtopState& s, PhysicalMemory& mem, PhysAddr root, uint64_t va) {
  const auto& st = static_cast<const I386State&>(s);
  return walk(mem, mask_root(root.v, st.pae), st.pae, va);
}

}  // namespace

extern const ArchBackend kI386Backend = {"i386", probe, initvtop, freevtop, kvatop, uvatop};

}  // namespace vmc
