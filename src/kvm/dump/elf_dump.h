// ELF core vmcores: kdump's /proc/vmcore copy, QEMU dump-guest-memory
// (with or without -p), makedumpfile -E. PT_LOADs are physical ranges
// (p_paddr); p_filesz < p_memsz marks the tail as excluded, not zero.
#pragma once

#include "kvm/dump/dump.h"

namespace vmc {

class ElfDump final : public Dump {
 public:
  static Result<std::unique_ptr<ElfDump>> open(std::shared_ptr<const Source> src);

  Status read_phys(PhysAddr pa, std::span<uint8_t> buf) override;

  struct Load {
    uint64_t paddr, vaddr, offset, filesz, memsz;
  };
  const std::vector<Load>& loads() const { return loads_; }
  bool elf64() const { return elf64_; }

 private:
  // The segment containing pa (by p_paddr), or nullptr.
  const Load* find(uint64_t pa) const;

  std::shared_ptr<const Source> src_;
  std::vector<Load> loads_;          // sorted by paddr
  std::vector<uint64_t> max_end_;    // prefix maximum of paddr+memsz
  bool elf64_ = true;
};

}  // namespace vmc
