// Per-image DWARF lookups by address: the CU containing an address (an
// index of CU ranges built once), the chain of function scopes at an
// address (inlined subroutines, then the subprogram), source lines, and
// the call site with a given return address. Addresses are image (DWARF)
// addresses: runtime minus the image's bias.
#pragma once

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "arch/base/result.h"

namespace vmc {

struct SourceLine {
  std::string file;
  int line = 0;
};

class DwarfIndex {
 public:
  explicit DwarfIndex(Dwarf* d) : dwarf_(d) {}
  // Builds the CU address index now (it is otherwise built on first use).
  void prepare() {
    if (!built_) build();
  }

  std::optional<Dwarf_Die> cu_for(uint64_t addr);
  // Function scopes containing addr, innermost first: DW_TAG_inlined_subroutine
  // DIEs, then the DW_TAG_subprogram (concrete instance).
  std::vector<Dwarf_Die> function_scopes(uint64_t addr);
  std::optional<SourceLine> line_for(uint64_t addr);
  // The DW_TAG_call_site / DW_TAG_GNU_call_site inside `function` (searched
  // through nested blocks and inlined subroutines, bounded) whose return
  // address is `return_pc`.
  std::optional<Dwarf_Die> call_site(Dwarf_Die function, uint64_t return_pc);
  // Every tail call site (DW_AT_call_tail_call / DW_AT_GNU_tail_call) in
  // `function`, searched the same way (bounded).
  std::vector<Dwarf_Die> tail_call_sites(Dwarf_Die function);

 private:
  void build();
  struct FnRange { uint64_t lo, hi; Dwarf_Die die; };
  const std::vector<FnRange>& functions_of(Dwarf_Die cu);
  Dwarf* dwarf_;
  bool built_ = false;
  struct CuRange { uint64_t lo, hi; Dwarf_Off cu_off; };
  std::vector<CuRange> ranges_;
  std::map<Dwarf_Off, std::vector<FnRange>> cu_functions_;  // by CU DIE offset, sorted by lo
};

// Name of a function/parameter DIE, following abstract_origin/specification.
std::string die_name(Dwarf_Die die);
// Follows DW_AT_abstract_origin / DW_AT_specification to the root DIE.
Dwarf_Die die_origin(Dwarf_Die die);
// Entry address (DW_AT_low_pc or first range) of a subprogram/inlined DIE.
std::optional<uint64_t> die_entry(Dwarf_Die die);

}  // namespace vmc
