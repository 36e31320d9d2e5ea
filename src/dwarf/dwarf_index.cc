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

const std::vector<DwarfIndex::FnRange>& DwarfIndex::functions_of(Dwarf_Die cu) {
  Dwarf_Off key = dwarf_dieoffset(&cu);
  auto it = cu_functions_.find(key);
  if (it != cu_functions_.end()) return it->second;
  std::vector<FnRange> v;
  Dwarf_Die c;
  if (dwarf_child(&cu, &c) == 0) {
    do {
      if (dwarf_tag(&c) != DW_TAG_subprogram) continue;
      Dwarf_Addr base, start, end;
      ptrdiff_t p = 0;
      // A function may have several ranges (hot and .cold parts).
      while ((p = dwarf_ranges(&c, p, &base, &start, &end)) > 0)
        if (end > start) v.push_back({start, end, c});
    } while (dwarf_siblingof(&c, &c) == 0);
  }
  std::sort(v.begin(), v.end(), [](const FnRange& a, const FnRange& b) { return a.lo < b.lo; });
  return cu_functions_.emplace(key, std::move(v)).first->second;
}

std::vector<Dwarf_Die> DwarfIndex::function_scopes(uint64_t addr) {
  // Walked by hand: dwarf_getscopes continues from an inlined instance into
  // its abstract definition, not into the concrete function containing it.
  std::vector<Dwarf_Die> chain;
  auto cu = cu_for(addr);
  if (!cu) return chain;
  const auto& fns = functions_of(*cu);
  auto it = std::upper_bound(fns.begin(), fns.end(), addr, [](uint64_t a, const FnRange& r) { return a < r.lo; });
  std::optional<Dwarf_Die> fn;
  for (int k = 0; it != fns.begin() && k < 64; ++k) {
    --it;
    if (addr >= it->lo && addr < it->hi) {
      fn = it->die;
      break;
    }
  }
  if (!fn) return chain;
  chain.push_back(*fn);
  Dwarf_Die cur = *fn;
  for (int depth = 0; depth < 64; ++depth) {
    Dwarf_Die c;
    bool deeper = false;
    if (dwarf_child(&cur, &c) == 0) {
      do {
        int tag = dwarf_tag(&c);
        if ((tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine) && dwarf_haspc(&c, addr) == 1) {
          if (tag == DW_TAG_inlined_subroutine) chain.push_back(c);
          cur = c;
          deeper = true;
          break;
        }
      } while (dwarf_siblingof(&c, &c) == 0);
    }
    if (!deeper) break;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
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

namespace {

// Calls visit(d) for every DW_TAG_call_site / DW_TAG_GNU_call_site in
// `function`, depth-first through lexical blocks and inlined subroutines
// (call sites can sit in either), bounded; stops when visit returns true.
template <typename Visit>
void for_each_call_site(Dwarf_Die function, Visit visit) {
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
      if (visit(d)) return;
      continue;
    }
    if (tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine) {
      Dwarf_Die c;
      if (dwarf_child(&d, &c) == 0) stack.push_back(c);
    }
  }
}

}  // namespace

std::optional<Dwarf_Die> DwarfIndex::call_site(Dwarf_Die function, uint64_t return_pc) {
  std::optional<Dwarf_Die> found;
  for_each_call_site(function, [&](Dwarf_Die d) {
    Dwarf_Attribute a;
    Dwarf_Addr ret = 0;
    if ((dwarf_attr(&d, DW_AT_call_return_pc, &a) || dwarf_attr(&d, DW_AT_low_pc, &a)) &&
        dwarf_formaddr(&a, &ret) == 0 && ret == return_pc) {
      found = d;
      return true;
    }
    return false;
  });
  return found;
}

std::vector<Dwarf_Die> DwarfIndex::tail_call_sites(Dwarf_Die function) {
  std::vector<Dwarf_Die> out;
  for_each_call_site(function, [&](Dwarf_Die d) {
    bool tail = false;
    Dwarf_Attribute a;
    if ((dwarf_attr(&d, DW_AT_call_tail_call, &a) || dwarf_attr(&d, 0x2115 /* DW_AT_GNU_tail_call */, &a)) &&
        dwarf_formflag(&a, &tail) == 0 && tail)
      out.push_back(d);
    return false;
  });
  return out;
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
