#include "arch/backend.h"

namespace vmc {

extern const ArchBackend kX86_64Backend;
extern const ArchBackend kI386Backend;

namespace {
// Probe order. FreeBSD minidump backends (x86_64, i386) join here.
const ArchBackend* const kBackends[] = {
    &kX86_64Backend,
    &kI386Backend,
};
}  // namespace

Result<std::unique_ptr<VtopState>> choose_vtop_state(
    const VtopHints& h, PhysicalMemory& mem, const ArchBackend& backend, std::span<const int> modes,
    const std::function<std::unique_ptr<VtopState>(PhysAddr root, int mode)>& make) {
  if (h.roots.empty())
    return make_error(Errc::kUnsupported, "{}: no page-table root (no symbol, no CR3)", backend.name);
  std::string tried;
  for (PhysAddr root : h.roots) {
    for (int mode : modes) {
      std::unique_ptr<VtopState> st = make(root, mode);
      if (!h.check) return st;
      Result<Run> r = backend.kvatop(*st, mem, h.check->first);
      if (r.ok() && r->pa == h.check->second) return st;
      tried += fmt::format("; {}: {}", st->describe(),
                           r.ok() ? fmt::format("{:#x} -> {:#x}", h.check->first, r->pa.v) : r.error().message());
    }
  }
  return make_error(Errc::kBadData, "{}: no page-table root translates {:#x} to {:#x}{}", backend.name, h.check->first,
                    h.check->second.v, tried);
}

std::span<const ArchBackend* const> arch_backends() { return kBackends; }

Result<const ArchBackend*> probe_backend(const VtopHints& h) {
  std::string tried;
  for (const ArchBackend* b : kBackends) {
    if (b->probe(h)) return b;
    tried += tried.empty() ? b->name : fmt::format(", {}", b->name);
  }
  return make_error(Errc::kUnsupported, "no address-translation backend for {} {} dumps (tried: {})",
                    machine_info(h.machine).name, h.kind == DumpKind::kFull ? "full" : "minidump", tried);
}

}  // namespace vmc
