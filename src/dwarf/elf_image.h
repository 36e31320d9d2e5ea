// An ELF object with debug info: the vmlinux, a kernel module, or a user
// program. Owns the libelf/libdw handles (RAII); opened read-only.
#pragma once

#include <cstdint>
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

class ElfImage {
 public:
  static Result<std::unique_ptr<ElfImage>> open(const std::string& path);
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

  const std::vector<ElfSection>& sections() const { return sections_; }
  const ElfSection* section(std::string_view name) const;
  const std::vector<ElfSegment>& segments() const { return segments_; }

  // Symbols from .symtab (else .dynsym), sorted by address.
  const std::vector<Symbol>& symbols() const { return symbols_; }
  // First defined symbol of that name (functions and objects preferred).
  const Symbol* find_symbol(std::string_view name) const;
  // All defined symbols of that name.
  std::vector<const Symbol*> find_symbols(std::string_view name) const;
  // The function or object symbol containing `addr` (link-time), or the
  // nearest preceding sized-0 label when nothing contains it.
  const Symbol* symbol_at(uint64_t addr) const;

  // Bytes at a link-time address, from the file contents of an allocated
  // section (PROGBITS). kNotFound when no section has file bytes there.
  Result<std::vector<uint8_t>> read_at(uint64_t addr, uint64_t len) const;
  // Bytes of a section by name.
  Result<std::span<const uint8_t>> section_data(std::string_view name) const;

 private:
  ElfImage() = default;
  Status load();

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
};

}  // namespace vmc
