#include "dwarf/dwarf_index.h"

#include <algorithm>
#include <cstdlib>

namespace vmc {

namespace {
constexpr int kMaxOriginChain = 16;
constexpr size_t kMaxCallSiteSearch = 200000;  // DIEs visited per search
}  // namespace

void DwarfIndex::build() {
  built_ = true;
  if (!dwarf_) return;
  Dwarf_Off off = 0, next;
  size_t hsize;
  while (dwarf_nextcu(dwarf_, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die cu;
    if (dwarf_offdie(dwarf_, off + hsize, &cu)) {
      Dwarf_Addr base, start, end;
      ptrdiff_t p = 0;
      while ((p = dwarf_ranges(&cu, p, &base, &start, &end)) > 0)
        if (end > start) ranges_.push_back({start, end, off + hsize});
    }
    off = next;
  }
  std::sort(ranges_.begin(), ranges_.end(), [](const CuRange& a, const CuRange& b) { return a.lo < b.lo; });
}

std::optional<Dwarf_Die> DwarfIndex::cu_for(uint64_t addr) {
  if (!built_) build();
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr, [](uint64_t a, const CuRange& r) { return a < r.lo; });
  // Ranges of different CUs do not overlap in practice; check a few back.
  for (int k = 0; it != ranges_.begin() && k < 8; ++k) {
    --it;
    if (addr >= it->lo && addr < it->hi) {
      Dwarf_Die cu;
      if (dwarf_offdie(dwarf_, it->cu_off, &cu)) return cu;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::vector<Dwarf_Die> DwarfIndex::function_scopes(uint64_t addr) {
  std::vector<Dwarf_Die> out;
  auto cu = cu_for(addr);
  if (!cu) return out;
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes(&*cu, addr, &scopes);
  for (int i = 0; i < n; ++i) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) out.push_back(scopes[i]);
    if (tag == DW_TAG_subprogram) break;
  }
  free(scopes);
  return out;
}

std::optional<SourceLine> DwarfIndex::line_for(uint64_t addr) {
  auto cu = cu_for(addr);
  if (!cu) return std::nullopt;
  Dwarf_Line* l = dwarf_getsrc_die(&*cu, addr);
  if (!l) return std::nullopt;
  SourceLine sl;
  const char* f = dwarf_linesrc(l, nullptr, nullptr);
  if (f) sl.file = f;
  dwarf_lineno(l, &sl.line);
  return sl;
}

std::optional<Dwarf_Die> DwarfIndex::call_site(Dwarf_Die function, uint64_t return_pc) {
  // Depth-first through the function's subtree; call sites can sit in
  // lexical blocks and inlined subroutines.
  std::vector<Dwarf_Die> stack;
  Dwarf_Die child;
  if (dwarf_child(&function, &child) == 0) stack.push_back(child);
  size_t visited = 0;
  while (!stack.empty() && visited < kMaxCallSiteSearch) {
    Dwarf_Die d = stack.back();
    stack.pop_back();
    ++visited;
    Dwarf_Die sib;
    if (dwarf_siblingof(&d, &sib) == 0) stack.push_back(sib);
    int tag = dwarf_tag(&d);
    if (tag == DW_TAG_call_site || tag == DW_TAG_GNU_call_site) {
      Dwarf_Attribute a;
      Dwarf_Addr ret = 0;
      if ((dwarf_attr(&d, DW_AT_call_return_pc, &a) || dwarf_attr(&d, DW_AT_low_pc, &a)) &&
          dwarf_formaddr(&a, &ret) == 0 && ret == return_pc)
        return d;
      continue;
    }
    if (tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine) {
      Dwarf_Die c;
      if (dwarf_child(&d, &c) == 0) stack.push_back(c);
    }
  }
  return std::nullopt;
}

Dwarf_Die die_origin(Dwarf_Die die) {
  for (int i = 0; i < kMaxOriginChain; ++i) {
    Dwarf_Attribute a;
    Dwarf_Die next;
    if ((dwarf_attr(&die, DW_AT_abstract_origin, &a) || dwarf_attr(&die, DW_AT_specification, &a)) &&
        dwarf_formref_die(&a, &next)) {
      die = next;
      continue;
    }
    break;
  }
  return die;
}

std::string die_name(Dwarf_Die die) {
  Dwarf_Attribute a;
  if (dwarf_attr_integrate(&die, DW_AT_name, &a)) {
    const char* s = dwarf_formstring(&a);
    if (s) return s;
  }
  return {};
}

std::optional<uint64_t> die_entry(Dwarf_Die die) {
  Dwarf_Addr a;
  if (dwarf_entrypc(&die, &a) == 0) return a;
  if (dwarf_lowpc(&die, &a) == 0) return a;
  return std::nullopt;
}

}  // namespace vmc
