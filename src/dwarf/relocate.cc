// Applying an ET_REL object's relocations to its debug sections, for the
// x86-64 (RELA) and i386 (REL) relocation types that appear there. Alloc
// sections are not touched: the code and the ORC tables are read from the
// dump, where the kernel already relocated them.
#include <cstring>

#include <elfutils/libdw.h>
#include <gelf.h>

#include "arch/base/bytes.h"
#include "dwarf/elf_image.h"

namespace vmc {

namespace {

// psABI relocation types (x86-64 psABI §4.4, i386 psABI).
constexpr uint32_t kX86_64_None = 0, kX86_64_64 = 1, kX86_64_PC32 = 2, kX86_64_32 = 10, kX86_64_32S = 11,
                   kX86_64_PC64 = 24;
constexpr uint32_t kI386_None = 0, kI386_32 = 1, kI386_PC32 = 2;

}  // namespace

Status ElfImage::relocate_debug_sections(const RelocationPlan& plan) {
  // Symbol table of the object (relocations reference it by index).
  Elf_Scn* symscn = nullptr;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB) symscn = scn;
  }
  if (!symscn) return make_error(Errc::kBadData, "{}: relocatable object without a symbol table", path_);
  GElf_Shdr symsh;
  gelf_getshdr(symscn, &symsh);
  Elf_Data* symdata = elf_getdata(symscn, nullptr);
  const size_t nsyms = symsh.sh_entsize ? symsh.sh_size / symsh.sh_entsize : 0;

  auto section_runtime = [&](size_t shndx) -> std::optional<uint64_t> {
    for (const auto& s : sections_)
      if (s.index == shndx) {
        if (!(s.flags & SHF_ALLOC)) return 0;  // debug sections: offsets, base 0
        if (plan.section_addrs.count(s.name)) return s.addr;
        return std::nullopt;
      }
    return std::nullopt;
  };

  // Sections the kernel's module loader tracks but never loads (it clears
  // their SHF_ALLOC; kernel/module/main.c, rewrite_section_headers): debug
  // references to them have no runtime address and matter to no code.
  auto discarded = [&](size_t shndx) {
    for (const auto& s : sections_)
      if (s.index == shndx) return s.name == ".modinfo" || s.name == "__versions";
    return false;
  };
  unsigned unresolved = 0, unknown_type = 0;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr rsh;
    if (!gelf_getshdr(scn, &rsh) || (rsh.sh_type != SHT_RELA && rsh.sh_type != SHT_REL)) continue;
    Elf_Scn* target = elf_getscn(elf_, rsh.sh_info);
    GElf_Shdr tsh;
    if (!target || !gelf_getshdr(target, &tsh) || (tsh.sh_flags & SHF_ALLOC) || tsh.sh_type == SHT_NOBITS) continue;
    Elf_Data* td = elf_getdata(target, nullptr);
    Elf_Data* rd = elf_getdata(scn, nullptr);
    if (!td || !rd || !td->d_buf) continue;
    auto* bytes = static_cast<uint8_t*>(td->d_buf);
    const bool rela = rsh.sh_type == SHT_RELA;
    const size_t n = rsh.sh_entsize ? rsh.sh_size / rsh.sh_entsize : 0;
    for (size_t i = 0; i < n; ++i) {
      uint64_t r_offset, r_info;
      int64_t addend = 0;
      if (rela) {
        GElf_Rela r;
        if (!gelf_getrela(rd, int(i), &r)) continue;
        r_offset = r.r_offset;
        r_info = r.r_info;
        addend = r.r_addend;
      } else {
        GElf_Rel r;
        if (!gelf_getrel(rd, int(i), &r)) continue;
        r_offset = r.r_offset;
        r_info = r.r_info;
      }
      // gelf_getrel/gelf_getrela hand out r_info in the 64-bit layout for
      // both ELF classes.
      uint32_t type = uint32_t(GELF_R_TYPE(r_info));
      uint64_t symi = GELF_R_SYM(r_info);
      unsigned width = 0;
      bool pcrel = false, sign32 = false;
      if (e_machine_ == EM_X86_64) {
        switch (type) {
          case kX86_64_None: continue;
          case kX86_64_64: width = 8; break;
          case kX86_64_32: width = 4; break;
          case kX86_64_32S: width = 4; sign32 = true; break;
          case kX86_64_PC32: width = 4; pcrel = true; break;
          case kX86_64_PC64: width = 8; pcrel = true; break;
          default: ++unknown_type; continue;
        }
      } else if (e_machine_ == EM_386) {
        switch (type) {
          case kI386_None: continue;
          case kI386_32: width = 4; break;
          case kI386_PC32: width = 4; pcrel = true; break;
          default: ++unknown_type; continue;
        }
      } else {
        return make_error(Errc::kUnsupported, "{}: relocating debug sections for ELF machine {} is not supported", path_,
                          e_machine_);
      }
      if (!in_bounds(r_offset, width, td->d_size)) {
        ++unknown_type;
        continue;
      }
      if (!rela) addend = sign_extend(load_uint(bytes + r_offset, width, endian_), width * 8);
      if (symi >= nsyms) { ++unresolved; continue; }
      GElf_Sym sym;
      if (!gelf_getsym(symdata, int(symi), &sym)) { ++unresolved; continue; }
      std::optional<uint64_t> S;
      if (sym.st_shndx == SHN_UNDEF) {
        const char* nm = elf_strptr(elf_, symsh.sh_link, sym.st_name);
        if (nm && plan.resolve_undefined) S = plan.resolve_undefined(nm);
      } else if (sym.st_shndx == SHN_ABS) {
        S = sym.st_value;
      } else if (sym.st_shndx < SHN_LORESERVE) {
        if (auto base = section_runtime(sym.st_shndx)) S = *base + sym.st_value;
        else if (discarded(sym.st_shndx)) continue;
      }
      if (!S) { ++unresolved; continue; }
      uint64_t v = *S + uint64_t(addend);
      if (pcrel) v -= tsh.sh_addr + r_offset;
      if (width == 4 && !sign32 && !pcrel && (v >> 32) != 0 && e_machine_ == EM_X86_64) { ++unresolved; continue; }
      store_uint(bytes + r_offset, width, v, endian_);
    }
  }
  relocation_complete_ = unresolved == 0 && unknown_type == 0;
  if (!relocation_complete_)
    warnings_.push_back(fmt::format("{}: {} debug relocations could not be resolved and {} were of unexpected types "
                                    "(DWARF referring to them may be wrong and is not trusted)",
                                    path_, unresolved, unknown_type));
  return {};
}

}  // namespace vmc
