#include "kvm/linux/kernel_code.h"

#include <elfutils/libdw.h>
#include <gelf.h>

#include "dwarf/orc.h"

namespace vmc {

KernelCodeMap::~KernelCodeMap() = default;

Result<std::unique_ptr<KernelCodeMap>> KernelCodeMap::build(Session& s, const ModuleList& mods) {
  auto map = std::unique_ptr<KernelCodeMap>(new KernelCodeMap());
  KernelImage* k = s.kernel_image();
  if (!k) return make_error(Errc::kNotFound, "no vmlinux: kernel code is unknown");
  ElfImage* vm = &k->elf();
  const int64_t kaslr = int64_t(s.kernel().kaslr_offset.value_or(0));

  auto img = std::make_unique<CodeImage>();
  img->name = "vmlinux";
  img->kernel = true;
  img->bias = kaslr;
  img->elf = vm;
  img->dwarf = vm->dwarf();
  img->index = k->index();
  img->debug_frame = k->debug_frame();
  for (const auto& sec : vm->sections())
    if ((sec.flags & SHF_EXECINSTR) && (sec.flags & SHF_ALLOC) && sec.size)
      img->text.emplace_back(sec.addr + uint64_t(kaslr), sec.addr + sec.size + uint64_t(kaslr));
  // ORC (x86-64 kernels built with CONFIG_UNWINDER_ORC), shared at link-time addresses.
  int orc_version = 0;
  if (vm->section(".orc_unwind_ip")) {
    std::string why;
    if (const OrcTable* t = k->orc(&why)) {
      orc_version = t->version;
      img->orc = t;
      img->orc_bias = kaslr;
    } else {
      map->warnings_.push_back(fmt::format("vmlinux ORC table unusable: {}", why));
    }
  }
  map->images_.push_back(std::move(img));

  for (const auto& m : mods.modules) {
    auto mi = std::make_unique<CodeImage>();
    mi->name = m->name;
    mi->kernel = true;
    mi->text = m->text;
    if (m->debug) {
      mi->elf = m->debug.get();
      mi->dwarf = m->debug->dwarf();
      if (mi->dwarf) mi->debug_frame = dwarf_getcfi(mi->dwarf);
    }
    if (orc_version && m->num_orcs && m->orc_ip && m->orc_entries && s.kmem()) {
      auto t = orc::load_from_memory(*s.kmem(), m->orc_ip, m->orc_entries, m->num_orcs, orc_version, s.dump().endian());
      if (t) {
        map->orcs_.push_back(std::make_unique<OrcTable>(std::move(*t)));
        mi->orc = map->orcs_.back().get();
      } else {
        map->warnings_.push_back(fmt::format("module {}: ORC table unusable: {}", m->name, t.error().message()));
      }
    }
    if (!m->debug || !m->debug->debug_relocation_complete()) {
      // Without a trustworthy file, symbols come from the module's kallsyms.
      for (size_t i = 0; i < m->kallsyms.size(); ++i) {
        uint64_t a = m->kallsyms[i].first;
        uint64_t next = i + 1 < m->kallsyms.size() ? m->kallsyms[i + 1].first : a;
        Symbol sym;
        sym.addr = a;
        sym.size = next > a ? next - a : 0;
        sym.name = m->kallsyms[i].second;
        sym.type = 2;
        mi->runtime_symbols.push_back(sym);
      }
    }
    map->images_.push_back(std::move(mi));
  }
  return map;
}

const CodeImage* KernelCodeMap::find(uint64_t pc) const {
  for (const auto& i : images_)
    if (i->contains(pc)) return i.get();
  return nullptr;
}

}  // namespace vmc
