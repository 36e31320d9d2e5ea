// Linux x86-64 ORC unwind tables (arch/x86/include/asm/orc_types.h,
// arch/x86/kernel/unwind_orc.c): decoding every on-disk format version into
// one canonical OrcEntry, finding the version, loading a table from a
// vmlinux file or from a loaded module's relocated tables in the dump, and
// looking up a PC.
//
// Formats (the version numbers are drgn's, not the kernel's):
//   v1  4.14 – 6.2   flags bits: sp_reg 0-3, bp_reg 4-7, type 8-9 (CALL=0,
//                     REGS=1, REGS_PARTIAL/IRET=2), end 10.
//   v2  6.3          … type 8-9, signal 10, end 11.
//   v3  6.4 – 7.0    … type 8-10 (UNDEFINED=0, END_OF_STACK=1, CALL=2,
//                     REGS=3, REGS_PARTIAL=4), signal 11.
//   v4  7.1+         v3 layout, base registers renumbered (commit
//                     1735858caa4b, "objtool/x86: Reorder ORC register
//                     numbering").
// Base registers, v1–v3: UNDEFINED 0, PREV_SP 1, DX 2, DI 3, BP 4, SP 5,
// R10 6, R13 7, BP_INDIRECT 8, SP_INDIRECT 9; v4: UNDEFINED 0, AX 1, DX 2,
// SP 3, BP 4, DI 5, R10 6, R13 7, PREV_SP 8, SP_INDIRECT 9, BP_INDIRECT 10.
//
// Each entry is 6 bytes (s16 sp_offset, s16 bp_offset, u16 flags) in the
// target's byte order; .orc_unwind_ip holds s32 offsets relative to each
// slot (ip = &slot + value). Since 6.4 (backported to 6.3.10) vmlinux and
// modules carry .orc_header: a 20-byte hash of orc_types.h naming the format.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "arch/base/bytes.h"
#include "arch/base/result.h"
#include "arch/memory.h"
#include "dwarf/elf_image.h"
#include "dwarf/unwind.h"

namespace vmc::orc {

// Canonical base registers (the v4 numbering); kInvalid for a raw value
// the entry's format does not define.
enum Reg : uint8_t {
  kRegUndefined = 0, kRegAx = 1, kRegDx = 2, kRegSp = 3, kRegBp = 4, kRegDi = 5, kRegR10 = 6, kRegR13 = 7,
  kRegPrevSp = 8, kRegSpIndirect = 9, kRegBpIndirect = 10, kRegInvalid = 0xff,
};
// Canonical entry types (the v3 numbering).
enum Type : uint8_t { kTypeUndefined = 0, kTypeEndOfStack = 1, kTypeCall = 2, kTypeRegs = 3, kTypeRegsPartial = 4 };

constexpr size_t kEntrySize = 6;
constexpr size_t kHeaderSize = 20;
// Upper bound on entries accepted from a file or a dump (vmlinux 6.x has
// about 400k; a module a few thousand).
constexpr uint64_t kMaxEntries = 16u << 20;

// Decodes one raw 6-byte entry of format `version` (1..4) into canonical
// form. Versions 1 and 2 have no UNDEFINED / END_OF_STACK types: sp_reg ==
// UNDEFINED means END_OF_STACK when `end` is set, UNDEFINED otherwise.
// Version 1 has no signal bit: REGS and REGS_PARTIAL imply it (the kernel
// looks the next frame's ip up exactly after them).
OrcEntry decode_entry(int version, const uint8_t* raw, Endian e);
// Encodes a canonical entry in format `version` (tests and tools).
void encode_entry(int version, const OrcEntry& entry, uint8_t* raw, Endian e);

// The format version named by a .orc_header hash; 0 when unknown.
int version_from_header(std::span<const uint8_t> header);
// The format version for a kernel release ("6.1.0-56-cloud-amd64") when
// there is no .orc_header: >= 7.1 -> 4, >= 6.4 -> 3 (also RHEL 9.6 kernels,
// 5.14.0-517.el9 and later, which backported v3 without the header), 6.3 ->
// 2, else 1. 0 when the release cannot be parsed.
int version_from_release(std::string_view release);

// Loads the ORC table of an ELF image (vmlinux: ET_EXEC, section addresses
// are link-time; entries are PC-relative s32: ip = sh_addr + 4*i + value),
// adds `bias` (the KASLR offset) and sorts it. The version comes from
// .orc_header when present (an unknown hash is kUnsupported), else from
// `release`. kNotFound when the image has no ORC sections.
Result<OrcTable> load_from_elf(const ElfImage& elf, int64_t bias, std::string_view release);

// Loads a module's ORC table from memory: `count` s32 entries at
// `ip_table_addr` (each relative to its own address) and `count` 6-byte
// entries at `entries_addr` (mod->arch.orc_unwind_ip / orc_unwind /
// num_orcs; the kernel sorted them at load time). `version` is the
// format (the vmlinux table's). Every read error names the address.
Result<OrcTable> load_from_memory(VirtualMemory& mem, uint64_t ip_table_addr, uint64_t entries_addr,
                                  uint64_t count, int version, Endian e = Endian::kLittle);

// Builds a table from raw arrays already in host memory (the two section
// contents). `ip_base` is the runtime address of the first ip slot.
Result<OrcTable> build_table(std::span<const uint8_t> ip_table, std::span<const uint8_t> entries, uint64_t ip_base,
                             int version, Endian e, std::string_view what);

// The entry covering `pc`: the last entry whose ip <= pc (section
// terminators with the same ip sort before real entries, so a real entry
// wins, as in the kernel's __orc_find). Null when pc is below the table.
const OrcEntry* lookup(const OrcTable& t, uint64_t pc);

// "sp:sp+8 bp:prevsp-16 type:call signal" for messages.
std::string describe(const OrcEntry& e);
const char* reg_name(uint8_t reg);
const char* type_name(uint8_t type);

}  // namespace vmc::orc

namespace vmc {
// The names the task brief uses.
inline Result<OrcTable> load_orc_from_elf(const ElfImage& elf, int64_t bias, std::string_view release) {
  return orc::load_from_elf(elf, bias, release);
}
inline Result<OrcTable> load_orc_from_memory(VirtualMemory& mem, uint64_t ip_table_addr, uint64_t entries_addr,
                                             uint64_t count, int version) {
  return orc::load_from_memory(mem, ip_table_addr, entries_addr, count, version);
}
}  // namespace vmc
