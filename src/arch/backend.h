// Address translation backends: the kvm_arch switch (after FreeBSD libkvm).
//
// One ArchBackend per architecture x dump kind, listed in kBackends[]
// (backend.cc). The kvm layer gathers VtopHints from the dump, walks the
// table calling probe(), and uses the first backend that accepts. There is
// no self-registration: the table is the list.
//
// Adding an architecture or dump kind:
//   1. Own constants with a prefix in a header of its own (x86_64::kPageShift);
//      nothing from host headers, every backend compiles on every host.
//   2. Write probe/initvtop/freevtop/kvatop/uvatop with the contracts below;
//      read page tables only through PhysicalMemory, entries with the
//      target's explicit byte order.
//   3. Add the backend to kBackends[] in backend.cc.
//   4. Add synthetic page-table tests (tests/arch_*_test.cc) for every page
//      size, not-present entries, non-canonical addresses and a truncated
//      table, and a real dump to cores/.
//   5. Register file, DWARF register numbers and calling convention go in
//      arch/regs_<arch>.h (used by the unwinder and argument recovery).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arch/base/addr.h"
#include "arch/base/result.h"
#include "arch/memory.h"
#include "arch/machine.h"

namespace vmc {

enum class DumpKind : uint8_t { kFull, kMinidump };

// What the kvm layer learned about the dump that translation needs.
struct VtopHints {
  Machine machine = Machine::kUnknown;
  DumpKind kind = DumpKind::kFull;
  // Candidate page-table roots (physical), best first: computed from the
  // kernel's own root symbol, then CR3 of each CPU.
  std::vector<PhysAddr> roots;
  std::optional<bool> la57;  // x86-64: 5-level paging in use
  std::optional<bool> pae;   // i386: PAE paging in use
  // A translation known to hold (e.g. the root table's own kernel address),
  // used to validate a root and to detect the paging mode by trial.
  std::optional<std::pair<kvaddr_t, PhysAddr>> check;
};

// A translated run: `valid` bytes starting at `pa` are contiguous physical
// memory (to the end of the page or large page containing the address).
struct Run {
  PhysAddr pa;
  uint64_t valid = 0;
  uint64_t page_size = 0;
};

// Opaque per-session translation state owned by the backend.
struct VtopState {
  virtual ~VtopState() = default;
  virtual std::string describe() const = 0;  // e.g. "x86-64 4-level, root 0x1c0a000"
  virtual std::string paging() const = 0;    // "4-level" | "5-level" | "pae" | "2-level"
  virtual PhysAddr root() const = 0;
};

struct ArchBackend {
  const char* name;  // "x86_64", "i386"
  // True if this backend handles the machine/dump kind in `h`. Cheap, no I/O.
  bool (*probe)(const VtopHints& h);
  // Chooses the root and paging mode (trying hints.roots in order and
  // validating with hints.check when present). Fails with kUnsupported or
  // kBadData naming what was tried.
  Result<std::unique_ptr<VtopState>> (*initvtop)(const VtopHints& h, PhysicalMemory& mem);
  // Releases backend state (unique_ptr does it; kept for the libkvm shape).
  void (*freevtop)(std::unique_ptr<VtopState> state);
  // Kernel virtual -> physical run. kNonCanonical, kNotMapped (naming the
  // level whose entry is not present), or the PhysicalMemory error of a
  // page-table read with the entry address as context.
  Result<Run> (*kvatop)(const VtopState& s, PhysicalMemory& mem, kvaddr_t va);
  // User virtual -> physical through another root (a process's page tables).
  Result<Run> (*uvatop)(const VtopState& s, PhysicalMemory& mem, PhysAddr root, uint64_t va);
};

// For backends' initvtop: tries each root in hints.roots with each mode in
// `modes` (make builds the state), and accepts the first state whose
// translation of hints.check holds, or the first one when there is no
// check. The error names every root and mode tried.
Result<std::unique_ptr<VtopState>> choose_vtop_state(
    const VtopHints& h, PhysicalMemory& mem, const ArchBackend& backend, std::span<const int> modes,
    const std::function<std::unique_ptr<VtopState>(PhysAddr root, int mode)>& make);

// The table, in probe order.
std::span<const ArchBackend* const> arch_backends();

// Walks the table: the first backend whose probe accepts `h`, or
// kUnsupported naming the machine and every backend tried.
Result<const ArchBackend*> probe_backend(const VtopHints& h);

}  // namespace vmc
