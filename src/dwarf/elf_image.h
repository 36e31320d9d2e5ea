// An ELF object with debug info: the vmlinux, a kernel module, or a user
// program. Owns the libelf/libdw handles (RAII); opened read-only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "arch/base/bytes.h"
#include "arch/base/result.h"
#include "arch/machine.h"

struct Elf;
struct Dwarf;

namespace vmc {

struct Symbol {
  uint64_t addr = 0;  // link-time value (st_value)
  uint64_t size = 0;
  std::string_view name;
  uint8_t type = 0;  // STT_*
  uint8_t bind = 0;  // STB_*
  uint16_t shndx = 0;
  bool is_function() const { return type == 2; }
};

struct ElfSection {
  std::string name;
  uint64_t addr = 0, offset = 0, size = 0;
  uint32_t type = 0;
  uint64_t flags = 0;
  size_t index = 0;
};

struct ElfSegment {
  uint64_t vaddr = 0, paddr = 0, offset = 0, filesz = 0, memsz = 0;
  uint32_t flags = 0;
};

// How to open a relocatable object (a kernel module): where each of its
// sections was loaded, and how to resolve symbols it does not define.
struct RelocationPlan {
  std::map<std::string, uint64_t, std::less<>> section_addrs;  // ".text" -> runtime address
  std::function<std::optional<uint64_t>(std::string_view)> resolve_undefined;
};

class ElfImage {
 public:
  static Result<std::unique_ptr<ElfImage>> open(const std::string& path);
  // Opens an ET_REL file laid out at the plan's section addresses: symbol
  // addresses become absolute runtime addresses and the debug sections'
  // relocations are applied in a private copy-on-write mapping (the file is
  // never written), so DWARF and CFI read as if linked at those addresses.
  static Result<std::unique_ptr<ElfImage>> open_relocated(const std::string& path, const RelocationPlan& plan);
  ~ElfImage();
  ElfImage(const ElfImage&) = delete;
  ElfImage& operator=(const ElfImage&) = delete;

  const std::string& path() const { return path_; }
  Machine machine() const { return machine_; }
  uint16_t elf_machine() const { return e_machine_; }
  Endian endian() const { return endian_; }
  bool elf64() const { return elf64_; }
  uint16_t elf_type() const { return e_type_; }
  Elf* elf() const { return elf_; }
  // libdw handle, or nullptr when the file has no DWARF.
  Dwarf* dwarf() const { return dwarf_; }
  const std::vector<uint8_t>& build_id() const { return build_id_; }
  std::string build_id_hex() const;
  // Warnings from opening (e.g. relocations that could not be applied).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // False when some debug relocation of a relocated open could not be
  // applied: the DWARF is then not trusted for values.
  bool debug_relocation_complete() const { return relocation_complete_; }

  const std::vector<ElfSection>& sections() const { return sections_; }
  const ElfSection* section(std::string_view name) const;
  const std::vector<ElfSegment>& segments() const { return segments_; }

  // Symbols from .symtab (else .dynsym), sorted by address.
  const std::vector<Symbol>& symbols() const { return symbols_; }
  // First defined symbol of that name (functions and objects preferred).
  const Symbol* find_symbol(std::string_view name) const;
  // All defined symbols of that name.
  std::vector<const Symbol*> find_symbols(std::string_view name) const;
  // The symbol a backtrace names for `addr` (link-time), as kallsyms does:
  // the nearest symbol at or below addr (absolute symbols excluded), and
  // among aliases at that address a sized function first. Null when there
  // is none or the nearest one is sized and ends before addr.
  const Symbol* symbol_at(uint64_t addr) const;
  // A sized function or object symbol that contains `addr`, else null (for
  // naming what a pointer points into).
  const Symbol* object_at(uint64_t addr) const;

  // Bytes at a link-time address, from the file contents of an allocated
  // section (PROGBITS). kNotFound when no section has file bytes there.
  Result<std::vector<uint8_t>> read_at(uint64_t addr, uint64_t len) const;
  // Bytes of a section by name.
  Result<std::span<const uint8_t>> section_data(std::string_view name) const;

 private:
  ElfImage() = default;
  static Result<std::unique_ptr<ElfImage>> open_impl(const std::string& path, const RelocationPlan* plan);
  Status load(const RelocationPlan* plan);
  Status relocate_debug_sections(const RelocationPlan& plan);

  std::string path_;
  int fd_ = -1;
  Elf* elf_ = nullptr;
  Dwarf* dwarf_ = nullptr;
  Machine machine_ = Machine::kUnknown;
  uint16_t e_machine_ = 0, e_type_ = 0;
  Endian endian_ = Endian::kLittle;
  bool elf64_ = true;
  std::vector<uint8_t> build_id_;
  std::vector<ElfSection> sections_;
  std::vector<ElfSegment> segments_;
  std::vector<Symbol> symbols_;
  std::unordered_multimap<std::string_view, size_t> by_name_;
  std::vector<std::string> warnings_;
  bool relocation_complete_ = true;
};

// The GNU build-id of an ELF file in hex ("" when it has none), read from
// its note sections without loading symbols or DWARF.
Result<std::string> read_build_id(const std::string& path);

}  // namespace vmc
