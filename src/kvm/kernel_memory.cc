#include "kvm/kernel_memory.h"

namespace vmc {

Result<Run> KernelMemory::translate(kvaddr_t va) {
  uint64_t page = va >> 12;
  if (auto it = tlb_.find(page); it != tlb_.end()) {
    uint64_t off = va & 0xfff;
    return Run{PhysAddr(it->second + off), 0x1000 - off, 0x1000};
  }
  VMC_ASSIGN(Run r, backend_.kvatop(*state_, phys_, va));
  if (tlb_.size() >= kTlbMax) tlb_.clear();
  tlb_[page] = (r.pa.v - (va & 0xfff));
  // Stay within the 4 KiB page so the cache entry covers what we return.
  uint64_t in_page = 0x1000 - (va & 0xfff);
  if (r.valid > in_page) r.valid = in_page;
  return r;
}

Status KernelMemory::read_virt(kvaddr_t va, std::span<uint8_t> buf) {
  uint64_t done = 0;
  while (done < buf.size()) {
    uint64_t a = va + done;
    if (a < va) return make_error(Errc::kNotMapped, "read of {} bytes at {:#x} wraps around the address space", buf.size(), va);
    auto r = translate(a);
    if (!r) return std::move(r).error();
    uint64_t n = std::min<uint64_t>(r->valid, buf.size() - done);
    if (Status s = phys_.read_phys(r->pa, buf.subspan(done, n)); !s)
      return std::move(s).error().context(fmt::format("reading virtual address {:#x}", a));
    done += n;
  }
  return {};
}

Status KernelMemory::read_user(PhysAddr root, uint64_t va, std::span<uint8_t> buf) {
  uint64_t done = 0;
  while (done < buf.size()) {
    uint64_t a = va + done;
    VMC_ASSIGN(Run r, backend_.uvatop(*state_, phys_, root, a));
    uint64_t n = std::min<uint64_t>(r.valid, buf.size() - done);
    if (Status s = phys_.read_phys(r.pa, buf.subspan(done, n)); !s)
      return std::move(s).error().context(fmt::format("reading user address {:#x}", a));
    done += n;
  }
  return {};
}

}  // namespace vmc
