// Kernel virtual memory of a dump: the arch backend's translation over the
// dump's physical memory, with reads that cross page boundaries and a small
// translation cache.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "arch/backend.h"
#include "arch/memory.h"

namespace vmc {

class KernelMemory final : public VirtualMemory {
 public:
  KernelMemory(PhysicalMemory& phys, const ArchBackend& backend, std::unique_ptr<VtopState> state)
      : phys_(phys), backend_(backend), state_(std::move(state)) {}
  ~KernelMemory() override { backend_.freevtop(std::move(state_)); }

  Status read_virt(kvaddr_t va, std::span<uint8_t> buf) override;
  Result<Run> translate(kvaddr_t va);
  // User-space read through a process's page-table root.
  Status read_user(PhysAddr root, uint64_t va, std::span<uint8_t> buf);

  const ArchBackend& backend() const { return backend_; }
  const VtopState& state() const { return *state_; }
  PhysicalMemory& phys() { return phys_; }

 private:
  PhysicalMemory& phys_;
  const ArchBackend& backend_;
  std::unique_ptr<VtopState> state_;
  // 4 KiB virtual page -> physical page, bounded (cleared when full).
  std::unordered_map<uint64_t, uint64_t> tlb_;
  static constexpr size_t kTlbMax = 1 << 14;
};

}  // namespace vmc
