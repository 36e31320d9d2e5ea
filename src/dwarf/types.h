// Kernel structure layouts from DWARF: struct sizes and member offsets by
// path ("thread.sp", "tasks.next"), looking through anonymous structs and
// unions. Lazy: CUs are scanned only until the requested struct turns up,
// and every named definition seen on the way is remembered.
#pragma once

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "arch/base/result.h"

namespace vmc {

struct MemberInfo {
  uint64_t offset = 0;            // from the start of the outer struct
  std::optional<uint64_t> size;   // byte size of the member's type
  Dwarf_Die type{};               // the member's type (typedefs/cv stripped)
  std::optional<uint64_t> bit_size, bit_offset;  // bitfields
};

class TypeIndex {
 public:
  explicit TypeIndex(Dwarf* dwarf) : dwarf_(dwarf) {}

  // A complete (non-declaration) struct/union/enum/typedef definition.
  Result<Dwarf_Die> find_type(const std::string& name, int tag = DW_TAG_structure_type);
  Result<uint64_t> struct_size(const std::string& name);
  // "a.b.c" within struct `name`.
  Result<MemberInfo> member(const std::string& name, const std::string& path);
  Result<uint64_t> offset(const std::string& name, const std::string& path) {
    VMC_ASSIGN(MemberInfo m, member(name, path));
    return m.offset;
  }
  bool has_member(const std::string& name, const std::string& path) { return member(name, path).ok(); }

  // Scans every CU now, so that later lookups are map hits (a type that
  // does not exist otherwise costs a scan of the remaining CUs).
  void index_all() { (void)find_type(std::string(), -1); }

  // Member lookup inside an arbitrary struct/union DIE.
  static Result<MemberInfo> member_of(Dwarf_Die outer, const std::string& path);

 private:
  Dwarf* dwarf_;
  std::map<std::pair<int, std::string>, Dwarf_Die> found_;
  Dwarf_Off next_cu_ = 0;
  bool exhausted_ = false;
};

// Strips typedefs and const/volatile/restrict/atomic qualifiers.
Dwarf_Die strip_cv_typedefs(Dwarf_Die die);
std::optional<uint64_t> die_byte_size(Dwarf_Die die);

}  // namespace vmc
