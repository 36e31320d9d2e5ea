// C type names and typed rendering of values, from DWARF type DIEs (libdw).
//
// type_name() spells a type the way a C declaration would ("const char *",
// "int (*)(void *)", "char [16]"); display_value() renders a value's bytes
// as that type ("-22", "VMCARGS_F_READ|VMCARGS_F_EXEC", "0xffff… <init_task>",
// "0xffff… \"eth0\"", "{a = 1, b = 2}"). Both work on DWARF from any
// producer for any target on any host: value bytes are decoded only with
// the explicit-endian loaders of arch/base/bytes.h and the target byte order
// given in ValueContext.
//
// Nothing here trusts the debug info: every DW_AT_type chain, member list,
// enumerator list, array and string read is bounded. A malformed type gives
// "<bad type>"; a value that cannot be rendered gives "<…>" saying why
// ("<8 bytes for a 4-byte type>", "<unreadable: …>"). Neither call fails or
// throws.
#pragma once

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "arch/base/bytes.h"
#include "arch/memory.h"

namespace vmc {

// The C spelling of a type DIE as a declaration without a name would show
// it. Typedef names are kept ("u32", "vmcargs_cb_t"); base type names are
// GCC's with its word orders normalized to the usual spelling ("long
// unsigned int" -> "unsigned long", "__int128 unsigned" -> "unsigned
// __int128"); an anonymous struct/union/enum is "struct {...}"; a pointer
// without a target is "void *". Examples: "const char *", "char *const",
// "struct file *", "enum vmcargs_mode", "int (*)(void *)", "char [16]",
// "char (*)[16]", "int (*)(const char *, ...)", "volatile unsigned long".
// An invalid DIE, a broken DW_AT_type reference or a chain longer than the
// bound (e.g. a typedef loop) gives "<bad type>".
std::string type_name(Dwarf_Die type);

// Byte size of a type, looking through typedefs and qualifiers. Pointers and
// references without DW_AT_byte_size have `ptr_size` bytes; arrays are the
// element size times every dimension (overflow-checked). Nullopt for void,
// function types, incomplete (declaration-only) types, arrays without a
// constant length, and malformed DIEs.
std::optional<uint64_t> type_size(Dwarf_Die type, unsigned ptr_size);

struct ValueContext {
  VirtualMemory* mem = nullptr;  // for char * previews; null: no previews
  Endian endian = Endian::kLittle;  // byte order of the target (and of `bytes`)
  unsigned ptr_size = 8;            // pointer size when a DIE has no DW_AT_byte_size
  // Symbolizes a pointer value into kernel/module text or data
  // ("init_task+0x10"); returns "" when nothing covers it. May be empty.
  std::function<std::string(uint64_t)> symbolize;
  unsigned max_string = 64;   // characters of a string shown (char * or char []); at most 65536
  unsigned max_members = 16;  // members of one struct/union, elements of one array dimension
  unsigned max_depth = 3;     // nesting of by-value aggregates rendered, deeper ones as "{...}"; at most 16
  // Whatever the limits, one value renders at most 256 members and elements
  // in all, then "...".
};

// Typed rendering of `bytes` (the value as it lies in target memory: exactly
// type_size() bytes, in target byte order; any other length gives
// "<8 bytes for a 4-byte type>") as type `type`:
//  - integers in decimal, with the hex bit pattern added when the magnitude
//    is 0x10000 or more: "-22", "4096", "18446744073709551615 (0xffffffffffffffff)";
//    integers wider than 8 bytes in hex only;
//  - characters as number and literal: "65 'A'", "10 '\n'", "-1 '\377'";
//  - _Bool as "true"/"false", other values as "true (raw 2)";
//  - enums as the enumerator ("VMCARGS_MODE_FAULT"); for an enum whose
//    nonzero enumerators have pairwise disjoint bits, a value made only of
//    named bits as "A|B"; anything else as the number;
//  - pointers as "0x…" ("0x0" for NULL), plus " <sym+off>" when
//    ctx.symbolize knows the address; pointers to 1-byte character types
//    instead get a bounded preview read through ctx.mem:
//    0x… "text", 0x… "long text"... (truncated), 0x… <unreadable: reason>,
//    0x… "part" <unreadable after 4 bytes: reason>;
//  - struct/union by value as "{a = 1, b = 0x…}", anonymous members as a
//    nested "{…}", at most max_members members then "...";
//  - arrays as "{1, 2, 3}" (bounded as above), character arrays as a string
//    of their bytes without the NUL padding ("eth0", "RT\000\0224V");
//  - 4- and 8-byte IEEE floats decoded from their bit pattern; others as hex.
std::string display_value(Dwarf_Die type, std::span<const uint8_t> bytes, const ValueContext& ctx);

// Rendering of member DIE `member` (DW_TAG_member) of an object whose bytes
// are `object` (the whole struct or union, in target order): ordinary members
// as display_value() of their bytes, bitfields (DW_AT_bit_size, with either
// DW_AT_data_bit_offset or the DWARF 2/3 DW_AT_bit_offset) extracted,
// sign-extended for signed types, and rendered as their declared type.
std::string display_member(Dwarf_Die member, std::span<const uint8_t> object, const ValueContext& ctx);

// Extracts `bit_size` (1..64) bits starting at DWARF bit offset `bit_offset`
// of `bytes`, numbered as DW_AT_data_bit_offset numbers them on a target of
// byte order `e` (DWARF 5 §5.7.6): from the least significant bit of the
// first byte on little-endian targets, from its most significant bit on
// big-endian ones. Nullopt when the bits are not all within `bytes` or the
// size is out of range.
std::optional<uint64_t> extract_bits(std::span<const uint8_t> bytes, uint64_t bit_offset, unsigned bit_size, Endian e);

}  // namespace vmc
