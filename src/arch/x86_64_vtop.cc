// x86-64 4-level and 5-level paging with 2 MiB and 1 GiB pages.
#include <array>

#include "arch/backend.h"
#include "arch/x86_paging.h"

namespace vmc {

extern const ArchBackend kX86_64Backend;

namespace {

using namespace x86;
using x86_64::kEntryAddrMask;

constexpr const char* kLevelName[] = {"", "PT", "PD", "PDPT", "PML4", "PML5"};

struct X86_64State final : VtopState {
  PhysAddr root_pa;
  unsigned levels = 4;
  std::string describe() const override {
    return fmt::format("x86-64 {}-level paging, root {:#x}", levels, root_pa.v);
  }
  std::string paging() const override { return levels == 5 ? "5-level" : "4-level"; }
  PhysAddr root() const override { return root_pa; }
};

Result<Run> walk(PhysicalMemory& mem, PhysAddr root, unsigned levels, uint64_t va) {
  unsigned va_bits = levels == 5 ? 57 : 48;
  if (uint64_t(sign_extend(va, va_bits)) != va)
    return make_error(Errc::kNonCanonical, "{:#x} is not a canonical address ({}-level paging)", va, levels);
  uint64_t table = root.v & kEntryAddrMask;
  // The walk is bounded by the level count, so a self-referencing table
  // (a cycle) can only yield a wrong-looking translation, never a loop.
  for (unsigned level = levels; level >= 1; --level) {
    unsigned shift = kPageShift + 9 * (level - 1);
    uint64_t idx = (va >> shift) & (x86_64::kEntriesPerTable - 1);
    PhysAddr entry_pa(table + idx * 8);
    std::array<uint8_t, 8> b;
    if (Status s = mem.read_phys(entry_pa, b); !s)
      return std::move(s).error().context(
          fmt::format("translating {:#x}: reading {} entry {} at physical {:#x}", va, kLevelName[level], idx,
                      entry_pa.v));
    uint64_t e = load_u64(b.data(), Endian::kLittle);
    if (!(e & kPresent))
      return make_error(Errc::kNotMapped, "{:#x} is not mapped: {} entry {} at physical {:#x} is not present ({:#x})",
                        va, kLevelName[level], idx, entry_pa.v, e);
    if ((level == 3 || level == 2) && (e & kPageSizeBit)) {
      uint64_t size = uint64_t(1) << shift;
      uint64_t off = va & (size - 1);
      return Run{PhysAddr((e & kEntryAddrMask & ~(size - 1)) + off), size - off, size};
    }
    table = e & kEntryAddrMask;
    if (level == 1) {
      uint64_t off = va & (kPageSize - 1);
      return Run{PhysAddr(table + off), kPageSize - off, kPageSize};
    }
  }
  return make_error(Errc::kBadData, "{:#x}: page walk ended without a page", va);
}

bool probe(const VtopHints& h) { return h.machine == Machine::kX86_64 && h.kind == DumpKind::kFull; }

Result<std::unique_ptr<VtopState>> initvtop(const VtopHints& h, PhysicalMemory& mem) {
  static constexpr int kBoth[] = {4, 5}, kFour[] = {4}, kFive[] = {5};
  std::span<const int> modes = !h.la57 ? std::span<const int>(kBoth) : *h.la57 ? std::span<const int>(kFive)
                                                                               : std::span<const int>(kFour);
  return choose_vtop_state(h, mem, kX86_64Backend, modes, [](PhysAddr root, int levels) {
    auto st = std::make_unique<X86_64State>();
    st->root_pa = PhysAddr(root.v & kEntryAddrMask);
    st->levels = unsigned(levels);
    return std::unique_ptr<VtopState>(std::move(st));
  });
}

void freevtop(std::unique_ptr<VtopState>) {}

Result<Run> kvatop(const VtopState& s, PhysicalMemory& mem, kvaddr_t va) {
  const auto& st = static_cast<const X86_64State&>(s);
  return walk(mem, st.root_pa, st.levels, va);
}

Result<Run> uvatop(const VtopState& s, PhysicalMemory& mem, PhysAddr root, uint64_t va) {
  const auto& st = static_cast<const X86_64State&>(s);
  return walk(mem, PhysAddr(root.v & kEntryAddrMask), st.levels, va);
}

}  // namespace

extern const ArchBackend kX86_64Backend = {"x86_64", probe, initvtop, freevtop, kvatop, uvatop};

}  // namespace vmc
