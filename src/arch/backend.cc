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
