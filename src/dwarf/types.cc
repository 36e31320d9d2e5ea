#include "dwarf/types.h"

#include <cstring>

namespace vmc {

namespace {
constexpr int kMaxTypeDepth = 32;  // typedef/qualifier chains and member nesting
}

Dwarf_Die strip_cv_typedefs(Dwarf_Die die) {
  for (int i = 0; i < kMaxTypeDepth; ++i) {
    int tag = dwarf_tag(&die);
    if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
        tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type)
      return die;
    Dwarf_Attribute a;
    Dwarf_Die next;
    if (!dwarf_attr_integrate(&die, DW_AT_type, &a) || !dwarf_formref_die(&a, &next)) return die;
    die = next;
  }
  return die;
}

std::optional<uint64_t> die_byte_size(Dwarf_Die die) {
  Dwarf_Die t = strip_cv_typedefs(die);
  Dwarf_Word w;
  Dwarf_Attribute a;
  if (dwarf_attr_integrate(&t, DW_AT_byte_size, &a) && dwarf_formudata(&a, &w) == 0) return w;
  if (dwarf_tag(&t) == DW_TAG_pointer_type) return std::nullopt;  // caller knows the pointer size
  if (dwarf_tag(&t) == DW_TAG_array_type) {
    Dwarf_Attribute ta;
    Dwarf_Die elem;
    if (!dwarf_attr_integrate(&t, DW_AT_type, &ta) || !dwarf_formref_die(&ta, &elem)) return std::nullopt;
    auto es = die_byte_size(elem);
    if (!es) return std::nullopt;
    uint64_t total = *es;
    Dwarf_Die sub;
    if (dwarf_child(&t, &sub) != 0) return std::nullopt;
    int n = 0;
    do {
      if (dwarf_tag(&sub) != DW_TAG_subrange_type) continue;
      Dwarf_Word count;
      if (dwarf_attr(&sub, DW_AT_count, &a) && dwarf_formudata(&a, &count) == 0) {
        total *= count;
      } else if (dwarf_attr(&sub, DW_AT_upper_bound, &a) && dwarf_formudata(&a, &count) == 0) {
        total *= count + 1;
      } else {
        return std::nullopt;
      }
    } while (dwarf_siblingof(&sub, &sub) == 0 && ++n < kMaxTypeDepth);
    return total;
  }
  return std::nullopt;
}

Result<Dwarf_Die> TypeIndex::find_type(const std::string& name, int tag) {
  if (!dwarf_) return make_error(Errc::kNotFound, "no DWARF to look up {}", name);
  auto key = std::make_pair(tag, name);
  if (auto it = found_.find(key); it != found_.end()) return it->second;
  // Continue the CU scan where the last lookup stopped.
  while (!exhausted_) {
    Dwarf_Off off = next_cu_, next;
    size_t hsize;
    Dwarf_Die cu;
    if (dwarf_nextcu(dwarf_, off, &next, &hsize, nullptr, nullptr, nullptr) != 0) {
      exhausted_ = true;
      break;
    }
    next_cu_ = next;
    if (!dwarf_offdie(dwarf_, off + hsize, &cu)) continue;
    Dwarf_Die child;
    if (dwarf_child(&cu, &child) != 0) continue;
    do {
      int t = dwarf_tag(&child);
      if (t != DW_TAG_structure_type && t != DW_TAG_union_type && t != DW_TAG_enumeration_type &&
          t != DW_TAG_typedef)
        continue;
      const char* n = dwarf_diename(&child);
      if (!n) continue;
      if (dwarf_hasattr(&child, DW_AT_declaration)) continue;
      found_.emplace(std::make_pair(t, std::string(n)), child);
    } while (dwarf_siblingof(&child, &child) == 0);
    if (auto it = found_.find(key); it != found_.end()) return it->second;
  }
  return make_error(Errc::kNotFound, "no definition of {} {} in the DWARF",
                    tag == DW_TAG_union_type ? "union" : tag == DW_TAG_enumeration_type ? "enum" :
                    tag == DW_TAG_typedef ? "typedef" : "struct", name);
}

Result<uint64_t> TypeIndex::struct_size(const std::string& name) {
  VMC_ASSIGN(Dwarf_Die d, find_type(name));
  auto s = die_byte_size(d);
  if (!s) return make_error(Errc::kBadData, "struct {} has no byte size", name);
  return *s;
}

Result<MemberInfo> TypeIndex::member(const std::string& name, const std::string& path) {
  VMC_ASSIGN(Dwarf_Die d, find_type(name));
  return member_of(d, path).context(fmt::format("struct {}", name));
}

namespace {

// Finds `name` among the members of `outer`, descending into anonymous
// struct/union members. Adds the offsets on the way.
bool find_member(Dwarf_Die outer, const std::string& name, uint64_t base, MemberInfo* out, int depth) {
  if (depth > kMaxTypeDepth) return false;
  Dwarf_Die m;
  if (dwarf_child(&outer, &m) != 0) return false;
  do {
    if (dwarf_tag(&m) != DW_TAG_member) continue;
    Dwarf_Word off = 0;
    Dwarf_Attribute a;
    if (dwarf_attr(&m, DW_AT_data_member_location, &a)) dwarf_formudata(&a, &off);
    const char* n = dwarf_diename(&m);
    Dwarf_Die type;
    bool has_type = dwarf_attr(&m, DW_AT_type, &a) && dwarf_formref_die(&a, &type);
    if (n && name == n) {
      out->offset = base + off;
      if (has_type) {
        out->type = strip_cv_typedefs(type);
        out->size = die_byte_size(type);
      }
      Dwarf_Word w;
      if (dwarf_attr(&m, DW_AT_bit_size, &a) && dwarf_formudata(&a, &w) == 0) out->bit_size = w;
      if (dwarf_attr(&m, DW_AT_data_bit_offset, &a) && dwarf_formudata(&a, &w) == 0) out->bit_offset = w;
      return true;
    }
    if (!n && has_type) {
      Dwarf_Die t = strip_cv_typedefs(type);
      int tag = dwarf_tag(&t);
      if ((tag == DW_TAG_structure_type || tag == DW_TAG_union_type) && find_member(t, name, base + off, out, depth + 1))
        return true;
    }
  } while (dwarf_siblingof(&m, &m) == 0);
  return false;
}

}  // namespace

Result<MemberInfo> TypeIndex::member_of(Dwarf_Die outer, const std::string& path) {
  MemberInfo cur;
  cur.type = strip_cv_typedefs(outer);
  uint64_t base = 0;
  size_t pos = 0;
  int depth = 0;
  while (pos <= path.size() && depth++ < kMaxTypeDepth) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    int tag = dwarf_tag(&cur.type);
    if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
      return make_error(Errc::kNotFound, "member path {}: {} is not a struct or union", path, part);
    MemberInfo next;
    if (!find_member(cur.type, part, base, &next, 0))
      return make_error(Errc::kNotFound, "no member {} (in path {})", part, path);
    cur = next;
    base = cur.offset;
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return cur;
}

}  // namespace vmc
