// A kernel image (vmlinux) and everything derived from the file alone,
// independent of any dump: symbols, structure layouts, the CU/function
// index, the .debug_frame CFI and the ORC table (at link-time addresses).
//
// Opening and indexing a distribution vmlinux is most of the cost of
// analysing one dump, so an image is opened once and shared by every
// Session of that kernel (std::shared_ptr). The indexes fill lazily and are
// not locked: one thread uses an image at a time. `triage` indexes it fully
// with warm() and then forks its workers, which share the result
// copy-on-write.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dwarf/dwarf_index.h"
#include "dwarf/elf_image.h"
#include "dwarf/types.h"
#include "dwarf/unwind.h"

namespace vmc {

class KernelImage {
 public:
  // Opens `path` and checks that it can be a kernel image: ELF ET_EXEC with
  // a symbol table. DWARF is optional (symbols-only analysis).
  static Result<std::shared_ptr<KernelImage>> open(const std::string& path);

  ElfImage& elf() { return *elf_; }
  const ElfImage& elf() const { return *elf_; }
  const std::string& path() const { return elf_->path(); }
  // The image's own linux_banner up to its NUL, and the release in it
  // ("" when the file has none).
  const std::string& banner() const { return banner_; }
  const std::string& release() const { return release_; }
  // Null without DWARF.
  TypeIndex* types() { return types_.get(); }
  DwarfIndex* index() { return index_.get(); }
  Dwarf_CFI* debug_frame();
  // The ORC table at link-time addresses, loaded on first use; null when
  // the image has none or it is unusable (then `why` says why, once).
  const OrcTable* orc(std::string* why = nullptr);

  // Builds every lazy index now: CU ranges, all type names, the CFI and
  // the ORC table.
  void warm();

 private:
  KernelImage() = default;
  std::unique_ptr<ElfImage> elf_;
  std::string banner_, release_;
  std::unique_ptr<TypeIndex> types_;
  std::unique_ptr<DwarfIndex> index_;
  bool cfi_loaded_ = false;
  Dwarf_CFI* cfi_ = nullptr;
  bool orc_loaded_ = false;
  std::optional<OrcTable> orc_;
  std::string orc_error_;
};

// "6.1.0-56-cloud-amd64" from "Linux version 6.1.0-56-cloud-amd64 (…) …";
// "" when `banner` is not a Linux banner.
std::string release_from_banner(std::string_view banner);

}  // namespace vmc
