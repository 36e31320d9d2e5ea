#include "kvm/kernel_image.h"

#include <cstring>

#include <elfutils/libdw.h>

#include "dwarf/orc.h"

namespace vmc {

std::string release_from_banner(std::string_view b) {
  constexpr std::string_view p = "Linux version ";
  if (b.substr(0, p.size()) != p) return {};
  b.remove_prefix(p.size());
  size_t end = b.find_first_of(" \n");
  return std::string(b.substr(0, end));
}

Result<std::shared_ptr<KernelImage>> KernelImage::open(const std::string& path) {
  auto k = std::shared_ptr<KernelImage>(new KernelImage());
  VMC_ASSIGN(k->elf_, ElfImage::open(path));
  if (k->elf_->elf_type() != 2 /* ET_EXEC */)
    return make_error(Errc::kMismatch, "{} is not a kernel image (ELF type {}, a vmlinux is ET_EXEC)", path,
                      k->elf_->elf_type());
  if (k->elf_->symbols().empty())
    return make_error(Errc::kBadData, "{}: has no symbol table (a stripped vmlinux cannot be used)", path);
  if (const Symbol* b = k->elf_->find_symbol("linux_banner"); b && b->size && b->size < 4096) {
    if (auto bytes = k->elf_->read_at(b->addr, b->size)) {
      const char* p = reinterpret_cast<const char*>(bytes->data());
      k->banner_.assign(p, strnlen(p, bytes->size()));
      k->release_ = release_from_banner(k->banner_);
    }
  }
  if (Dwarf* d = k->elf_->dwarf()) {
    k->types_ = std::make_unique<TypeIndex>(d);
    k->index_ = std::make_unique<DwarfIndex>(d);
  }
  return k;
}

Dwarf_CFI* KernelImage::debug_frame() {
  if (!cfi_loaded_) {
    cfi_loaded_ = true;
    if (elf_->dwarf()) cfi_ = dwarf_getcfi(elf_->dwarf());
  }
  return cfi_;
}

const OrcTable* KernelImage::orc(std::string* why) {
  if (!orc_loaded_) {
    orc_loaded_ = true;
    if (elf_->section(".orc_unwind_ip")) {
      auto t = orc::load_from_elf(*elf_, 0, release_);
      if (t) orc_ = std::move(*t);
      else orc_error_ = t.error().message();
    }
  }
  if (!orc_ && why) *why = orc_error_;
  return orc_ ? &*orc_ : nullptr;
}

void KernelImage::warm() {
  if (index_) index_->prepare();
  if (types_) types_->index_all();
  debug_frame();
  orc();
}

}  // namespace vmc
